/**
 * `lb loadtest --tcp` wired: flags -> TcpLoadRun -> summary. The target is `--url tcp://host:port` (or
 * host:port; an http:// URL's host and port are taken as they are). HTTP-only flags are refused by name.
 */
import { LbError } from '../shared/errors.js';
import type { LoadtestArgs } from './command.js';
import { DEFAULT_URL } from './options.js';
import { formatTcpSummary, summarizeTcp } from './tcp-report.js';
import { TcpLoadRun, type TcpRunEvents } from './tcp-runner.js';
import { commonestError, runInTerminal } from './terminal-run.js';

const HTTP_ONLY = ['method', 'header', 'body', 'bodyFile', 'path', 'cookies', 'timeline', 'rate', 'duration', 'failOn', 'adminUrl', 'insecure'] as const;
const MAX_CONNECTIONS = 10_000_000;

export function tcpTarget(text: string): { host: string; port: number } {
  const withScheme = /^[a-z]+:\/\//i.test(text) ? text : `tcp://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new LbError('LB_USAGE', `--url must be tcp://host:port with --tcp, got ${JSON.stringify(text)}`);
  }
  if (!['tcp:', 'http:', 'https:'].includes(url.protocol) || url.hostname === '' || (url.pathname !== '' && url.pathname !== '/') || url.search !== '') {
    throw new LbError('LB_USAGE', `--url must be tcp://host:port with --tcp, got ${JSON.stringify(text)}`);
  }
  const port = url.port === '' ? (url.protocol === 'https:' ? 443 : url.protocol === 'http:' ? 80 : NaN) : Number(url.port);
  if (!Number.isInteger(port)) throw new LbError('LB_USAGE', `--url needs a port with --tcp, got ${JSON.stringify(text)}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port };
}

export async function runTcpLoadtest(args: LoadtestArgs): Promise<void> {
  const flags = args as Record<string, unknown>;
  const httpOnly = HTTP_ONLY.filter((f) => flags[f] !== undefined).map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
  if (httpOnly.length > 0) throw new LbError('LB_USAGE', `${httpOnly.join(', ')}: HTTP only, not with --tcp`);
  const urls = args.url === undefined ? [] : Array.isArray(args.url) ? args.url : [args.url];
  if (urls.length > 1) throw new LbError('LB_USAGE', `--tcp takes one --url, got ${urls.length}`);
  const { host, port } = tcpTarget(urls[0] ?? DEFAULT_URL.replace('http:', 'tcp:'));
  const connections = args.requests ?? 100;
  if (!Number.isInteger(connections) || connections < 1 || connections > MAX_CONNECTIONS) throw new LbError('LB_USAGE', `--requests must be an integer 1-${MAX_CONNECTIONS}, got ${connections}`);
  const concurrency = args.concurrent ?? 10;
  const bytes = args.bytes ?? 1024;
  const run = new TcpLoadRun({ host, port, connections, concurrency, bytes, names: args.names !== false, timeoutMs: Math.round((args.timeout ?? 10) * 1000) });
  const result = await runInTerminal(run, args.json === true, (p: TcpRunEvents['progress'][0]) => `${p.completed + p.failed}/${connections} connections, ${p.failed} failed, ${(p.elapsedMs / 1000).toFixed(1)} s`);
  if (result.completed === 0 && result.failed > 0 && !result.interrupted) {
    const [kind, count] = commonestError(result.errors);
    throw new LbError('LB_TARGET_UNREACHABLE', `every connection to ${host}:${port} failed: ${kind} (${count} of ${result.connections})`);
  }
  const summary = summarizeTcp(result, `${host}:${port}`, concurrency, bytes);
  process.stdout.write(args.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatTcpSummary(summary));
  if (result.interrupted) throw new LbError('LB_INTERRUPTED', `interrupted after ${result.connections} connections; the summary above covers them`);
}
