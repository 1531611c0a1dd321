/**
 * `lb loadtest` wired: options -> runner -> report. The runner emits progress; the progress line (TTY
 * only, on stderr, cleared at the end) and the summary printer subscribe. Ctrl-C stops the run and prints
 * the summary so far.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AdminClient } from '../shared/admin-client.js';
import { LbError } from '../shared/errors.js';
import type { LoadtestArgs } from './command.js';
import { toLoadOptions } from './options.js';
import { checkThresholds, formatProgress, formatSummary, parseThreshold, summarize } from './report.js';
import { LoadRun, type Progress } from './runner.js';
import { commonestError, runInTerminal } from './terminal-run.js';

export async function runLoadtest(args: LoadtestArgs): Promise<void> {
  const options = await toLoadOptions(args);
  const thresholds = (args.failOn ?? []).map(parseThreshold);
  for (const target of options.entryPoints ?? [options.url]) {
    const hostname = target.hostname.replace(/^\[|\]$/g, '');
    if (isIP(hostname) !== 0) continue;
    try {
      await lookup(hostname);
    } catch {
      throw new LbError('LB_TARGET_UNREACHABLE', `cannot resolve ${hostname} (from --url ${target.href})`);
    }
  }
  const weights = args.adminUrl === undefined ? null : await readWeights(args.adminUrl);

  const result = await runInTerminal(new LoadRun(options), args.json === true, (p: Progress) => formatProgress(p, options.requests, options.durationMs));

  if (result.completed === 0 && result.errored > 0 && !result.interrupted) {
    // Nothing was measured: a throughput and a latency histogram of failed attempts would mislead.
    const [kind, count] = commonestError(result.errors);
    const hint = kind === 'tls' ? ' (a self-signed certificate? add --insecure)' : '';
    const what = kind === 'connect refused' || kind === 'dns' ? `cannot connect to ${options.url.origin}: ${kind}` : `every request to ${options.url.origin} failed: ${kind}${hint}`;
    throw new LbError('LB_TARGET_UNREACHABLE', `${what} (${count} of ${result.issued} requests)`);
  }
  const target = options.entryPoints === undefined ? options.url.href : options.entryPoints.map((u) => u.href).join(' + ');
  const summary = summarize(result, { target, method: options.method, concurrency: options.concurrency, rateRps: options.rateRps }, weights);
  // --json records every option that shaped the run, so a saved result can be reproduced.
  summary.options = {
    url: options.entryPoints === undefined ? options.url.href : options.entryPoints.map((u) => u.href),
    requests: options.requests,
    durationMs: options.durationMs,
    concurrency: options.concurrency,
    rateRps: options.rateRps,
    method: options.method,
    headers: options.headers.filter((_, i) => i % 2 === 0),
    bodyBytes: options.body?.length ?? 0,
    timeoutMs: options.timeoutMs,
    paths: options.paths.length,
    cookies: options.cookies,
    timeline: options.timeline,
    insecure: options.insecure,
    failOn: thresholds.map((t) => t.expression),
  };
  summary.thresholds = checkThresholds(summary, thresholds);
  process.stdout.write(args.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  const crossed = summary.thresholds.filter((t) => t.crossed);
  if (crossed.length > 0) throw new LbError('LB_THRESHOLD_CROSSED', `thresholds crossed: ${crossed.map((t) => t.expression).join(', ')}`);
  if (result.interrupted) throw new LbError('LB_INTERRUPTED', `interrupted after ${result.issued} requests; the summary above covers them`);
}

async function readWeights(adminUrl: string): Promise<Map<string, number> | null> {
  try {
    const stats = await new AdminClient({ url: adminUrl, token: process.env.LB_ADMIN_TOKEN ?? null }).stats();
    return new Map(stats.servers.map((s) => [s.id, s.weight]));
  } catch (err) {
    process.stderr.write(`lb loadtest: cannot read weights from ${adminUrl} (${(err as Error).message}); comparing shares without them\n`);
    return null;
  }
}
