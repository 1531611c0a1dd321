/**
 * Balancer-wide counters, the recent-request history and the recent state-change events. The history is
 * a fixed ring of preallocated entries (100 by default), overwritten in place, so recording a request
 * allocates nothing; events are rare and kept in a list of the same bound.
 */
import type { LbErrorCode } from '../shared/errors.js';
import type { RequestOutcome } from './outcome.js';
import { clientAddressOf, connectionSucceeded, type ConnectionOutcome } from './tcp/connection-outcome.js';
import type { BalancerEvent, HistoryEntry, HistoryResponse, StatsTotals, StatusClassCounts } from '../shared/api-types.js';
import { round } from '../shared/round.js';

export const HISTORY_CAPACITY = 100;

interface HistorySlot {
  timeMs: number;
  method: string;
  path: string;
  server: string | null;
  status: number;
  durationMs: number;
  retries: number;
  error: string | null;
  /** tcp mode: bytes client -> server and server -> client; -1 for an HTTP request. */
  bytesIn: number;
  bytesOut: number;
}

/** Longer paths are cut in the history: it is for eyes, and a bound keeps the ring's memory bounded. */
const MAX_HISTORY_PATH = 256;

/**
 * Counters kept as plain numbers: most are derived from outcomes, a few are counted where they happen.
 * Their meaning is the admin API's (StatsTotals), which documents each one.
 */
export type StatsCounters = Pick<
  StatsTotals,
  | 'requests'
  | 'successes'
  | 'failures'
  | 'retries'
  | 'noServerAvailable'
  | 'upstreamTimeouts'
  | 'upstreamErrors'
  | 'clientAborts'
  | 'retriesSkipped'
  | 'queued'
  | 'queueTimeouts'
  | 'badRequests'
  | 'internalErrors'
  | 'connectionsRejected'
>;

/** Which counter an outcome's error adds to. */
const COUNTER_OF_ERROR: Partial<Record<LbErrorCode, keyof StatsCounters>> = {
  LB_NO_AVAILABLE_SERVER: 'noServerAvailable',
  LB_QUEUE_TIMEOUT: 'queueTimeouts',
  LB_UPSTREAM_TIMEOUT: 'upstreamTimeouts',
  LB_UPSTREAM_ERROR: 'upstreamErrors',
  LB_UPSTREAM_CONNECT: 'upstreamErrors',
  LB_UPSTREAM_BAD_RESPONSE: 'upstreamErrors',
  LB_CLIENT_GONE: 'clientAborts',
  LB_BAD_REQUEST: 'badRequests',
  LB_HEADERS_TOO_LARGE: 'badRequests',
  LB_HTTP_VERSION: 'badRequests',
  LB_METHOD_NOT_ALLOWED: 'badRequests',
  LB_CLIENT_TIMEOUT: 'clientAborts',
};

const zeroCounters = (): StatsCounters => ({
  requests: 0,
  successes: 0,
  failures: 0,
  retries: 0,
  noServerAvailable: 0,
  upstreamTimeouts: 0,
  upstreamErrors: 0,
  clientAborts: 0,
  retriesSkipped: 0,
  queued: 0,
  queueTimeouts: 0,
  badRequests: 0,
  internalErrors: 0,
  connectionsRejected: 0,
});

export class BalancerStats {
  #counters = zeroCounters();
  readonly #events: BalancerEvent[] = [];
  readonly #status: [number, number, number, number, number] = [0, 0, 0, 0, 0];
  readonly #ring: HistorySlot[];
  #ringNext = 0;
  #ringSize = 0;

