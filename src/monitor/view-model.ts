/**
 * Pure: the monitor's state and the screen size in, exactly the shapes blessed-contrib's setData calls
 * take out (table `{headers, data}`, sparkline `(titles, series)`, line `[{title, x, y}]`, bar
 * `{titles, data}`), plus the header and help lines. The dashboard only copies these into widgets, so
 * this is where the monitor's tests aim. Colours are ANSI codes (the table measures around them) or
 * blessed tags in the header and log boxes, which parse tags.
 */
import type { ClusterView, ServerSnapshot, ServerState, StatsSnapshot } from '../shared/api-types.js';
import { formatDuration, formatNumber, formatPercent } from '../shared/format.js';
import type { MonitorModel } from './model.js';

export interface ViewOptions {
  width: number;
  /** Sparkline widget inner size: how many servers fit (3 lines each) and how many points. */
  sparkRows: number;
  sparkWidth: number;
  /** Bars that fit the bar chart, and the characters of each label. */
  maxBars: number;
  barLabelWidth: number;
  selectedId: string | null;
  paused: boolean;
  intervalMs: number;
  nowMs: number;
  /** Inner width of the instances panel (a cluster's); the screen width when not given. */
  instancesWidth?: number;
  /** The web dashboard's address, shown in the header when there is room (the demo's users look for it). */
  webUrl?: string | null;
}

export interface TableView {
  headers: string[];
  data: string[][];
  columnWidth: number[];
}

export interface LineSeries {
  title: string;
  x: string[];
  y: number[];
  style: { line: string };
}

export interface DashboardView {
  header: string;
  table: TableView;
  /** Server id of each table row, for selection. */
  rowIds: string[];
  selectedIndex: number;
  sparkline: { titles: string[]; data: number[][] };
  line: LineSeries[];
  bar: { titles: string[]; data: number[] };
  /** The cluster's instances (`lb serve --store`), one row each; null for an instance on its own. */
  instances: TableView | null;
  help: string;
}

const ANSI: Record<ServerState, [string, string]> = {
  up: ['\x1b[32m', '\x1b[39m'],
  down: ['\x1b[31m', '\x1b[39m'],
  ejected: ['\x1b[35m', '\x1b[39m'],
  draining: ['\x1b[33m', '\x1b[39m'],
  drained: ['\x1b[90m', '\x1b[39m'],
};

export const HELP =
  'a add  d remove  x drain  w weight  +/- weight±1  ]/[ ±10  s algorithm  r reset  p pause  </> interval  q quit';
const SHORT_HELP = 'a add d del x drain w weight +-][ weight s algo r reset p pause <> interval q';

interface Column {
  header: string;
  width: number;
  cell: (s: ServerSnapshot, m: MonitorModel) => string;
}

/** Megabytes with one decimal below 100: bytes a tcp-mode server forwarded. */
const megabytes = (bytes: number): string => formatNumber(bytes / 1e6, bytes < 1e8 ? 1 : 0);

/**
 * tcp mode (the snapshot's `mode`): the same table over connections. Active = open connections, the rate
 * is new connections per second, latency is connect time, and Score gives way to the bytes forwarded.
 */
