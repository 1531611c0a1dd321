/**
 * What the web page writes, pure: API answers in, the texts of the overview cards, table cells, event
 * lines and test reports out, formatted by the helpers `lb monitor` uses (src/shared/format.ts). The
 * DOM code in app.ts only copies these into elements, as text; this is where test/web/view.test.ts aims.
 */
import type { BalancerEvent, ClusterInstance, ClusterView, LoadTestStatus, ServerSnapshot, StatsSnapshot } from '../shared/api-types.js';
import { formatDuration, formatNumber, formatPercent } from '../shared/format.js';
import { counterRate, type TotalsRates } from '../shared/rates.js';

/** The overview cards, by the id suffix of their value element in index.html (`ov-<key>`). */
export interface OverviewText {
  algorithm: string;
  servers: string;
  rps: string;
  errors: string;
  active: string;
  total: string;
  sessions: string;
  limited: string;
  uptime: string;
  /** Processes proxying traffic: 1, or `--workers N`'s count (with how many are restarting). */
  workers: string;
}

/** Megabytes, one decimal below 100. */
const megabytes = (bytes: number): string => formatNumber(bytes / 1e6, bytes < 1e8 ? 1 : 0);

export function overviewText(stats: StatsSnapshot, rates: TotalsRates): OverviewText {
  const { totals, limits } = stats;
  const tcp = stats.mode === 'tcp';
  return {
    algorithm: stats.algorithm,
    servers: `${stats.servers.filter((s) => s.state === 'up').length} / ${stats.servers.length}`,
    rps: formatNumber(rates.requestsPerSecond, 1),
    errors: formatPercent(rates.errorRate),
    active: String(totals.activeRequests),
    total: String(totals.requests),
    // In tcp mode the same cards speak of connections (index.html's data-tcp labels): bytes instead of
    // sessions, connections refused at max_connections instead of rate-limited requests.
    sessions: tcp
      ? `${megabytes(totals.bytesIn ?? 0)} / ${megabytes(totals.bytesOut ?? 0)}`
      : stats.sessions.mode === 'off'
        ? 'off'
        : String(stats.sessions.active),
    // A count of refusals means something only while a rate limit is on.
    limited: tcp ? String(totals.connectionsRejected) : limits.rateLimitPerSecond > 0 ? `${totals.rateLimited} (${limits.rateLimitPerSecond}/s)` : 'off',
    uptime: formatDuration(stats.uptimeSeconds),
    workers: workersText(stats),
  };
}

function workersText(stats: StatsSnapshot): string {
  const workers = stats.workers ?? [];
  if (workers.length === 0) return '1';
  const notUp = workers.filter((w) => w.state !== 'up').length;
  return notUp > 0 ? `${workers.length} (${notUp} starting)` : String(workers.length);
}

/** A column of the servers table: its header, a tooltip when the header needs one, and its cell. */
export interface ServerColumn {
  header: string;
  title?: string;
  /** `rps`: the server's requests per second over the last poll interval, null before two polls saw it. */
  cell(s: ServerSnapshot, rps: number | null): string;
  /** tcp mode's header, title or cell where they differ (requests are connections, latency connect time). */
  tcp?: Partial<Omit<ServerColumn, 'tcp'>>;
}

export type BalancerMode = NonNullable<StatsSnapshot['mode']>;

/**
 * The servers table's text columns, in order; app.ts builds the header row from these (and adds
 * Actions, the last), so a header and its cell cannot drift apart. Req/s sits beside Active as in
 * `lb monitor`'s table.
 */
export const SERVER_COLUMNS: readonly ServerColumn[] = [
  { header: 'Server', cell: (s) => s.id },
  { header: 'State', cell: (s) => s.state },
  { header: 'Active', cell: (s) => String(s.activeRequests), tcp: { header: 'Open' } },
  { header: 'Req/s', title: 'over the last refresh interval', cell: (_, rps) => (rps === null ? '-' : formatNumber(rps, 1)), tcp: { header: 'Conn/s' } },
  { header: 'Requests', cell: (s) => String(s.totalRequests), tcp: { header: 'Connections' } },
  { header: 'Errors', cell: (s) => String(s.totalFailures), tcp: { header: 'Failed' } },
  { header: 'Err %', cell: (s) => formatPercent(s.errorRate), tcp: { header: 'Fail %' } },
  { header: 'Avg ms', title: 'last minute', cell: (s) => formatNumber(s.recentAvgResponseTimeMs, 1), tcp: { header: 'Connect ms', title: 'mean connect time, last minute' } },
  { header: 'P99 ms', title: 'last minute', cell: (s) => formatNumber(s.recentP99ResponseTimeMs, 1), tcp: { header: 'MB in / out', title: 'bytes forwarded to the server / back to clients', cell: (s) => `${megabytes(s.bytesIn ?? 0)} / ${megabytes(s.bytesOut ?? 0)}` } },
  { header: 'Score', title: "least_response_time's cost: latency x (active + 1)", cell: (s) => formatNumber(s.latencyScoreMs, 1), tcp: { title: "least_response_time's cost: connect time x (open + 1)" } },
  { header: 'Weight', cell: (s) => (s.effectiveWeight < s.weight ? `${formatNumber(s.effectiveWeight, 1)} of ${s.weight}` : String(s.weight)) },
  { header: 'Circuit', cell: (s) => s.circuit },
];

/** The columns as a mode shows them. */
export function serverColumns(mode: BalancerMode): ServerColumn[] {
  return SERVER_COLUMNS.map((c) => (mode === 'tcp' && c.tcp !== undefined ? { ...c, ...c.tcp } : c));
}

