/**
 * Pure: a finished `lb loadtest --tcp` run in, its summary out, as data (--json) and as text:
 * connections/s, MB/s each way, connect-time and exchange-time percentiles, and the spread over servers.
 */
import { round } from '../shared/round.js';
import type { LatencySummary } from './histogram.js';
import type { TcpLoadResult } from './tcp-runner.js';

export interface TcpSummary {
  target: string;
  concurrency: number;
  bytesPerConnection: number;
  durationSeconds: number;
  interrupted: boolean;
  connections: { total: number; completed: number; failed: number };
  failures: Record<string, number>;
  connectionsPerSecond: number;
  /** Megabytes (10^6) per second, each way. */
  sentMBps: number;
  receivedMBps: number;
  connectMs: LatencySummary;
  exchangeMs: LatencySummary;
  servers: Array<{ name: string; connections: number; share: number }>;
}

export function summarizeTcp(r: TcpLoadResult, target: string, concurrency: number, bytesPerConnection: number): TcpSummary {
  const seconds = r.elapsedMs / 1000;
  const per = (n: number): number => (seconds > 0 ? n / seconds : 0);
  const attributed = [...r.servers.values()].reduce((a, b) => a + b, 0);
  return {
    target,
    concurrency,
    bytesPerConnection,
    durationSeconds: round(seconds),
    interrupted: r.interrupted,
    connections: { total: r.connections, completed: r.completed, failed: r.failed },
    failures: Object.fromEntries(r.errors),
    connectionsPerSecond: round(per(r.completed)),
    sentMBps: round(per(r.bytesSent) / 1e6),
    receivedMBps: round(per(r.bytesReceived) / 1e6),
    connectMs: r.connect,
    exchangeMs: r.exchange,
    servers: [...r.servers.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, connections]) => ({ name, connections, share: attributed === 0 ? 0 : connections / attributed })),
  };
}

const ms = (v: number): string => (v >= 100 ? `${v.toFixed(0)} ms` : v >= 10 ? `${v.toFixed(1)} ms` : `${v.toFixed(2)} ms`);

export function formatTcpSummary(s: TcpSummary): string {
  const lines: string[] = [];
  lines.push(`TCP ${s.target}: ${s.concurrency} concurrent, ${s.bytesPerConnection} bytes each way per connection, ${s.durationSeconds.toFixed(2)} s${s.interrupted ? ' (interrupted: the summary so far)' : ''}`);
  lines.push('');
  const c = s.connections;
  lines.push(`Connections ${c.total} opened, ${c.completed} echoed in full, ${c.failed} failed`);
  const failures = Object.entries(s.failures);
  if (failures.length > 0) lines.push(`Failures    ${failures.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  lines.push(`Throughput  ${s.connectionsPerSecond.toFixed(1)} connections/s, ${s.sentMBps.toFixed(2)} MB/s sent, ${s.receivedMBps.toFixed(2)} MB/s received`);
  const k = s.connectMs;
  lines.push(`Connect     p50 ${ms(k.p50Ms)}  p90 ${ms(k.p90Ms)}  p99 ${ms(k.p99Ms)}  max ${ms(k.maxMs)}`);
  const e = s.exchangeMs;
  lines.push(`Exchange    p50 ${ms(e.p50Ms)}  p90 ${ms(e.p90Ms)}  p99 ${ms(e.p99Ms)}  max ${ms(e.maxMs)}  (connect to last byte back)`);
  if (s.servers.length > 0) {
    lines.push('', 'Distribution across servers (NAME line)');
    const width = Math.max(6, ...s.servers.map((x) => x.name.length));
    lines.push(`  ${'server'.padEnd(width)}  connections  share`);
    for (const x of s.servers) lines.push(`  ${x.name.padEnd(width)}  ${String(x.connections).padStart(11)}  ${(x.share * 100).toFixed(1).padStart(5)}%`);
  }
  return `${lines.join('\n')}\n`;
}