  constructor(readonly historyCapacity = HISTORY_CAPACITY) {
    this.#ring = Array.from({ length: historyCapacity }, () => ({
      timeMs: 0,
      method: '',
      path: '',
      server: null,
      status: 0,
      durationMs: 0,
      retries: 0,
      error: null,
      bytesIn: -1,
      bytesOut: -1,
    }));
  }

  /** A read-only view of the counters. */
  get counters(): Readonly<StatsCounters> {
    return this.#counters;
  }

  /** Something counted where it happens rather than from an outcome (a refused retry, a rejected connection). */
  count(name: 'retriesSkipped' | 'internalErrors' | 'connectionsRejected'): void {
    this.#counters[name] += 1;
  }

  /** One finished client request, whatever its outcome: the stats sink of the outcome stream. */
  record(outcome: RequestOutcome): void {
    const c = this.#counters;
    const { status, error } = outcome;
    c.requests += 1;
    if (status >= 500 || status === 0) c.failures += 1;
    else c.successes += 1;
    if (outcome.attempts > 1) c.retries += outcome.attempts - 1;
    if (outcome.queued) c.queued += 1;
    if (error !== null) {
      const counter = COUNTER_OF_ERROR[error];
      if (counter !== undefined) c[counter] += 1;
    }
    const statusClass = Math.floor(status / 100) - 1;
    if (statusClass >= 0 && statusClass < 5) this.#status[statusClass as 0 | 1 | 2 | 3 | 4] += 1;
    if (this.historyCapacity === 0) return;
    const slot = this.#ring[this.#ringNext]!;
    slot.timeMs = Date.now();
    slot.method = outcome.method;
    slot.path = outcome.path.length > MAX_HISTORY_PATH ? outcome.path.slice(0, MAX_HISTORY_PATH) : outcome.path;
    slot.server = outcome.server?.id ?? null;
    slot.status = status;
    slot.durationMs = outcome.durationMs;
    slot.retries = outcome.attempts > 1 ? outcome.attempts - 1 : 0;
    slot.error = error;
    slot.bytesIn = -1;
    slot.bytesOut = -1;
    this.#ringNext = (this.#ringNext + 1) % this.historyCapacity;
    if (this.#ringSize < this.historyCapacity) this.#ringSize += 1;
  }

  /**
   * One finished client connection in tcp mode: counted as a request (requests, successes, failures keep
   * their meaning per connection), and listed in the history as `TCP <client>`.
   */
  recordConnection(outcome: ConnectionOutcome): void {
    const c = this.#counters;
    const { error } = outcome;
    c.requests += 1;
    if (connectionSucceeded(error)) c.successes += 1;
    else c.failures += 1;
    if (outcome.attempts > 1) c.retries += outcome.attempts - 1;
    if (error !== null) {
      const counter = COUNTER_OF_ERROR[error];
      if (counter !== undefined) c[counter] += 1;
    }
    if (this.historyCapacity === 0) return;
    const slot = this.#ring[this.#ringNext]!;
    slot.timeMs = Date.now();
    slot.method = 'TCP';
    slot.path = clientAddressOf(outcome);
    slot.server = outcome.server?.id ?? null;
    slot.status = 0;
    slot.durationMs = outcome.durationMs;
    slot.retries = outcome.attempts > 1 ? outcome.attempts - 1 : 0;
    slot.error = error;
    slot.bytesIn = outcome.bytesIn;
    slot.bytesOut = outcome.bytesOut;
    this.#ringNext = (this.#ringNext + 1) % this.historyCapacity;
    if (this.#ringSize < this.historyCapacity) this.#ringSize += 1;
  }

  /** `GET /lb/history`'s body: the requests (or connections) and the events after `since`. */
  historyResponse(since?: number): HistoryResponse {
    return { capacity: this.historyCapacity, requests: this.history(), events: this.events(since), lastEventId: this.lastEventId };
  }

  /** Oldest first. */
  history(): HistoryEntry[] {
    const out: HistoryEntry[] = [];
    const start = (this.#ringNext - this.#ringSize + this.historyCapacity) % Math.max(1, this.historyCapacity);
    for (let i = 0; i < this.#ringSize; i++) {
      const slot = this.#ring[(start + i) % this.historyCapacity]!;
      out.push({
        time: new Date(slot.timeMs).toISOString(),
        method: slot.method,
        path: slot.path,
        server: slot.server,
        status: slot.status,
        durationMs: round(slot.durationMs),
        retries: slot.retries,
        error: slot.error,
        ...(slot.bytesIn >= 0 ? { bytesIn: slot.bytesIn, bytesOut: slot.bytesOut } : {}),
      });
    }
    return out;
  }

  /** One change from the control plane's stream (already numbered there). */
  recordEvent(event: BalancerEvent): void {
    this.#events.push(event);
    if (this.#events.length > this.historyCapacity) this.#events.shift();
  }

  /** Oldest first; with `since`, only events with a greater id. */
  events(since = 0): BalancerEvent[] {
    return since <= 0 ? [...this.#events] : this.#events.filter((e) => e.id > since);
  }

  get lastEventId(): number {
    return this.#events.at(-1)?.id ?? 0;
  }

  totals(activeRequests: number, queueLength: number, rateLimited: number): StatsTotals {
    const [s1, s2, s3, s4, s5] = this.#status;
    const status: StatusClassCounts = { '1xx': s1, '2xx': s2, '3xx': s3, '4xx': s4, '5xx': s5 };
    const c = this.#counters;
    return {
      ...c,
      errorRate: c.requests === 0 ? 0 : c.failures / c.requests,
      activeRequests,
      queueLength,
      rateLimited,
      status,
    };
  }

  reset(): void {
    this.#counters = zeroCounters();
    this.#status.fill(0);
    this.#ringNext = 0;
    this.#ringSize = 0;
  }
}
