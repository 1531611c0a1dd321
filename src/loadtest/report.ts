/**
 * Pure: a finished run (and, with --admin-url, the servers' configured weights) in, the summary out, as
 * data (what --json prints) and as text. Also the --fail-on thresholds: parsed once, checked against the
 * summary. What no other load generator reports is here: how the load spread over the balancer's servers,
 * how fair that was (max/min share, Jain's index, against the weights when known), stickiness, and the
 * per-second server mix.
 */
import { LbError } from '../shared/errors.js';
import { round } from '../shared/round.js';
import { readableBuckets, type LatencySummary } from './histogram.js';
import type { ErrorKind, RunResult } from './runner.js';

export interface ServerShare {
  id: string;
  requests: number;
  /** Of the attributed requests, 0..1. */
  share: number;
  /** weight / sum of weights, when the weights are known. */
  expectedShare: number | null;
  errors: number;
  meanMs: number;
  p99Ms: number;
}

export interface Summary {
  target: string;
  method: string;
  mode: 'closed' | 'open';
  concurrency: number;
  rateRps: number | null;
  startedAt: string;
  durationSeconds: number;
  interrupted: boolean;
  requests: { issued: number; completed: number; succeeded: number; failed: number; cancelled: number };
  failures: { byKind: Partial<Record<ErrorKind, number>>; byStatus: Record<string, number>; examples: Partial<Record<ErrorKind, string>> };
  statuses: Record<string, number>;
  errorRate: number;
  throughputRps: number;
  bytesIn: number;
  latencyMs: LatencySummary;
  histogram: Array<{ upToMs: number; count: number }>;
  servers: ServerShare[];
  /** Per path when --path spreads requests over several; null otherwise. */
  paths: Array<{ path: string; requests: number; failures: number; meanMs: number; p50Ms: number; p99Ms: number }> | null;
  /** Per entry point when `--url` names several (a cluster's instances); null otherwise. */
  entryPoints: Array<{ url: string; requests: number; failures: number; meanMs: number; p50Ms: number; p99Ms: number }> | null;
  unattributed: number;
  fairness: { maxMinRatio: number; jainIndex: number; againstWeights: boolean } | null;
  stickiness: { clients: number; violations: number } | null;
  timeline: Array<{ second: number; servers: Record<string, number>; errors: number }> | null;
  maxConcurrency: number;
  thresholds: ThresholdResult[];
  /** What shaped the run (header names only: values may be secrets); set by the command. */
  options?: Record<string, unknown>;
}

export interface RunDescription {
  target: string;
  method: string;
  concurrency: number;
  rateRps: number | null;
}