/** The servers table's text cells, in the order of SERVER_COLUMNS. */
export function serverCells(s: ServerSnapshot, rps: number | null, mode: BalancerMode = 'http'): string[] {
  return serverColumns(mode).map((column) => column.cell(s, rps));
}

/**
 * Each server's requests per second between two polls `seconds` apart, counted as `lb monitor` counts
 * them (src/shared/rates.ts: a counter that went down reads 0). null for a server the earlier poll did
 * not list, and for every server without an earlier poll: no rate is known yet, and 0 would claim one.
 */
export function serverRequestRates(now: readonly ServerSnapshot[], before: readonly ServerSnapshot[] | null, seconds: number): Map<string, number | null> {
  const earlier = new Map(before?.map((s) => [s.id, s.totalRequests]));
  return new Map(
    now.map((s) => {
      const old = earlier.get(s.id);
      return [s.id, old === undefined ? null : counterRate(s.totalRequests, old, seconds)];
    }),
  );
}

/** The instances table of a cluster (`lb serve --store`): header and cell, one place (as SERVER_COLUMNS). */
export const INSTANCE_COLUMNS: ReadonlyArray<{ header: string; title?: string; cell(i: ClusterInstance): string }> = [
  { header: 'Instance', cell: (i) => (i.self ? `${i.id} (this one)` : i.id) },
  { header: 'Traffic URL', cell: (i) => i.url },
  { header: 'Admin URL', title: 'drive the cluster through any instance: a change on one reaches all', cell: (i) => i.adminUrl },
  { header: 'Req/s', title: 'over its last second', cell: (i) => formatNumber(i.requestsPerSecond, 1) },
  { header: 'Requests', cell: (i) => String(i.requests) },
  { header: 'Errors', cell: (i) => String(i.failures) },
  { header: 'Config', title: 'shared configuration version it runs', cell: (i) => i.configVersion },
  { header: 'Uptime', cell: (i) => formatDuration(i.uptimeSeconds) },
  { header: 'Sees down', title: 'servers its own health checks see down', cell: (i) => (i.serversDown.length === 0 ? '-' : i.serversDown.join(', ')) },
];

export function instanceCells(i: ClusterInstance): string[] {
  return INSTANCE_COLUMNS.map((column) => column.cell(i));
}

/** The instances panel's line: the cluster, how many instances, their req/s together, the store. */
export function clusterSummary(cluster: ClusterView): string {
  const store = cluster.connected ? 'store connected' : 'store unreachable: changes refused, serving on the last state';
  return `cluster ${cluster.cluster} · ${cluster.totals.instances} instance${cluster.totals.instances === 1 ? '' : 's'} · ${formatNumber(cluster.totals.requestsPerSecond, 1)} req/s together · ${store}`;
}

/** Draining or drained: the row's button offers to undrain. */
export function isDraining(s: ServerSnapshot): boolean {
  return s.state === 'draining' || s.state === 'drained';
}

/** Each server's share of all requests so far, 0..1, for the distribution bars. */
export function distribution(servers: readonly ServerSnapshot[]): Array<{ id: string; share: number }> {
  const total = servers.reduce((n, s) => n + s.totalRequests, 0);
  return servers.map((s) => ({ id: s.id, share: total === 0 ? 0 : s.totalRequests / total }));
}

/** What makes an event the same one when a later poll lists it again. */
export function eventKey(e: BalancerEvent): string {
  return `${e.time}|${e.type}|${e.server}|${e.detail}`;
}

/** `12:34:56  server-down s1: 3 failed checks`: the time of day (UTC), the type, the server, the detail. */
export function eventLine(e: BalancerEvent): string {
  return `${e.time.slice(11, 19)}  ${e.type}${e.server ? ` ${e.server}` : ''}${e.detail ? `: ${e.detail}` : ''}`;
}

/** A running test's progress bar (0..1) and line; null before its first progress report. */
export function testProgress(status: LoadTestStatus): { value: number; text: string } | null {
  const p = status.progress;
  if (p === null) return null;
  const value = p.total ? p.done / p.total : p.durationMs ? Math.min(1, p.elapsedMs / p.durationMs) : 0;
  if (!status.running) return { value, text: '' };
  const where = p.total ? `${p.done}/${p.total}` : `${Math.round(p.elapsedMs / 1000)}s/${Math.round((p.durationMs ?? 0) / 1000)}s`;
  return { value, text: `${status.spec?.kind ?? 'test'}: ${where}, ${formatNumber(p.currentRps, 0)} req/s, ${p.errors} errors` };
}

export interface TestReport {
  head: string;
  latency: string;
  headers: string[];
  rows: string[][];
}

/** A finished test's summary: a line, the latency line, and a row per server; null before one exists. */
export function testReport(status: LoadTestStatus): TestReport | null {
  const s = status.summary;
  if (s === null) return null;
  const l = s.latencyMs;
  return {
    head: `${status.spec?.kind ?? 'the'} test: ${s.requests.issued} requests in ${formatNumber(s.durationSeconds, 2)} s, ${formatNumber(s.throughputRps, 1)} req/s, ${s.requests.succeeded} succeeded, ${s.requests.failed} failed (${formatPercent(s.errorRate)})`,
    latency: `latency mean ${formatNumber(l.meanMs, 2)} ms, p50 ${formatNumber(l.p50Ms, 2)}, p90 ${formatNumber(l.p90Ms, 2)}, p99 ${formatNumber(l.p99Ms, 2)}, max ${formatNumber(l.maxMs, 2)} ms`,
    headers: ['Server', 'Requests', 'Share', 'P99 ms', 'Errors'],
    rows: s.servers.map((x) => [x.id, String(x.requests), formatPercent(x.share), formatNumber(x.p99Ms, 2), String(x.errors)]),
  };
}
