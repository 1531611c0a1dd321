/**
 * The balancer's views from its workers' reports (pure): `/lb/stats` with the primary's own decisions
 * (weights, drain, health verdicts) and the workers' counts, latencies and circuits summed; the request
 * history as the newest requests of all workers together. Latency percentiles are merged from the
 * workers' histograms, never averaged from their percentiles.
 */
import type { CircuitState, HistoryEntry, ServerSnapshot, StatsSnapshot, StatsTotals, WorkerSnapshot } from '../../shared/api-types.js';
import { round } from '../../shared/round.js';
import { LatencyHistogram } from '../latency-histogram.js';
import type { WorkerReport } from './messages.js';

const CIRCUIT_SEVERITY: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

/** The counters of StatsTotals that add up across workers (errorRate and status are derived). */
const SUMMED_TOTALS = [
  'requests',
  'successes',
  'failures',
  'activeRequests',
  'retries',
  'noServerAvailable',
  'upstreamTimeouts',
  'upstreamErrors',
  'clientAborts',
  'retriesSkipped',
  'queued',
  'queueTimeouts',
  'queueLength',
  'badRequests',
  'rateLimited',
  'internalErrors',
  'connectionsRejected',
] as const satisfies readonly (keyof StatsTotals)[];

export function mergeStats(primary: StatsSnapshot, reports: readonly WorkerReport[], workers: WorkerSnapshot[]): StatsSnapshot {
  const totals: StatsTotals = { ...primary.totals, status: { ...primary.totals.status } };
  for (const key of SUMMED_TOTALS) totals[key] = 0;
  for (const { snapshot } of reports) {
    for (const key of SUMMED_TOTALS) totals[key] += snapshot.totals[key];
    for (const cls of Object.keys(totals.status) as (keyof StatsTotals['status'])[]) totals.status[cls] += snapshot.totals.status[cls];
  }
  totals.errorRate = totals.requests === 0 ? 0 : totals.failures / totals.requests;
  const sessions = { ...primary.sessions, active: 0, capacity: 0 };
  let rateLimitClients = 0;
  for (const { snapshot } of reports) {
    sessions.active += snapshot.sessions.active;
    sessions.capacity += snapshot.sessions.capacity;
    rateLimitClients += snapshot.limits.rateLimitClients;
  }
  return {
    ...primary,
    totals,
    sessions,
    limits: { ...primary.limits, rateLimitClients },
    servers: primary.servers.map((server) => mergeServer(server, reports)),
    workers,
  };
}

function mergeServer(base: ServerSnapshot, reports: readonly WorkerReport[]): ServerSnapshot {
  const total = new LatencyHistogram();
  const recent = new LatencyHistogram();
  const merged: ServerSnapshot = { ...base, activeRequests: 0, totalRequests: 0, totalSuccesses: 0, totalFailures: 0, counterUnderflows: 0, lastError: null, circuit: 'closed', circuitFailures: 0 };
  let measured = 0;
  let ewma = 0;
  let score = 0;
  let effectiveWeight = 0;
  let seen = 0;
  for (const report of reports) {
    const part = report.snapshot.servers.find((s) => s.id === base.id);
    if (part === undefined) continue;
    seen += 1;
    merged.activeRequests += part.activeRequests;
    merged.totalRequests += part.totalRequests;
    merged.totalSuccesses += part.totalSuccesses;
    merged.totalFailures += part.totalFailures;
    merged.counterUnderflows += part.counterUnderflows;
    merged.lastError ??= part.lastError;
    if (CIRCUIT_SEVERITY[part.circuit] > CIRCUIT_SEVERITY[merged.circuit]) merged.circuit = part.circuit;
    merged.circuitFailures = Math.max(merged.circuitFailures, part.circuitFailures);
    effectiveWeight += part.effectiveWeight;
    if (part.totalRequests > 0) {
      measured += 1;
      ewma += part.ewmaLatencyMs;
      score += part.latencyScoreMs;
    }
    const latency = report.latency.get(base.id);
    if (latency !== undefined) {
      total.absorb(latency.total);
      recent.absorb(latency.recent);
    }
  }
  const finished = merged.totalSuccesses + merged.totalFailures;
  merged.errorRate = finished === 0 ? 0 : merged.totalFailures / finished;
  merged.avgResponseTimeMs = round(total.meanMs);
  merged.p50ResponseTimeMs = round(total.percentileMs(50));
  merged.p99ResponseTimeMs = round(total.percentileMs(99));
  merged.recentRequests = recent.count;
  merged.recentAvgResponseTimeMs = round(recent.meanMs);
  merged.recentP99ResponseTimeMs = round(recent.percentileMs(99));
  merged.ewmaLatencyMs = measured === 0 ? 0 : round(ewma / measured);
  merged.latencyScoreMs = measured === 0 ? 0 : round(score / measured);
  if (seen > 0) merged.effectiveWeight = round(effectiveWeight / seen);
  merged.state = mergedState(base, merged);
  return merged;
}

/** The primary decides drain and health; whether a drained server is empty, or ejected, the workers know. */
function mergedState(base: ServerSnapshot, merged: ServerSnapshot): ServerSnapshot['state'] {
  if (base.state === 'draining' || base.state === 'drained') return merged.activeRequests > 0 ? 'draining' : 'drained';
  if (base.state === 'up' && merged.circuit !== 'closed') return 'ejected';
  return base.state;
}

/** The newest `capacity` requests of all workers, oldest first. */
export function mergeHistory(reports: readonly WorkerReport[], capacity: number): HistoryEntry[] {
  const all = reports.flatMap((r) => r.history);
  all.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  return all.slice(-capacity);
}
