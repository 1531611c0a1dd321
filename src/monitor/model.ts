/**
 * The monitor's state, pure: snapshots and poll failures go in with the time they happened, rates and
 * bounded series come out. Rates are counter deltas over the time between snapshots (src/shared/rates.ts,
 * as the web page computes them: a counter that goes down counts as zero, never negative). The log
 * shows the balancer's own events (its one stream of changes), never guesses from snapshot diffs.
 * Nothing here reads a clock or does I/O.
 */
import type { BalancerEvent, BalancerEventType, ServerSnapshot, StatsSnapshot } from '../shared/api-types.js';
import { MAX_WEIGHT } from '../shared/limits.js';
import { counterDelta, counterRate, shareOf, totalsRates } from '../shared/rates.js';

/** Events that mean a server was lost or a protection could not act. */
const WARN_EVENTS: ReadonlySet<BalancerEventType> = new Set(['server-down', 'circuit-open', 'ejection-refused']);

/** Samples kept per series: ~1 minute at the default interval. */
export const SERIES_LENGTH = 60;
/** Event log lines kept. */
export const LOG_LENGTH = 200;

export type ConnectionStatus = 'connecting' | 'live' | 'stale' | 'disconnected';

export interface ServerRates {
  /** Requests per second over the last interval. */
  rps: number;
  /** Failures / finished over the last interval, 0..1 (0 when nothing finished). */
  recentErrorRate: number;
  /** req/s history, oldest first, at most SERIES_LENGTH. */
  series: number[];
}

export interface LogLine {
  atMs: number;
  text: string;
  level: 'info' | 'warn' | 'error';
}

export class MonitorModel {
  snapshot: StatsSnapshot | null = null;
  status: ConnectionStatus = 'connecting';
  /** When the status last changed, ms. */
  statusSinceMs: number;
  lastError: string | null = null;
  lastSnapshotAtMs: number | null = null;
  readonly rates = new Map<string, ServerRates>();
  totalRps = 0;
  errorsPerSecond = 0;
  recentErrorRate = 0;
  readonly totalSeries: number[] = [];
  readonly errorSeries: number[] = [];
  readonly log: LogLine[] = [];
  #previous: { atMs: number; snapshot: StatsSnapshot } | null = null;

  constructor(nowMs: number) {
    this.statusSinceMs = nowMs;
  }

  /** The balancer's events since the last poll, each one log line at the time it happened. */
  applyEvents(events: readonly BalancerEvent[]): void {
    for (const e of events) {
      const at = Date.parse(e.time);
      this.addLog(Number.isNaN(at) ? 0 : at, `${e.server ?? 'balancer'}: ${e.type}${e.detail ? ` (${e.detail})` : ''}`, WARN_EVENTS.has(e.type) ? 'warn' : 'info');
    }
  }

  applySnapshot(snapshot: StatsSnapshot, atMs: number): void {
    const previous = this.#previous;
    if (previous !== null && snapshot.uptimeSeconds < previous.snapshot.uptimeSeconds) this.addLog(atMs, 'balancer restarted: counters start again', 'warn');
    if (this.status !== 'live') {
      if (this.status !== 'connecting') this.addLog(atMs, `connected again to ${snapshot.url}`, 'info');
      this.#setStatus('live', atMs);
    }
    this.lastError = null;
    const seconds = previous === null ? 0 : (atMs - previous.atMs) / 1000;
    const before = new Map(previous?.snapshot.servers.map((s) => [s.id, s]));
    for (const server of snapshot.servers) {
      const old = before.get(server.id);
      const entry = this.rates.get(server.id) ?? { rps: 0, recentErrorRate: 0, series: [] };
      entry.rps = old === undefined ? 0 : counterRate(server.totalRequests, old.totalRequests, seconds);
      const finished = old === undefined ? 0 : counterDelta(finishedOf(server), finishedOf(old));
      const failed = old === undefined ? 0 : counterDelta(server.totalFailures, old.totalFailures);
      entry.recentErrorRate = shareOf(failed, finished);
      push(entry.series, entry.rps);
      this.rates.set(server.id, entry);
    }
    for (const id of this.rates.keys()) if (!snapshot.servers.some((s) => s.id === id)) this.rates.delete(id);
    const totals = totalsRates(snapshot.totals, previous?.snapshot.totals ?? null, seconds);
    this.totalRps = totals.requestsPerSecond;
    this.errorsPerSecond = totals.failuresPerSecond;
    this.recentErrorRate = totals.errorRate;
    push(this.totalSeries, this.totalRps);
    push(this.errorSeries, this.errorsPerSecond);
    this.snapshot = snapshot;
    this.lastSnapshotAtMs = atMs;
    this.#previous = { atMs, snapshot };
  }

  /** A poll failed. The last snapshot stays on screen, marked stale, then disconnected. */
  applyError(message: string, atMs: number): void {
    if (this.lastError !== message) this.addLog(atMs, `monitor: ${message}`, 'error');
    this.lastError = message;
    this.#setStatus(this.snapshot === null ? 'disconnected' : this.status === 'live' ? 'stale' : this.status, atMs);
  }

  /** No successful poll for this long turns "stale" into "disconnected". */
  markDisconnectedAfter(timeoutMs: number, nowMs: number): void {
    if (this.status === 'stale' && this.lastSnapshotAtMs !== null && nowMs - this.lastSnapshotAtMs >= timeoutMs) {
      this.#setStatus('disconnected', nowMs);
    }
  }

  addLog(atMs: number, text: string, level: LogLine['level'] = 'info'): void {
    this.log.push({ atMs, text, level });
    if (this.log.length > LOG_LENGTH) this.log.shift();
  }

  #setStatus(status: ConnectionStatus, atMs: number): void {
    if (status === this.status) return;
    this.status = status;
    this.statusSinceMs = atMs;
  }
}

function finishedOf(s: ServerSnapshot): number {
  return s.totalSuccesses + s.totalFailures;
}

function push(series: number[], value: number): void {
  series.push(value);
  if (series.length > SERIES_LENGTH) series.shift();
}

/** `host:port[:weight]` as typed in the add prompt; an error message instead of a throw. */
export function parseServerInput(text: string): { host: string; port: number; weight?: number } | { error: string } {
  const trimmed = text.trim();
  const match = /^(\[[^\]]+\]|[^\s:/]+):(\d{1,5})(?::(\d{1,4}))?$/.exec(trimmed);
  if (match === null) return { error: `expected host:port or host:port:weight, got ${JSON.stringify(trimmed)}` };
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return { error: `port must be 1-65535, got ${port}` };
  const host = match[1]!.replace(/^\[|\]$/g, '');
  if (match[3] === undefined) return { host, port };
  const weight = Number(match[3]);
  if (weight < 1 || weight > MAX_WEIGHT) return { error: `weight must be 1-${MAX_WEIGHT}, got ${weight}` };
  return { host, port, weight };
}
