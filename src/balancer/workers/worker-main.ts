/**
 * The entry point of one `lb serve --workers N` worker process (forked by primary.ts). It serves traffic
 * on the shared port with the state the primary sends: it decides nothing itself but its own circuit
 * breakers, whose openings it reports. Like the command layer, it owns its process: it alone sets the
 * exit code.
 *
 * Signals: Ctrl-C reaches the whole process group, but the primary drives shutdown (it sends `shutdown`),
 * so SIGINT and SIGHUP are ignored here; SIGTERM sent to this worker alone finishes its requests and exits
 * (the primary starts a new one). If the primary dies, the IPC channel closes and the worker stops too.
 */
import { LbError } from '../../shared/errors.js';
import { optimiseSooner, raiseMallocTrimThreshold } from '../../shared/process-tuning.js';
import type { Logger } from '../../shared/log.js';
import { startBalancer, type BalancerHandle } from '../balancer.js';
import { openAccessLog, processLogger } from '../process-outputs.js';
import { isToWorker, RELAYED_EVENTS, type FromWorker, type ServerLatency, type ToWorker, type WorkerReport } from './messages.js';

const REPORT_EVERY_MS = 1000;

const tell = (message: FromWorker): void => {
  if (process.connected) process.send?.(message);
};

let balancer: BalancerHandle | null = null;
let logger: Logger | null = null;
/** Messages that arrive while the balancer starts, applied in order once it runs. */
const early: ToWorker[] = [];
let stopping: Promise<void> | null = null;

process.on('message', (message: unknown) => {
  if (!isToWorker(message)) return;
  if (message.type === 'start') void start(message);
  else if (balancer === null) early.push(message);
  else void handle(balancer, message);
});
process.on('SIGINT', () => undefined);
process.on('SIGHUP', () => undefined);
process.on('SIGTERM', () => void stop());
process.on('disconnect', () => void stop());
tell({ type: 'ready' });

async function start(message: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  raiseMallocTrimThreshold();
  optimiseSooner();
  try {
    logger = await processLogger(message.config.logLevel, message.workerId);
    const accessLog = message.accessLog === null ? undefined : await openAccessLog(message.accessLog);
    balancer = await startBalancer(message.config, { role: 'worker', logger, seed: message.seed, ...(accessLog ? { accessLog } : {}) });
  } catch (err) {
    tell({ type: 'start-failed', code: err instanceof LbError ? err.code : null, message: (err as Error).message });
    process.exitCode = 1;
    process.disconnect();
    return;
  }
  const running = balancer;
  running.control.on('change', (change) => {
    if (change.server !== null && RELAYED_EVENTS.has(change.type)) tell({ type: 'observed', event: change.type, server: change.server, detail: change.detail });
  });
  for (const queued of early.splice(0)) await handle(running, queued);
  tell({ type: 'listening', port: running.port, url: running.url });
  // Unasked, once a second: a worker that dies leaves the primary its counts up to a second before.
  setInterval(() => void report(running, false).then((r) => tell({ type: 'report', id: 0, report: r })), REPORT_EVERY_MS).unref();
}

async function handle(running: BalancerHandle, message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'command':
      try {
        running.apply(message.command);
      } catch (err) {
        // The primary applied it first, so a refusal here means the two disagree: worth a loud line.
        logger?.error(`command ${message.command.type} from the primary refused: ${(err as Error).message}`);
      }
      return;
    case 'circuit':
      running.followCircuit(message.server, message.open);
      return;
    case 'report':
      tell({ type: 'report', id: message.id, report: await report(running, message.metrics) });
      return;
    case 'ping':
      tell({ type: 'pong', id: message.id });
      return;
    case 'shutdown':
      await stop();
      return;
    case 'start':
      return;
  }
}

async function report(running: BalancerHandle, metrics: boolean): Promise<WorkerReport> {
  const now = performance.now();
  const latency = new Map<string, ServerLatency>();
  for (const server of running.pool.servers) latency.set(server.id, { total: server.latency.export(), recent: server.recentLatency.merged(now).export() });
  return {
    pid: process.pid,
    rssBytes: process.memoryUsage.rss(),
    snapshot: running.stats(),
    history: running.history().requests,
    latency,
    metrics: metrics ? await running.metricsJson() : null,
  };
}

function stop(): Promise<void> {
  return (stopping ??= (async () => {
    await balancer?.close();
    if (process.connected) process.disconnect();
  })());
}
