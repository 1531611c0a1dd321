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

export function formatPlain(snapshot: StatsSnapshot, model: MonitorModel | null, at: Date): string {
  const t = snapshot.totals;
  const lines = [
    `${at.toISOString()}  ${snapshot.url}  algorithm ${snapshot.algorithm}  up ${formatDuration(snapshot.uptimeSeconds)}  ` +
      `requests ${t.requests}  failures ${t.failures} (${(t.errorRate * 100).toFixed(1)}%)  active ${t.activeRequests}` +
      (model === null ? '' : `  ${model.totalRps.toFixed(1)} req/s`),
  ];
  const widths = [22, 9, 7, 8, 10, 8, 9, 9, 7, 10];
  const row = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i]!)).join(' ').trimEnd();
  lines.push(row(['SERVER', 'STATE', 'ACTIVE', 'REQ/S', 'TOTAL', 'ERRORS', 'AVG MS', 'P99 MS', 'WEIGHT', 'CIRCUIT']));
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
        s.recentP99ResponseTimeMs.toFixed(1),
        String(s.weight),
        s.circuit,
      ]),
    );
  }
  if (snapshot.servers.length === 0) lines.push('(no servers)');
  return `${lines.join('\n')}\n`;
}