function columnsFor(width: number, tcp: boolean): Column[] {
  const wide = width >= 120;
  if (tcp) {
    const columns: Column[] = [
      { header: 'Server', width: wide ? 22 : 14, cell: (s) => abbreviate(s.id, (wide ? 22 : 14) - 1) },
      { header: 'State', width: 8, cell: (s) => `${ANSI[s.state][0]}${s.state}${ANSI[s.state][1]}` },
      { header: wide ? 'Open' : 'Open', width: wide ? 6 : 5, cell: (s) => String(s.activeRequests) },
      { header: 'Conn/s', width: wide ? 7 : 6, cell: (s, m) => formatNumber(m.rates.get(s.id)?.rps ?? 0, 1) },
      { header: 'Total', width: wide ? 9 : 6, cell: (s) => String(s.totalRequests) },
      { header: wide ? 'Failed' : 'Fail', width: wide ? 7 : 5, cell: (s) => String(s.totalFailures) },
    ];
    if (wide) columns.push({ header: 'MB in', width: 8, cell: (s) => megabytes(s.bytesIn ?? 0) }, { header: 'MB out', width: 8, cell: (s) => megabytes(s.bytesOut ?? 0) });
    columns.push({ header: wide ? 'Conn ms' : 'Cn ms', width: wide ? 8 : 6, cell: (s) => formatNumber(s.recentAvgResponseTimeMs, 1) });
    columns.push({ header: wide ? 'Weight' : 'Wt', width: wide ? 8 : 4, cell: (s) => String(s.weight) });
    columns.push({ header: wide ? 'Circuit' : 'Circ', width: 9, cell: (s) => s.circuit });
    return columns;
  }
  const columns: Column[] = [
    // Cut to fit with a blank before State, keeping the id's end (the port tells 127.0.0.1:19301 from :19302).
    { header: 'Server', width: wide ? 22 : 14, cell: (s) => abbreviate(s.id, (wide ? 22 : 14) - 1) },
    { header: 'State', width: 8, cell: (s) => `${ANSI[s.state][0]}${s.state}${ANSI[s.state][1]}` },
    { header: wide ? 'Active' : 'Act', width: wide ? 6 : 4, cell: (s) => String(s.activeRequests) },
    { header: 'Req/s', width: wide ? 7 : 6, cell: (s, m) => formatNumber(m.rates.get(s.id)?.rps ?? 0, 1) },
    { header: 'Total', width: wide ? 9 : 6, cell: (s) => String(s.totalRequests) },
    { header: wide ? 'Errors' : 'Errs', width: wide ? 7 : 5, cell: (s) => String(s.totalFailures) },
    { header: 'Err%', width: 5, cell: (s) => formatPercent(s.errorRate) },
  ];
  // Latency over the last minute: a server that recovered stops showing its old incident.
  if (wide) columns.push({ header: 'Avg ms', width: 8, cell: (s) => formatNumber(s.recentAvgResponseTimeMs, 1) });
  columns.push({ header: wide ? 'P99 ms' : 'P99', width: wide ? 8 : 6, cell: (s) => formatNumber(s.recentP99ResponseTimeMs, 1) });
  // least_response_time's cost (lower wins): what it sees when it shifts traffic.
  if (wide) columns.push({ header: 'Score', width: 7, cell: (s) => formatNumber(s.latencyScoreMs, 1) });
  // While a server ramps up (slow_start): the weight in use now (and, when wide, the configured one).
  const ramping = (s: ServerSnapshot): boolean => s.effectiveWeight < s.weight;
  columns.push({
    header: wide ? 'Weight' : 'Wt',
    width: wide ? 8 : 4,
    cell: (s) => (!ramping(s) ? String(s.weight) : wide ? `${formatNumber(s.effectiveWeight, 1)}/${s.weight}` : `${formatNumber(s.effectiveWeight, 1)}~`),
  });
  // The API's own word at every width (it read "half" at 80 columns).
  columns.push({ header: wide ? 'Circuit' : 'Circ', width: 9, cell: (s) => s.circuit });
  return columns;
}

/** Kept for plain.ts, which imports it from here; written in src/shared/format.ts. */
export { formatDuration } from '../shared/format.js';

function connectionText(model: MonitorModel, options: ViewOptions): string {
  const since = formatDuration((options.nowMs - model.statusSinceMs) / 1000);
  switch (model.status) {
    case 'connecting':
      return '{yellow-fg}connecting{/yellow-fg}';
    case 'live':
      return options.paused ? '{yellow-fg}paused{/yellow-fg}' : '{green-fg}live{/green-fg}';
    case 'stale':
      return `{yellow-fg}stale since ${since}{/yellow-fg}`;
    case 'disconnected':
      return `{red-fg}disconnected ${since}, retrying{/red-fg}`;
  }
}

