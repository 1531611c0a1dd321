/**
 * `lb serve --workers N`: the primary process. It owns what must exist once (configuration and reload,
 * the admin listener, active health checks, the state file, the event history) and proxies nothing; N
 * worker processes (node:cluster, which hands each accepted connection of the shared port to a worker)
 * serve the traffic. The control plane is the seam: every command the primary applies, whoever asked
 * (admin API, reload, a health verdict), is replayed in every worker in the same order; a worker that
 * starts later gets the state first (workers/messages.ts). Counters are the workers': the admin API's
 * views ask each worker for a report and sum them (merge.ts), and /metrics sums their registries as
 * prom-client's AggregatorRegistry does.
 *
 * Passive health: each worker's breaker decides, the primary relays an opening (or closing) to the others,
 * so a server failing in one worker leaves every worker's rotation within one IPC hop.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { AggregatorRegistry } from 'prom-client';
import type { AlgorithmName, WorkerSnapshot } from '../../shared/api-types.js';
import { LbError, type LbErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { RawBody, type LoadTestControl } from '../admin.js';
import { startBalancer, type AdminViews, type BalancerHandle, type WorkerSeed } from '../balancer.js';
import type { BalancerConfig } from '../config.js';
import type { Command } from '../control/commands.js';
import { readStateFile } from '../control/runtime-state.js';
import type { ReloadReport } from '../control/reload-plan.js';
import type { ServerPool } from '../pool.js';
import { mergeHistory, mergeStats } from './merge.js';
import { isFromWorker, RELAYED_EVENTS, type FromWorker, type PrometheusJson, type ToWorker, type WorkerReport } from './messages.js';

/** How long a report may take before the worker's last one stands in for it. */
const REPORT_TIMEOUT_MS = 1000;
/** A worker slot that keeps dying is restarted at most this often (a crash loop must not spin a core). */
const MIN_RESTART_INTERVAL_MS = 1000;
/** Exited workers whose counts still add to the totals; past this many, the oldest are forgotten. */
const MAX_RETIRED_REPORTS = 64;

export interface PrimaryOptions {
  logger: Logger;
  loadTests?: (trafficUrl: string) => LoadTestControl;
  /** `--access-log`: each worker opens it (appending). */
  accessLog: string | null;
  /** The worker processes' script; the built worker-main.js beside this file by default. */
  workerScript?: string;
}

/** What `lb serve` drives, the same with one process or many. */
export interface PrimaryHandle {
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly adminPort: number;
  readonly pool: ServerPool;
  algorithm(): AlgorithmName;
  reload(next: BalancerConfig): ReloadReport;
  /** Resolves once every worker applied the changes made so far. */
  settled(): Promise<void>;
  workers(): WorkerSnapshot[];
  close(): Promise<void>;
}

interface Slot {
  id: number;
  worker: Worker | null;
  state: WorkerSnapshot['state'];
  /** The worker has its state: commands go to it from then on, in order. */
  seeded: boolean;
  restarts: number;
  startedAt: number;
  last: WorkerReport | null;
}

