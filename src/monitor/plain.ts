/**
 * Text output when stdout is not a terminal (or with --plain): the seed's table, one block per
 * interval, for logs and pipes. Pure formatting; the command prints.
 */
import type { StatsSnapshot } from '../shared/api-types.js';
import type { MonitorModel } from './model.js';
import { formatDuration } from './view-model.js';

function pad(text: string, width: number): string {
  return text.length >= width ? text.slice(0, width) : text + ' '.repeat(width - text.length);
}

/** Megabytes with one decimal: what a tcp-mode server forwarded. */
const mb = (bytes: number | undefined): string => ((bytes ?? 0) / 1e6).toFixed(1);

export function formatPlain(snapshot: StatsSnapshot, model: MonitorModel | null, at: Date): string {
  const t = snapshot.totals;
  // tcp mode: the same figures count connections (latency is connect time), plus the bytes each way.
  const tcp = snapshot.mode === 'tcp';
  const lines = [
    `${at.toISOString()}  ${snapshot.url}  algorithm ${snapshot.algorithm}  up ${formatDuration(snapshot.uptimeSeconds)}  ` +
      `${tcp ? 'connections' : 'requests'} ${t.requests}  failures ${t.failures} (${(t.errorRate * 100).toFixed(1)}%)  ${tcp ? 'open' : 'active'} ${t.activeRequests}` +
      (tcp ? `  MB in ${mb(t.bytesIn)} out ${mb(t.bytesOut)}` : '') +
      (model === null ? '' : `  ${model.totalRps.toFixed(1)} ${tcp ? 'conn/s' : 'req/s'}`),
  ];
  const widths = [22, 9, 7, 8, 10, 8, 9, 9, 7, 10];
  const row = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!)).join(' ').trimEnd();
  lines.push(
    row(
      tcp
        ? ['SERVER', 'STATE', 'OPEN', 'CONN/S', 'TOTAL', 'FAILED', 'CONN MS', 'MB IN', 'MB OUT', 'CIRCUIT']
        : ['SERVER', 'STATE', 'ACTIVE', 'REQ/S', 'TOTAL', 'ERRORS', 'AVG MS', 'P99 MS', 'WEIGHT', 'CIRCUIT'],
    ),
  );
  for (const s of snapshot.servers) {
    lines.push(
      row([
        s.id,
        s.state,
        String(s.activeRequests),
        (model?.rates.get(s.id)?.rps ?? 0).toFixed(1),
        String(s.totalRequests),
        String(s.totalFailures),
        s.recentAvgResponseTimeMs.toFixed(1),
        ...(tcp ? [mb(s.bytesIn), mb(s.bytesOut)] : [s.recentP99ResponseTimeMs.toFixed(1), String(s.weight)]),
        s.circuit,
      ]),
    );
  }
  if (snapshot.servers.length === 0) lines.push('(no servers)');
  return `${lines.join('\n')}\n`;
}
