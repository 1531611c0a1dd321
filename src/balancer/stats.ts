/**
 * Balancer-wide counters, the recent-request history and the recent state-change events. The history is
 * a fixed ring of preallocated entries (100 by default), overwritten in place, so recording a request
 * allocates nothing; events are rare and kept in a list of the same bound.
 */
import type { BalancerEvent, HistoryEntry, StatsTotals, StatusClassCounts } from '../shared/api-types.js';
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
}

/** Longer paths are cut in the history: it is for eyes, and a bound keeps the ring's memory bounded. */
const MAX_HISTORY_PATH = 256;

export class BalancerStats {
  requests = 0;
  successes = 0;
  failures = 0;
  retries = 0;
  noServerAvailable = 0;
  upstreamTimeouts = 0;
  upstreamErrors = 0;
  clientAborts = 0;
  retriesSkipped = 0;
  queued = 0;
  queueTimeouts = 0;
  /** Requests lb refused at the front as not forwardable (400, 431). */
  badRequests = 0;
  /** Bugs caught on the traffic path (each cost one request a 502). */
  internalErrors = 0;
  /** Connections closed at once: their client already had its max_conns_per_client open. */
  connectionsRejected = 0;
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
    }));
  }

  /** One finished client request, whatever its outcome. */
  record(
    method: string,
    path: string,
    server: string | null,
    status: number,
    durationMs: number,
    retries: number,
    error: string | null,
  ): void {
    this.requests += 1;
    if (status >= 500 || status === 0) this.failures += 1;
    else this.successes += 1;
    const statusClass = Math.floor(status / 100) - 1;
    if (statusClass >= 0 && statusClass < 5) this.#status[statusClass as 0 | 1 | 2 | 3 | 4] += 1;
    if (this.historyCapacity === 0) return;
    const slot = this.#ring[this.#ringNext]!;
    slot.timeMs = Date.now();
    slot.method = method;
    slot.path = path.length > MAX_HISTORY_PATH ? path.slice(0, MAX_HISTORY_PATH) : path;
    slot.server = server;
    slot.status = status;
    slot.durationMs = durationMs;
    slot.retries = retries;
    slot.error = error;
    this.#ringNext = (this.#ringNext + 1) % this.historyCapacity;
    if (this.#ringSize < this.historyCapacity) this.#ringSize += 1;
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
    return {
      requests: this.requests,
      successes: this.successes,
      failures: this.failures,
      errorRate: this.requests === 0 ? 0 : this.failures / this.requests,
      activeRequests,
      retries: this.retries,
      noServerAvailable: this.noServerAvailable,
      upstreamTimeouts: this.upstreamTimeouts,
      upstreamErrors: this.upstreamErrors,
      clientAborts: this.clientAborts,
      retriesSkipped: this.retriesSkipped,
      queued: this.queued,
      queueTimeouts: this.queueTimeouts,
      queueLength,
      badRequests: this.badRequests,
      rateLimited,
      internalErrors: this.internalErrors,
      connectionsRejected: this.connectionsRejected,
      status,
    };
  }

  reset(): void {
    this.requests = 0;
    this.successes = 0;
    this.failures = 0;
    this.retries = 0;
    this.noServerAvailable = 0;
    this.upstreamTimeouts = 0;
    this.upstreamErrors = 0;
    this.clientAborts = 0;
    this.retriesSkipped = 0;
    this.queued = 0;
    this.queueTimeouts = 0;
    this.badRequests = 0;
    this.internalErrors = 0;
    this.connectionsRejected = 0;
    this.#status.fill(0);
    this.#ringNext = 0;
    this.#ringSize = 0;
  }
}