export function summarize(run: RunResult, description: RunDescription, weights: Map<string, number> | null): Summary {
  const byStatus: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let httpFailures = 0;
  for (const [status, count] of [...run.statuses].sort((a, b) => a[0] - b[0])) {
    statuses[String(status)] = count;
    if (status >= 400) {
      byStatus[String(status)] = count;
      httpFailures += count;
    }
  }
  const failed = run.errored + httpFailures;
  const finished = run.completed + run.errored;
  const attributed = [...run.servers.values()].reduce((n, s) => n + s.requests, 0);
  const weightSum = weights === null ? 0 : [...run.servers.keys()].reduce((n, id) => n + (weights.get(id) ?? 0), 0);
  const servers: ServerShare[] = [...run.servers]
    .map(([id, tally]) => ({
      id,
      requests: tally.requests,
      share: attributed === 0 ? 0 : tally.requests / attributed,
      expectedShare: weights === null || weightSum === 0 ? null : (weights.get(id) ?? 0) / weightSum,
      errors: tally.errors,
      meanMs: round(tally.latency.summary().meanMs),
      p99Ms: round(tally.latency.percentileMs(99)),
    }))
    .sort((a, b) => a.id.localeCompare(b.id, undefined, { numeric: true }));

  return {
    target: description.target,
    method: description.method,
    mode: description.rateRps === null ? 'closed' : 'open',
    concurrency: description.concurrency,
    rateRps: description.rateRps,
    startedAt: run.startedAt.toISOString(),
    durationSeconds: round(run.elapsedMs / 1000),
    interrupted: run.interrupted,
    requests: { issued: run.issued, completed: run.completed, succeeded: run.completed - httpFailures, failed, cancelled: run.cancelled },
    failures: { byKind: Object.fromEntries(run.errors), byStatus, examples: Object.fromEntries(run.errorExamples) },
    statuses,
    errorRate: finished === 0 ? 0 : failed / finished,
    throughputRps: run.elapsedMs === 0 ? 0 : round((finished / run.elapsedMs) * 1000),
    bytesIn: run.bytesIn,
    latencyMs: mapValues(run.latency.summary(), round),
    histogram: readableBuckets(run.latency.buckets()),
    servers,
    paths:
      run.paths === null
        ? null
        : [...run.paths].map(([path, t]) => ({
            path,
            requests: t.requests,
            failures: t.failures,
            meanMs: round(t.latency.summary().meanMs),
            p50Ms: round(t.latency.percentileMs(50)),
            p99Ms: round(t.latency.percentileMs(99)),
          })),
    entryPoints:
      run.entryPoints === null
        ? null
        : [...run.entryPoints].map(([url, t]) => ({
            url,
            requests: t.requests,
            failures: t.failures,
            meanMs: round(t.latency.summary().meanMs),
            p50Ms: round(t.latency.percentileMs(50)),
            p99Ms: round(t.latency.percentileMs(99)),
          })),
    unattributed: run.unattributed,
    fairness: fairness(servers),
    stickiness: run.stickiness,
    timeline:
      run.timeline === null ? null : run.timeline.map((t) => ({ second: t.second, servers: Object.fromEntries(t.servers), errors: t.errors })),
    maxConcurrency: run.maxInFlight,
    thresholds: [],
  };
}

/**
 * Jain's fairness index over shares, normalised by the expected shares when weights are known:
 * 1 = perfectly as intended, 1/n = everything on one server.
 */
export function fairness(servers: ServerShare[]): Summary['fairness'] {
  if (servers.length < 2) return null;
  const againstWeights = servers.every((s) => s.expectedShare !== null && s.expectedShare > 0);
  const x = servers.map((s) => (againstWeights ? s.share / s.expectedShare! : s.share));
  const sum = x.reduce((a, b) => a + b, 0);
  const sumSquares = x.reduce((a, b) => a + b * b, 0);
  const min = Math.min(...x);
  return {
    maxMinRatio: min === 0 ? Infinity : round(Math.max(...x) / min),
    jainIndex: sumSquares === 0 ? 0 : round((sum * sum) / (servers.length * sumSquares), 4),
    againstWeights,
  };
}

// ---- thresholds ----

const METRICS = ['error-rate', 'p50', 'p90', 'p99', 'p99.9', 'mean', 'max', 'rps'] as const;
type Metric = (typeof METRICS)[number];

export interface Threshold {
  expression: string;
  metric: Metric;
  op: '>' | '<' | '>=' | '<=';
  /** In the metric's unit: a share 0..1 for error-rate, ms for latencies, req/s for rps. */
  value: number;
}

export interface ThresholdResult {
  expression: string;
  actual: number;
  /** True when the run crossed the threshold (the run fails). */
  crossed: boolean;
}

export function parseThreshold(text: string): Threshold {
  const match = /^\s*(error-rate|p50|p90|p99\.9|p99|mean|max|rps)\s*(>=|<=|>|<)\s*([0-9]*\.?[0-9]+)\s*(%|ms|s)?\s*$/.exec(text);
  if (match === null) {
    throw new LbError('LB_USAGE', `--fail-on ${JSON.stringify(text)}: expected METRIC OP VALUE, e.g. error-rate>1% or p99>200ms (metrics: ${METRICS.join(', ')})`);
  }
  const metric = match[1] as Metric;
  const unit = match[4];
  let value = Number(match[3]);
  if (metric === 'error-rate') {
    if (unit !== '%' && unit !== undefined) throw new LbError('LB_USAGE', `--fail-on ${JSON.stringify(text)}: error-rate is a percentage, like error-rate>1%`);
    value = unit === '%' ? value / 100 : value;
  } else if (metric === 'rps') {
    if (unit !== undefined) throw new LbError('LB_USAGE', `--fail-on ${JSON.stringify(text)}: rps takes a plain number, like rps<1000`);
  } else {
    if (unit === '%') throw new LbError('LB_USAGE', `--fail-on ${JSON.stringify(text)}: ${metric} is a time, like ${metric}>200ms`);
    value = unit === 's' ? value * 1000 : value;
  }
  return { expression: text.trim(), metric, op: match[2] as Threshold['op'], value };
}