export function buildView(model: MonitorModel, options: ViewOptions): DashboardView {
  const snapshot = model.snapshot;
  const servers = snapshot?.servers ?? [];
  const tcp = snapshot?.mode === 'tcp';
  const unit = tcp ? 'conn/s' : 'req/s';
  const columns = columnsFor(options.width, tcp);
  const rowIds = servers.map((s) => s.id);
  const found = options.selectedId === null ? -1 : rowIds.indexOf(options.selectedId);

  let header: string;
  if (snapshot === null) {
    header = fitParts(['{bold}lb monitor{/bold}', connectionText(model, options), model.lastError ? escapeTags(model.lastError) : ''], options.width);
  } else {
    const healthy = servers.filter((s) => s.state === 'up').length;
    // In order of importance: what does not fit the width is left out from the end.
    header = fitParts(
      [
        `{bold}lb{/bold} ${snapshot.url.replace(/^(https?|tcp):\/\//, '')}${tcp ? ' (tcp)' : ''}`,
        connectionText(model, options),
        `${formatNumber(model.totalRps, 1)} ${unit}`,
        snapshot.cluster !== undefined ? clusterText(snapshot.cluster) : '',
        `err ${formatPercent(model.recentErrorRate)}`,
        // tcp mode: the open connections and the bytes forwarded so far, each way.
        tcp ? `${snapshot.totals.activeRequests} open, ${megabytes(snapshot.totals.bytesIn ?? 0)}/${megabytes(snapshot.totals.bytesOut ?? 0)} MB in/out` : '',
        `${healthy}/${servers.length} up`,
        snapshot.algorithm,
        workersText(snapshot),
        options.webUrl ? `web ${options.webUrl.replace(/^https?:\/\//, '')}` : '',
        `uptime ${formatDuration(snapshot.uptimeSeconds)}`,
        tcp ? "" : `sessions ${snapshot.sessions.active}`,
        // Shown only while a rate limit is on: how many requests it refused.
        snapshot.limits.rateLimitPerSecond > 0 ? `limited ${snapshot.totals.rateLimited} (${snapshot.limits.rateLimitPerSecond}/s)` : '',
        `every ${options.intervalMs / 1000}s`,
      ],
      options.width,
    );
  }

  const shown = servers.slice(0, Math.max(0, options.sparkRows));
  const points = Math.max(1, options.sparkWidth);
  const seriesOf = (values: number[]): number[] => {
    const tail = values.slice(-points);
    // sparkline draws nothing for an empty or all-zero series; one zero keeps the row.
    return tail.length === 0 ? [0] : tail;
  };

  const n = model.totalSeries.length;
  const digits = options.intervalMs < 1000 ? 1 : 0;
  const x = Array.from({ length: n }, (_, i) => `-${(((n - 1 - i) * options.intervalMs) / 1000).toFixed(digits)}s`);

  return {
    header,
    table: {
      headers: columns.map((c) => c.header),
      data: servers.map((s) => columns.map((c) => c.cell(s, model))),
      columnWidth: columns.map((c) => c.width),
    },
    rowIds,
    selectedIndex: found === -1 ? (rowIds.length > 0 ? 0 : -1) : found,
    sparkline: {
      titles: shown.map((s) => `${s.id} ${formatNumber(model.rates.get(s.id)?.rps ?? 0, 1)} ${unit}`),
      data: shown.map((s) => seriesOf(model.rates.get(s.id)?.series ?? [])),
    },
    line: [
      { title: unit, x, y: [...model.totalSeries], style: { line: 'green' } },
      { title: tcp ? 'failed/s' : 'errors/s', x, y: [...model.errorSeries], style: { line: 'red' } },
    ],
    bar: {
      titles: servers.slice(0, options.maxBars).map((s) => abbreviate(s.id, options.barLabelWidth)),
      data: servers.slice(0, options.maxBars).map((s) => Math.round(s.recentP99ResponseTimeMs)),
    },
    instances: snapshot?.cluster === undefined ? null : instancesTable(snapshot.cluster, options.instancesWidth ?? options.width),
    help: options.width >= HELP.length + 2 ? HELP : SHORT_HELP,
  };
}

/** The cluster in the header: its name, live instances, cluster-wide req/s (each instance's last second). */
function clusterText(cluster: ClusterView): string {
  const text = `cluster ${escapeTags(cluster.cluster)}: ${cluster.totals.instances} inst, ${formatNumber(cluster.totals.requestsPerSecond, 1)} req/s`;
  return cluster.connected ? text : `${text} {yellow-fg}(store away){/yellow-fg}`;
}

/**
 * One row per live instance, this one marked `*`: its rate first, then where it listens, its counters and
 * the configuration version it runs, as many of those as `width` (the panel's inner width) holds.
 */