export async function startPrimary(config: BalancerConfig, options: PrimaryOptions): Promise<PrimaryHandle> {
  const { logger } = options;
  // Every worker must accept every other's sticky cookies: one secret, drawn here when none is configured.
  const shared: BalancerConfig = structuredClone(config);
  shared.sticky.secret ??= randomBytes(32).toString('base64url');
  cluster.setupPrimary({
    exec: options.workerScript ?? fileURLToPath(new URL('./worker-main.js', import.meta.url)),
    args: [],
    serialization: 'advanced',
  });

  const slots: Slot[] = Array.from({ length: config.workers }, (_, i) => ({ id: i + 1, worker: null, state: 'starting', seeded: false, restarts: 0, startedAt: 0, last: null }));
  const retired: WorkerReport[] = [];
  const openCircuits = new Set<string>();
  let balancer: BalancerHandle | null = null;
  let closing = false;
  let nextReportId = 1;
  const waiting = new Map<number, (report: WorkerReport) => void>();
  const pongs = new Map<number, () => void>();

  // Before the primary's own control plane exists, workers start from the state file, as it will.
  const savedRuntime = config.stateFile === null ? null : await readStateFile(config.stateFile);
  const seed = (): WorkerSeed =>
    balancer === null
      ? { reloaded: null, runtime: savedRuntime, health: [], openCircuits: [] }
      : {
          reloaded: balancer.control.fileConfig === shared ? null : withSecret(balancer.control.fileConfig),
          runtime: balancer.control.runtimeState(),
          health: balancer.pool.servers.map((s) => ({ server: s.id, healthy: s.healthy })),
          openCircuits: [...openCircuits],
        };
  const withSecret = (next: BalancerConfig): BalancerConfig => ({ ...next, sticky: { ...next.sticky, secret: shared.sticky.secret } });

  const send = (slot: Slot, message: ToWorker): void => {
    if (slot.worker === null || !slot.seeded || !slot.worker.isConnected()) return;
    try {
      slot.worker.send(message);
    } catch (err) {
      // The channel closed between the check and the send: the exit handler restarts the worker.
      logger.debug(`worker ${slot.id}: message not sent (${(err as Error).message})`);
    }
  };
  const broadcast = (message: ToWorker, except: Slot | null = null): void => {
    for (const slot of slots) if (slot !== except) send(slot, message);
  };

  const onMessage = (slot: Slot, message: FromWorker): void => {
    switch (message.type) {
      case 'report': {
        slot.last = message.report;
        waiting.get(message.id)?.(message.report);
        return;
      }
      case 'pong':
        pongs.get(message.id)?.();
        return;
      case 'observed': {
        const server = balancer?.pool.get(message.server);
        if (server === undefined || balancer === null || !RELAYED_EVENTS.has(message.event)) return;
        const open = message.event === 'circuit-open';
        if (message.event !== 'ejection-refused') {
          // Each change of a server's circuit is recorded and relayed once, whichever worker saw it first.
          if (open === openCircuits.has(server.id)) return;
          if (open) openCircuits.add(server.id);
          else openCircuits.delete(server.id);
          broadcast({ type: 'circuit', server: server.id, open }, slot);
        }
        balancer.control.observe(message.event, server, `${message.detail} (worker ${slot.id})`);
        return;
      }
      case 'ready':
        // The state as of now; every command applied from now on is broadcast to it after this, in order.
        // (Nothing is sent before: a message that arrives before the worker listens for messages is lost.)
        slot.seeded = true;
        send(slot, { type: 'start', workerId: slot.id, config: shared, seed: seed(), accessLog: options.accessLog });
        return;
      case 'listening':
      case 'start-failed':
        // Handled by spawn()'s own listener.
        return;
    }
  };

  /** Forks the slot's worker with the current state; resolves when it listens. */
  const spawn = (slot: Slot): Promise<{ port: number; url: string }> => {
    const worker = cluster.fork({ LB_WORKER_ID: String(slot.id) });
    slot.worker = worker;
    slot.state = 'starting';
    slot.seeded = false;
    slot.startedAt = Date.now();
    worker.on('message', (message: unknown) => {
      if (isFromWorker(message)) onMessage(slot, message);
    });
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
    // A send that races the worker's exit fails with EPIPE here; the exit handler deals with the exit.
    worker.on('error', (err: Error) => logger.debug(`worker ${slot.id}: ${err.message}`));
    return new Promise((resolve, reject) => {
      const onStart = (message: unknown): void => {
        if (!isFromWorker(message)) return;
        if (message.type === 'listening') {
          slot.state = 'up';
          worker.off('message', onStart);
          worker.off('exit', onEarlyExit);
          resolve({ port: message.port, url: message.url });
        } else if (message.type === 'start-failed') {
          worker.off('exit', onEarlyExit);
          reject(new LbError((message.code ?? 'LB_INTERNAL') as LbErrorCode, message.message));
        }
      };
      const onEarlyExit = (code: number | null, signal: string | null): void =>
        reject(new LbError('LB_INTERNAL', `worker ${slot.id} exited while starting (${signal ?? `code ${code}`})`));
      worker.on('message', onStart);
      worker.once('exit', onEarlyExit);
    });
  };

  const onExit = (slot: Slot, worker: Worker, code: number | null, signal: string | null): void => {
    if (slot.worker !== worker) return;
    slot.worker = null;
    if (slot.last !== null) retire(slot.last);
    slot.last = null;
    if (closing || balancer === null) return;
    slot.restarts += 1;
    slot.state = 'starting';
    const delay = Math.max(0, slot.startedAt + MIN_RESTART_INTERVAL_MS - Date.now());
    logger.warn(`worker ${slot.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}): restarting${delay > 0 ? ` in ${delay} ms` : ''} (restart ${slot.restarts})`, {
      event: 'worker-restarted',
      worker: slot.id,
    });
    setTimeout(() => {
      if (closing) return;
      spawn(slot).catch((err: Error) => logger.error(`worker ${slot.id} could not restart: ${err.message}`));
    }, delay).unref();
  };

  /** A gone worker's counts stay in the totals (its in-flight requests ended with it). */
  const retire = (report: WorkerReport): void => {
    retired.push({ ...report, snapshot: { ...report.snapshot, totals: { ...report.snapshot.totals, activeRequests: 0, queueLength: 0 }, servers: report.snapshot.servers.map((s) => ({ ...s, activeRequests: 0 })) } });
    if (retired.length > MAX_RETIRED_REPORTS) retired.shift();
  };

  /** Asks every running worker for its counts; a worker that does not answer in time counts with its last report. */
  const collect = async (metrics: boolean): Promise<WorkerReport[]> => {
    const asked = slots.filter((s) => s.worker !== null && s.state !== 'starting');
    const answers = await Promise.all(
      asked.map(
        (slot) =>
          new Promise<WorkerReport | null>((resolve) => {
            const id = nextReportId++;
            const timer = setTimeout(() => {
              waiting.delete(id);
              slot.state = 'unresponsive';
              resolve(metrics ? null : slot.last);
            }, REPORT_TIMEOUT_MS);
            waiting.set(id, (report) => {
              clearTimeout(timer);
              waiting.delete(id);
              slot.state = 'up';
              resolve(report);
            });
            send(slot, { type: 'report', id, metrics });
          }),
      ),
    );
    return [...answers.filter((r): r is WorkerReport => r !== null), ...retired];
  };
  // Viewers poll every second or so, several at once: one round of reports serves every request in flight.
  let collecting: Promise<WorkerReport[]> | null = null;
  const reports = (): Promise<WorkerReport[]> =>
    (collecting ??= collect(false).finally(() => {
      collecting = null;
    }));

  const workerSnapshots = (): WorkerSnapshot[] =>
    slots.map((slot) => ({
      id: slot.id,
      pid: slot.worker?.process.pid ?? 0,
      state: slot.state,
      requests: slot.last?.snapshot.totals.requests ?? 0,
      activeRequests: slot.last?.snapshot.totals.activeRequests ?? 0,
      rssBytes: slot.last?.rssBytes ?? 0,
      restarts: slot.restarts,
    }));

  /** Every running worker has applied every command sent so far (or did not answer within the timeout). */
  const settled = async (): Promise<void> => {
    await Promise.all(
      slots
        .filter((s) => s.seeded && s.worker !== null)
        .map(
          (slot) =>
            new Promise<void>((resolve) => {
              const id = nextReportId++;
              const done = (): void => {
                clearTimeout(timer);
                pongs.delete(id);
                resolve();
              };
              const timer = setTimeout(done, REPORT_TIMEOUT_MS);
              pongs.set(id, done);
              send(slot, { type: 'ping', id });
            }),
        ),
    );
  };

  const views = (local: AdminViews): AdminViews => ({
    settled,
    stats: async () => mergeStats(await local.stats(), await reports(), workerSnapshots()),
    history: async (since) => {
      const own = await local.history(since);
      return { ...own, requests: mergeHistory(await reports(), own.capacity) };
    },
    metrics: async () => {
      const own = await balancer!.metricsJson();
      const workers = (await collect(true)).map((r) => r.metrics).filter((m): m is PrometheusJson => m !== null);
      const registry = AggregatorRegistry.aggregate([own, ...workers]);
      return new RawBody(await registry.metrics(), registry.contentType);
    },
  });

  let first: { port: number; url: string };
  try {
    const started = await Promise.all(slots.map(spawn));
    first = started[0]!;
  } catch (err) {
    closing = true;
    await stopWorkers(slots, 0);
    throw err;
  }
  balancer = await startBalancer(shared, { role: 'primary', logger, primary: { url: first.url, port: first.port, views }, ...(options.loadTests ? { loadTests: options.loadTests } : {}) });
  const control = balancer.control;
  control.on('applied', (command: Command) => {
    // A server back up is un-ejected everywhere by the command itself (control-plane.ts setHealth).
    if (command.type === 'setHealth' && command.healthy) openCircuits.delete(command.server);
    if (command.type === 'removeServer') openCircuits.delete(control.pool.get(command.server)?.id ?? command.server);
    if (command.type === 'reset') retired.length = 0;
    broadcast({ type: 'command', command: command.type === 'applyConfig' ? { ...command, config: withSecret(command.config) } : command });
  });
  const handle = balancer;
  logger.info(`${config.workers} workers serving ${first.url}: ${slots.map((s) => `${s.id}=pid ${s.worker?.process.pid}`).join(', ')}`);

  let closed: Promise<void> | null = null;
  return {
    url: handle.url,
    adminUrl: handle.adminUrl,
    port: handle.port,
    adminPort: handle.adminPort,
    pool: handle.pool,
    algorithm: () => handle.algorithm(),
    reload: (next) => handle.reload(next),
    settled,
    workers: workerSnapshots,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        await handle.close();
        await stopWorkers(slots, config.shutdownTimeoutMs);
      })()),
  };
}

/** Asks each worker to finish its requests and exit; one that outlives the shutdown timeout is killed. */
async function stopWorkers(slots: Slot[], timeoutMs: number): Promise<void> {
  await Promise.all(
    slots.map(async (slot) => {
      const worker = slot.worker;
      if (worker === null || worker.isDead()) return;
      // Not events.once: it would reject on the EPIPE 'error' a send to an exiting worker emits.
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      try {
        worker.send({ type: 'shutdown' } satisfies ToWorker);
      } catch {
        // Its channel is closing (it is on its way out): a signal says the same.
        worker.process.kill('SIGTERM');
      }
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), timeoutMs + 2000);
      await exited;
      clearTimeout(timer);
    }),
  );
}