export function checkThresholds(summary: Summary, thresholds: Threshold[]): ThresholdResult[] {
  const l = summary.latencyMs;
  const actualOf: Record<Metric, number> = {
    'error-rate': summary.errorRate,
    p50: l.p50Ms,
    p90: l.p90Ms,
    p99: l.p99Ms,
    'p99.9': l.p999Ms,
    mean: l.meanMs,
    max: l.maxMs,
    rps: summary.throughputRps,
  };
  return thresholds.map((t) => {
    const actual = actualOf[t.metric];
    const crossed = t.op === '>' ? actual > t.value : t.op === '<' ? actual < t.value : t.op === '>=' ? actual >= t.value : actual <= t.value;
    return { expression: t.expression, actual, crossed };
  });
}

// ---- text ----

const ms = (value: number): string => (value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(2)} ms`);
const pct = (share: number): string => `${(share * 100).toFixed(1)}%`;

function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd());
}

/**
 * One line per readable bucket, bar length proportional to its count (eighths of a block for the
 * remainder); a bucket too small for one eighth still gets a thin mark, so 6 requests never look like 2 000.
 */
export function histogramLines(histogram: Summary['histogram'], width = 40): string[] {
  if (histogram.length === 0) return [];
  const max = Math.max(...histogram.map((g) => g.count));
  return histogram.map((g) => `  <= ${ms(g.upToMs).padStart(10)}  ${bar(g.count, max, width).padEnd(width)}  ${g.count}`);
}

const EIGHTHS = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

function bar(count: number, max: number, width: number): string {
  if (count === 0) return '';
  const eighths = Math.max(1, Math.round((count / max) * width * 8));
  return '█'.repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8]!;
}

export function formatSummary(s: Summary): string {
  const lines: string[] = [];
  const mode = s.mode === 'open' ? `open loop at ${s.rateRps} req/s, at most ${s.concurrency} in flight` : `${s.concurrency} concurrent`;
  lines.push(`${s.method} ${s.target}: ${mode}, ${s.durationSeconds.toFixed(2)} s${s.interrupted ? ' (interrupted: the summary so far)' : ''}`);
  lines.push('');
  const r = s.requests;
  lines.push(`Requests    ${r.issued} sent, ${r.succeeded} succeeded, ${r.failed} failed${r.cancelled > 0 ? `, ${r.cancelled} cancelled` : ''} (error rate ${pct(s.errorRate)})`);
  const kinds = Object.entries(s.failures.byKind).map(([k, n]) => `${k} ${n}`);
  const statuses = Object.entries(s.failures.byStatus).map(([code, n]) => `HTTP ${code} ${n}`);
  if (kinds.length + statuses.length > 0) lines.push(`Failures    ${[...kinds, ...statuses].join(', ')}`);
  for (const [kind, example] of Object.entries(s.failures.examples)) lines.push(`            ${kind}: ${example}`);
  lines.push(`Throughput  ${s.throughputRps.toFixed(1)} req/s, ${bytes(s.bytesIn)} received (${bytes(s.durationSeconds > 0 ? s.bytesIn / s.durationSeconds : 0)}/s)`);
  const l = s.latencyMs;
  lines.push(`Latency     min ${ms(l.minMs)}  mean ${ms(l.meanMs)}  stdev ${ms(l.stdevMs)}  max ${ms(l.maxMs)}`);
  lines.push(`            p50 ${ms(l.p50Ms)}  p90 ${ms(l.p90Ms)}  p99 ${ms(l.p99Ms)}  p99.9 ${ms(l.p999Ms)}`);
  const hist = histogramLines(s.histogram);
  if (hist.length > 0) lines.push('', 'Latency histogram', ...hist);

  if (s.servers.length > 0) {
    lines.push('', 'Distribution across servers (x-lb-server)');
    const weighted = s.servers.some((x) => x.expectedShare !== null);
    const header = ['server', 'requests', 'share', ...(weighted ? ['expected'] : []), 'mean', 'p99', 'errors'];
    const rows = s.servers.map((x) => [
      x.id,
      String(x.requests),
      pct(x.share),
      ...(weighted ? [x.expectedShare === null ? '-' : pct(x.expectedShare)] : []),
      ms(x.meanMs),
      ms(x.p99Ms),
      String(x.errors),
    ]);
    lines.push(...table([header, ...rows]));
    if (s.fairness !== null) {
      const against = s.fairness.againstWeights ? ' (against the configured weights)' : '';
      lines.push(`  fairness${against}: max/min ${Number.isFinite(s.fairness.maxMinRatio) ? s.fairness.maxMinRatio.toFixed(2) : 'inf'}, Jain's index ${s.fairness.jainIndex.toFixed(4)} (1 = even)`);
    }
    if (s.unattributed > 0) lines.push(`  ${s.unattributed} answers named no server`);
  } else if (s.requests.completed > 0) {
    lines.push('', 'Distribution across servers: no answer carried x-lb-server (or a JSON "server" field)');
  }
  if (s.entryPoints !== null && s.entryPoints.length > 0) {
    lines.push('', 'By entry point');
    lines.push(...table([['url', 'requests', 'failures', 'mean', 'p50', 'p99'], ...s.entryPoints.map((e) => [e.url, String(e.requests), String(e.failures), ms(e.meanMs), ms(e.p50Ms), ms(e.p99Ms)])]));
  }
  if (s.paths !== null && s.paths.length > 0) {
    lines.push('', 'By path');
    lines.push(...table([['path', 'requests', 'failures', 'mean', 'p50', 'p99'], ...s.paths.map((p) => [p.path, String(p.requests), String(p.failures), ms(p.meanMs), ms(p.p50Ms), ms(p.p99Ms)])]));
  }
  if (s.stickiness !== null) {
    lines.push(`Stickiness  ${s.stickiness.violations} of ${s.stickiness.clients} clients reached more than one server`);
  }
  if (s.timeline !== null && s.timeline.length > 0) {
    lines.push('', 'Timeline (requests per server each second)');
    const ids = s.servers.map((x) => x.id);
    lines.push(...table([['second', ...ids, 'errors'], ...s.timeline.map((t) => [`${t.second}s`, ...ids.map((id) => String(t.servers[id] ?? 0)), String(t.errors)])]));
  }
  if (s.thresholds.length > 0) {
    lines.push('', 'Thresholds');
    for (const t of s.thresholds) lines.push(`  ${t.crossed ? 'FAILED' : 'ok    '}  ${t.expression}  (actual ${t.expression.startsWith('error-rate') ? pct(t.actual) : t.expression.startsWith('rps') ? t.actual.toFixed(1) : ms(t.actual)})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The live progress line (TTY only): done/total or elapsed/duration, current rate, errors. */
export function formatProgress(p: { done: number; errors: number; elapsedMs: number; currentRps: number }, total: number | null, durationMs: number | null, width = 30): string {
  const fraction = total !== null ? p.done / total : durationMs !== null ? Math.min(1, p.elapsedMs / durationMs) : 0;
  const filled = Math.round(fraction * width);
  const bar = `[${'='.repeat(Math.max(0, filled - 1))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}]`;
  const where = total !== null ? `${p.done}/${total}` : `${(p.elapsedMs / 1000).toFixed(0)}s/${((durationMs ?? 0) / 1000).toFixed(0)}s`;
  return `${bar} ${where}  ${p.currentRps.toFixed(0)} req/s  ${p.errors} errors`;
}


function mapValues<T extends object>(obj: T, fn: (v: number) => number): T {
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, typeof v === 'number' ? fn(v) : v])) as T;
}