function instancesTable(cluster: ClusterView, width: number): TableView {
  type Col = { header: string; width: number; cell: (i: ClusterView['instances'][number]) => string };
  const columns: Col[] = [
    { header: 'Instance', width: 14, cell: (i) => `${i.self ? '*' : ' '}${abbreviate(i.id, 12)}` },
    { header: 'Req/s', width: 7, cell: (i) => formatNumber(i.requestsPerSecond, 1) },
  ];
  const optional: Col[] = [
    { header: 'URL', width: 17, cell: (i) => abbreviate(i.url.replace(/^https?:\/\//, ''), 16) },
    { header: 'Total', width: 8, cell: (i) => String(i.requests) },
    { header: 'Errs', width: 6, cell: (i) => String(i.failures) },
    { header: 'Cfg', width: 5, cell: (i) => abbreviate(i.configVersion, 4) },
  ];
  // Each column takes its width plus the table's spacing of 2.
  let used = columns.reduce((n, c) => n + c.width + 2, 0);
  for (const column of optional) {
    if (used + column.width + 2 > width) continue;
    columns.push(column);
    used += column.width + 2;
  }
  return {
    headers: columns.map((c) => c.header),
    data: cluster.instances.map((i) => columns.map((c) => c.cell(i))),
    columnWidth: columns.map((c) => c.width),
  };
}

/** A label cut to `width` keeping its start and its end (`api-server-12` -> `api-…r-12`): both tell servers apart. */
export function abbreviate(text: string, width: number): string {
  if (text.length <= width) return text;
  if (width <= 1) return text.slice(0, width);
  const head = Math.ceil((width - 1) / 2);
  return `${text.slice(0, head)}…${text.slice(text.length - (width - 1 - head))}`;
}

/** Bar chart layout for `count` servers in `innerWidth` columns: bars up to 22 wide (a whole host:port), 2 apart, at least 4 per bar. */
export function barLayout(count: number, innerWidth: number): { maxBars: number; barWidth: number; barSpacing: number } {
  const maxBars = Math.max(0, Math.min(count, Math.floor(innerWidth / 4)));
  const barSpacing = maxBars === 0 ? 4 : Math.max(4, Math.min(24, Math.floor(innerWidth / maxBars)));
  return { maxBars, barWidth: barSpacing - 2, barSpacing };
}

/** Joins the parts with two spaces, leaving out those that would pass `width` visible characters. */
function fitParts(parts: string[], width: number): string {
  let out = '';
  let visible = 0;
  for (const part of parts) {
    if (part === '') continue;
    const length = part.replace(/\{[^}]*\}/g, '').length + (out === '' ? 0 : 2);
    if (visible + length > width) break;
    out += (out === '' ? '' : '  ') + part;
    visible += length;
  }
  return out;
}

/** Log lines for the log widget: time, then the text, with the level as a colour. */
export function formatLogLine(line: { atMs: number; text: string; level: 'info' | 'warn' | 'error' }): string {
  const time = new Date(line.atMs).toISOString().slice(11, 19);
  const text = escapeTags(line.text);
  if (line.level === 'error') return `${time} {red-fg}${text}{/red-fg}`;
  if (line.level === 'warn') return `${time} {yellow-fg}${text}{/yellow-fg}`;
  return `${time} ${text}`;
}

/** Text from the API or the user must not be read as blessed tags. */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

export type ChartPanel = 'sparkline' | 'line' | 'bar' | 'instances';

/** Where each widget goes on a `width` x `height` screen, in rows (header row 0, help the last row). */
export interface ScreenLayout {
  table: { top: number; height: number };
  charts: { top: number; height: number; panels: ChartPanel[] };
  log: { top: number; height: number };
}

/** Below either bound the dashboard shows fewer panels instead of squeezing all of them. */
const COMPACT_WIDTH = 100;
const COMPACT_HEIGHT = 30;

/**
 * The table as tall as its servers need (borders, header and a row each), at most ~45% of the screen;
 * the events log a quarter; the charts what is left. On a small terminal (80 x 24 is first-class) only
 * the per-server sparkline is shown, full width, and the charts go when even that would not fit. An
 * instance of a cluster shows its instances where the p99 bars would be (the servers' p99 is in the table).
 */
export function screenLayout(width: number, height: number, servers: number, clustered = false): ScreenLayout {
  const usable = Math.max(6, height - 2);
  const compact = width < COMPACT_WIDTH || height < COMPACT_HEIGHT;
  const tableHeight = Math.max(5, Math.min(servers + 4, Math.floor(usable * (compact ? 0.4 : 0.45))));
  let logHeight = Math.max(4, Math.floor(usable * (compact ? 0.25 : 0.23)));
  let chartsHeight = usable - tableHeight - logHeight;
  let panels: ChartPanel[] = compact ? ['sparkline'] : ['sparkline', 'line', clustered ? 'instances' : 'bar'];
  if (chartsHeight < 5) {
    panels = [];
    logHeight += chartsHeight;
    chartsHeight = 0;
  }
  return {
    table: { top: 1, height: tableHeight },
    charts: { top: 1 + tableHeight, height: chartsHeight, panels },
    log: { top: 1 + tableHeight + chartsHeight, height: logHeight },
  };
}

/** `2 workers`, with how many are not serving when some are not; empty for a single process. */
function workersText(snapshot: StatsSnapshot): string {
  const workers = snapshot.workers;
  if (workers === undefined || workers.length === 0) return '';
  const notUp = workers.filter((w) => w.state !== 'up').length;
  return `${workers.length} workers${notUp > 0 ? ` (${notUp} starting)` : ''}`;
}
