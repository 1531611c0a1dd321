/**
 * Composition root of the balancer: pool + algorithm + upstream pools + proxy + admin API, on two
 * listeners (traffic and admin, as Caddy and HAProxy keep management off the traffic port).
 * `startBalancer` never exits the process and can run many times in one test process; `close()` stops
 * accepting, lets in-flight requests finish (up to `shutdownTimeoutMs`), then cuts what is left.
 */
import { EventEmitter, once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import { ALGORITHM_NAMES, type AlgorithmName, type BalancerEventType, type HistoryResponse, type StatsSnapshot } from '../shared/api-types.js';
import { LbError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { defaultRandom, type Random } from '../shared/random.js';
import { VERSION } from '../shared/version.js';
import { round } from '../shared/round.js';
import { createAdminHandler, RawBody, type AdminTarget, type LoadTestControl } from './admin.js';
import type { AlgorithmOptions } from './algorithms/index.js';
import type { BalancerConfig } from './config.js';
import { ControlPlane, type CommandResults } from './control/control-plane.js';
import type { Command } from './control/commands.js';
import { configView } from './control/config-view.js';
import type { ReloadReport } from './control/reload-plan.js';
import { readStateFile, StateFileWriter, type RuntimeSnapshot } from './control/runtime-state.js';
import { ActiveHealthChecker } from './health/active.js';
import { PassiveHealth } from './health/passive.js';
import { BalancerMetrics } from './metrics.js';
import { ServerPool } from './pool.js';
import type { AccessLog } from './access-log.js';
import { createProxyHandler, type InflightCounter, type ProxyDeps, type ProxyOptions } from './proxy.js';
import { RequestQueue } from './request-queue.js';
import { RetryBudget } from './retry-budget.js';
import type { Server } from './server.js';
import { BalancerStats } from './stats.js';
import { requestEventOf, type OutcomeSink, type RequestEvent } from './outcome.js';
import { StickySessions } from './sticky.js';
import { Upstreams, type UpstreamTls } from './upstreams.js';
import { createUpgradeHandler, endWithError } from './websocket.js';
import { ClientConnections } from './edge/client-connections.js';
import { SlowStart } from './health/slow-start.js';
import { DynamicWeights } from './health/dynamic-weights.js';
import { checkServerInit } from './edge/server-address.js';
import { RateLimiter } from './edge/rate-limit.js';
import { formatHashKey } from './hash-key.js';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { effectiveCheckType, probeTcp } from './tcp/health-probe.js';
import { rehearseConnectionShapes } from './shape-rehearsal.js';

/** A server changed state (down, up, ejected, drained...): the embedding API's `server-state` event. */
export interface ServerStateEvent {
  server: string;
  type: BalancerEventType;
  detail: string;
  /** The server's state after the change. */
  state: string;
}

export interface BalancerEvents {
  request: [RequestEvent];
  'server-state': [ServerStateEvent];
}

export interface BalancerHandle extends EventEmitter<BalancerEvents> {
  /** One round of active health checks now (tests; also what the scheduler runs). */
  checkHealth(): Promise<void>;
  /** Another worker's circuit for `server` opened or closed: this process follows (workers only). */
  followCircuit(server: string, open: boolean): void;
  /** Resolves once the last change is in force wherever traffic is served (at once for one process). */
  settled(): Promise<void>;
  /** This process's own snapshot and history (the admin API's may be a primary's sum over its workers). */
  stats(): StatsSnapshot;
  history(sinceEventId?: number): HistoryResponse;
  /** /metrics as prom-client's JSON, for the primary to sum over its workers. */
  metricsJson(): Promise<MetricObjectWithValues<MetricValue<string>>[]>;
  /** Applies a re-read config: what changed in the file; runtime changes elsewhere are kept. See control/reload-plan.ts. */
  reload(next: BalancerConfig): ReloadReport;
  /** Every change of state goes through here (or `apply`, its shorthand): see control/commands.ts. */
  readonly control: ControlPlane;
  apply<C extends Command>(command: C): CommandResults[C['type']];
  /** Traffic URL (loopback form when listening on all interfaces). */
  readonly url: string;
  readonly adminUrl: string;
  readonly port: number;
  readonly adminPort: number;
  readonly pool: ServerPool;
  readonly admin: AdminTarget;
  algorithm(): AlgorithmName;
  close(): Promise<void>;
}

/** A server is back in rotation after these: slow_start ramps it. */
const RAMP_EVENTS = new Set<BalancerEventType>(['server-up', 'circuit-closed', 'server-undrained', 'server-added']);

/** Worth a warning in the log: a server lost, or a protection that could not act. */
const WARNING_EVENTS = new Set<BalancerEventType>(['server-down', 'circuit-open', 'ejection-refused']);

/**
 * `single`: one process does everything (the default, and the embedding API). With `--workers`
 * (workers/primary.ts) the work splits: the `primary` owns the admin listener, reload, active health
 * checks and the state file, and proxies nothing; each `worker` serves traffic on the shared port and takes
 * its state from the primary (commands replayed, never decided locally), so it opens no admin listener,
 * runs no checks and logs no state changes (the primary logs each once).
 */
export type BalancerRole = 'single' | 'primary' | 'worker';

/** What a worker starts from: the primary's runtime changes, health verdicts and open circuits. */
export interface WorkerSeed {
  /** The file as the primary last reloaded it (null: as at start); applied as a reload, so restart-only settings stay. */
  reloaded: BalancerConfig | null;
  runtime: RuntimeSnapshot | null;
  health: { server: string; healthy: boolean }[];
  openCircuits: string[];
}

/** The admin API's read-only views; the primary replaces them with its workers' merged ones. */
export type AdminViews = Pick<AdminTarget, 'stats' | 'history' | 'metrics' | 'settled'>;

export interface StartOptions {
  logger?: Logger;
  /** Default `single`; see BalancerRole. */
  role?: BalancerRole;
  /** A worker's starting state, applied before it listens (role `worker`). */
  seed?: WorkerSeed;
  /** The primary's traffic URL (its workers listen there) and its merged views (role `primary`). */
  primary?: { url: string; port: number; views: (local: AdminViews) => AdminViews };
  /** One JSON line per request; the caller opens the stream (see access-log.ts). */
  accessLog?: AccessLog;
  /** The web dashboard's built-in tests, given the balancer's own traffic URL (`lb serve` wires the load runner). */
  loadTests?: (trafficUrl: string) => LoadTestControl;
  /** Randomness for the randomised algorithms; seeded in tests. Default Math.random. */
  random?: Random;
}


export async function startBalancer(config: BalancerConfig, options: StartOptions = {}): Promise<BalancerHandle> {
  // Layer-4 mode is its own composition over the same pool, control plane and admin API (tcp/balancer.ts).
  if (config.mode === 'tcp') return (await import('./tcp/balancer.js')).startTcpBalancer(config, options);
  const logger = options.logger ?? silentLogger;
  const role = options.role ?? 'single';
  const startedAt = new Date();
  const pool = new ServerPool(config.servers, {
    maxConns: config.limits.maxConnsPerServer,
    breaker: { failThreshold: config.circuitBreaker.failThreshold, openTimeMs: config.circuitBreaker.openTimeMs },
    // Without active checks nothing would ever mark a server healthy: start them in rotation then.
    startHealthy: config.healthCheck.startHealthy || !config.healthCheck.enabled,
    allowHosts: config.allowHosts,
  });
  const stats = new BalancerStats();
  const emitter = new EventEmitter<BalancerEvents>();
  const tlsFiles = await readTlsFiles(config);
  const upstreamTls: UpstreamTls = { ca: tlsFiles.upstreamCa, rejectUnauthorized: !config.tls.upstreamInsecure };
  const upstreams = new Upstreams({ connectionsPerServer: 128, connectTimeoutMs: config.connectTimeoutMs, tls: upstreamTls });
  const inflight: InflightCounter = { count: 0 };
  const algorithmOptions: AlgorithmOptions = {
    random: options.random ?? defaultRandom,
    nowMs: () => performance.now(),
    consistentHash: config.consistentHash,
    hashKey: config.hashKey,
  };
  const sticky = config.sticky.mode === 'off' ? null : new StickySessions(config.sticky, () => Date.now());
  pool.on('change', (servers) => sticky?.rebuild(servers));
  pool.on('server-removed', (server) => upstreams.release(server));
  const queue = new RequestQueue(config.limits.maxQueue, config.limits.queueTimeoutMs);
  const retryBudget = new RetryBudget(config.limits.retryBudgetRatio, config.limits.retryBudgetMin);
  const rateLimiter = config.rateLimit.ratePerSecond > 0 ? new RateLimiter(config.rateLimit) : null;
  let checker: ActiveHealthChecker | null = null;
  const control = new ControlPlane(pool, config, algorithmOptions, {
    reset: () => {
      stats.reset();
      rateLimiter?.resetCounters();
      sticky?.clear();
    },
    configApplied: (next, _previous, healthCheckChanged) => {
      proxyOptions.timeoutMs = next.timeoutMs;
      proxyOptions.retries = next.retries;
      if (healthCheckChanged) {
        checker?.close();
        checker = startChecker(next);
        checker?.start();
      }
    },
  });
  // The one stream of state changes: history, logs and the embedding event all read it.
  control.on('change', (change) => {
    stats.recordEvent(change);
    if (change.server !== null && change.state !== null) emitter.emit('server-state', { server: change.server, type: change.type, detail: change.detail, state: change.state });
    if (role === 'worker') return;
    const line = `${change.type}${change.server !== null ? ` ${change.server}` : ''}${change.detail ? `: ${change.detail}` : ''}`;
    const fields = { event: change.type, eventId: change.id, server: change.server, state: change.state, detail: change.detail };
    if (WARNING_EVENTS.has(change.type)) logger.warn(line, fields);
    else logger.info(line, fields);
  });
  // A server coming back ramps up (slow_start); the ones configured at start take their weight at once.
  const slowStart = new SlowStart(pool, config.slowStartMs);
  control.on('change', (change) => {
    if (change.server === null || !RAMP_EVENTS.has(change.type)) return;
    const server = pool.get(change.server);
    if (server !== undefined) slowStart.begin(server);
  });
  const dynamicWeights = config.dynamicWeights ? new DynamicWeights(pool, 1000, (type, server, detail) => control.observe(type, server, detail)) : null;
  const passive = new PassiveHealth(pool, config.circuitBreaker, (type, server, detail) => control.observe(type, server, detail));
  const startChecker = (c: BalancerConfig): ActiveHealthChecker | null =>
    c.healthCheck.enabled && role !== 'worker'
      ? new ActiveHealthChecker(pool, c.healthCheck, (server, healthy, detail) => control.apply({ type: 'setHealth', server: server.id, healthy, detail }), upstreamTls, effectiveCheckType(c) === 'tcp' ? probeTcp : undefined)
      : null;
  checker = startChecker(config);
  const stateWriter = config.stateFile === null || role === 'worker' ? null : await restoreState(control, config.stateFile, logger);
  if (options.seed !== undefined) seedWorker(control, passive, options.seed, logger);
  const clientConnections = config.limits.maxConnsPerClient > 0 ? new ClientConnections(config.limits.maxConnsPerClient) : null;
  const metrics = new BalancerMetrics({
    pool,
    stats,
    sessionsActive: () => sticky?.stats().active ?? 0,
    queueLength: () => queue.length,
    rateLimiter,
  });

  const uptimeSeconds = (): number => Math.round((Date.now() - startedAt.getTime()) / 100) / 10;
  const activeRequests = (): number => pool.servers.reduce((sum, s) => sum + s.activeRequests, 0);

  // The sinks of the outcome stream, one call each per finished request.
  const accessLog = options.accessLog ?? null;
  let onRequest: OutcomeSink | null = null;
  const deps: ProxyDeps = {
    pool,
    algorithm: () => control.algorithm,
    sticky,
    upstreams,
    stats,
    logger,
    inflight,
    passive,
    retryBudget,
    queue,
    finished: (outcome) => {
      stats.record(outcome);
      metrics.record(outcome);
      if (accessLog !== null) accessLog.record(outcome);
      if (onRequest !== null) onRequest(outcome);
    },
    rateLimiter,
    rateLimitKey: config.rateLimit.key,
  };
  // The per-request event costs nothing until someone listens for it. (The typed emitter does not list
  // EventEmitter's own newListener/removeListener events, hence the plain view of it.)
  const plain = emitter as EventEmitter;
  plain.on('newListener', (name: string | symbol) => {
    if (name === 'request') onRequest = (o) => emitter.emit('request', requestEventOf(o));
  });
  plain.on('removeListener', (name: string | symbol) => {
    if (name === 'request' && emitter.listenerCount('request') === 0) onRequest = null;
  });
  // Mutable on purpose: a reload changes timeouts and retries for the next requests.
  const scheme = tlsFiles.cert === null ? 'http' : 'https';
  const proxyOptions: ProxyOptions = {
    timeoutMs: config.timeoutMs,
    retries: config.retries,
    forwardedProto: scheme,
    maxHeaders: config.limits.maxHeaders,
    serverHeader: config.serverHeader,
    revealServerInErrors: config.logLevel === 'debug',
    clientBodyTimeoutMs: config.limits.clientBodyTimeoutMs,
  };
  const proxy = createProxyHandler(deps, proxyOptions);
  // Client keep-alive longer than typical upstream idle timeouts (nginx uses 75 s) so clients reuse
  // connections; the header timeout is the slowloris guard (Node's own default is 60 s).
  // Node enforces headersTimeout only when it sweeps its connections (every 30 s by default): sweep at
  // least twice per timeout, so a 1 s header timeout means ~1 s.
  const sweepMs = Math.max(50, Math.min(1000, Math.floor(config.limits.clientHeaderTimeoutMs / 2)));
  const serverOptions = {
    keepAliveTimeout: config.limits.clientIdleTimeoutMs,
    headersTimeout: config.limits.clientHeaderTimeoutMs,
    requestTimeout: 0,
    connectionsCheckingInterval: sweepMs,
    // Node answers 431 itself past this many bytes of request line and headers.
    maxHeaderSize: config.limits.maxHeaderBytes,
  };
  const traffic: HttpServer =
    tlsFiles.cert === null || tlsFiles.key === null
      ? createServer(serverOptions, proxy)
      : createHttpsServer({ ...serverOptions, cert: tlsFiles.cert, key: tlsFiles.key }, proxy);
  // Node keeps at most maxHeadersCount fields and drops the rest silently: one more than the limit lets
  // the front door see the excess and answer 431 instead.
  traffic.maxHeadersCount = config.limits.maxHeaders + 1;
  traffic.on('connection', (socket: Socket) => {
    if (clientConnections !== null && !clientConnections.admit(socket)) {
      stats.count('connectionsRejected');
      socket.destroy();
      return;
    }
    metrics.trackConnection(socket);
  });
  // CONNECT asks for a tunnel to anywhere: a reverse proxy refuses it (Node would just drop the socket).
  traffic.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => undefined);
    const bytesOut = endWithError(socket, 'LB_METHOD_NOT_ALLOWED', 'CONNECT is not supported: lb is a reverse proxy, not a forward proxy');
    deps.finished({ kind: 'http', method: 'CONNECT', path: req.url ?? '', clientIp: req.socket.remoteAddress ?? '', server: null, status: 405, attempts: 0, queued: false, durationMs: 0, bytesOut, error: 'LB_METHOD_NOT_ALLOWED' });
  });
  // Upgraded connections (WebSockets) leave the HTTP server's books: kept here so close() can end them.
  const tunnels = new Set<Duplex>();
  const upgrade = createUpgradeHandler(deps, proxyOptions, upstreamTls);
  traffic.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    tunnels.add(socket);
    socket.once('close', () => tunnels.delete(socket));
    upgrade(req, socket, head);
  });

  let url = '';
  let adminUrl = '';
  const snapshot = (): StatsSnapshot => ({
    version: VERSION,
    mode: 'http',
    algorithm: control.algorithm.name,
    algorithms: ALGORITHM_NAMES,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: uptimeSeconds(),
    url,
    totals: stats.totals(activeRequests(), queue.length, rateLimiter?.limited ?? 0),
    sessions: sticky?.stats() ?? { mode: 'off', active: 0, capacity: 0, ttlSeconds: 0 },
    limits: {
      rateLimitPerSecond: config.rateLimit.ratePerSecond,
      rateLimitBurst: rateLimiter?.burst ?? 0,
      rateLimitKey: formatHashKey(config.rateLimit.key),
      rateLimitClients: rateLimiter?.trackedKeys ?? 0,
      rateLimitMaxClients: config.rateLimit.maxKeys,
      maxConnsPerClient: config.limits.maxConnsPerClient,
      maxHeaders: config.limits.maxHeaders,
      maxHeaderBytes: config.limits.maxHeaderBytes,
    },
    servers: pool.servers.map((s) => s.snapshot()),
  });

  const localViews = {
    stats: snapshot,
    metrics: async () => new RawBody(await metrics.render(), metrics.contentType),
    history: (since?: number) => stats.historyResponse(since),
  } satisfies AdminViews;
  const admin: AdminTarget = {
    loadTests: null,
    ...(options.primary?.views(localViews) ?? localViews),
    health: () => ({
      status: 'ok',
      version: VERSION,
      uptimeSeconds: uptimeSeconds(),
      servers: { total: pool.size, available: pool.servers.filter((s) => s.isAvailable()).length },
    }),
    // Named as the admin API's body, whose field a refusal points at.
    addServer: (init) => {
      // Checked here first so a refusal names the admin body's field; the pool checks again.
      checkServerInit(init, config.allowHosts, 'body');
      return control.apply({ type: 'addServer', server: init }).snapshot();
    },
    removeServer: (idOrAddress) => control.apply({ type: 'removeServer', server: idOrAddress }).snapshot(),
    updateServer: (idOrAddress, update) => control.apply({ type: 'updateServer', server: idOrAddress, ...update }).snapshot(),
    setAlgorithm: (name) => control.apply({ type: 'setAlgorithm', algorithm: name }),
    reset: () => control.apply({ type: 'reset' }),
    config: () => configView(control.fileConfig, pool.servers, control.algorithm.name),
  };
  // --store: this instance shares its configuration, health verdicts and sticky key with a cluster.
  // With --workers only the primary joins the cluster; its workers replay what it applies.
  const store = config.store.url === null || role === 'worker' ? null : await (await import('./store/index.js')).attachStore({ control, config, logger, admin, sticky, adminUrl: () => adminUrl, registry: metrics.registry });
  const adminServer = createServer(
    { headersTimeout: config.limits.clientHeaderTimeoutMs },
    createAdminHandler(admin, { token: config.adminToken, logger, corsOrigins: config.adminCors, adminHost: config.adminHost }),
  );

  // Runs beside the start (tens of ms); the primary serves no traffic.
  const rehearsal = role === 'primary' ? null : rehearseConnectionShapes();
  try {
    if (role !== 'primary') await listen(traffic, config.port, config.host, 'traffic');
    if (role !== 'worker') await listen(adminServer, config.adminPort, config.adminHost, 'admin');
  } catch (err) {
    await store?.close();
    traffic.close();
    adminServer.close();
    await upstreams.closeAll(0);
    await rehearsal;
    throw err;
  }
  checker?.start();
  dynamicWeights?.start();
  const port = options.primary?.port ?? (traffic.address() as AddressInfo).port;
  const adminPort = role === 'worker' ? 0 : (adminServer.address() as AddressInfo).port;
  url = options.primary?.url ?? `${scheme}://${displayHost(config.host)}:${port}`;
  admin.loadTests = options.loadTests?.(url) ?? null;
  adminUrl = role === 'worker' ? '' : `http://${displayHost(config.adminHost)}:${adminPort}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      // First: the other instances see this one leave at once.
      await store?.close();
      traffic.close();
      adminServer.close();
      checker?.close();
      slowStart.close();
      dynamicWeights?.close();
      admin.loadTests?.close();
      // Idle keep-alive connections would otherwise hold the listener open until they time out.
      await graceUntil(() => inflight.count === 0, config.shutdownTimeoutMs, () => traffic.closeIdleConnections());
      queue.clear();
      for (const socket of tunnels) socket.destroy();
      traffic.closeAllConnections();
      adminServer.closeAllConnections();
      await upstreams.closeAll(1000);
      await options.accessLog?.close();
      await stateWriter?.flush();
      await rehearsal;
    })());

  return balancerHandle(emitter, {
    url,
    adminUrl,
    port,
    adminPort,
    admin,
    control,
    passive,
    metrics,
    checker: () => checker,
    stats: snapshot,
    history: localViews.history,
    settled: async () => admin.settled?.(),
    close,
  });
}

/**
 * Shutdown's grace period, for both compositions: polls every 20 ms until `done()` or `timeoutMs` has
 * passed; `eachTurn` runs before every wait (HTTP closes the keep-alive connections gone idle since).
 */
export async function graceUntil(done: () => boolean, timeoutMs: number, eachTurn: () => void = () => undefined): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done() && Date.now() < deadline) {
    eachTurn();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** What both compositions (HTTP here, tcp/balancer.ts) hand out; the handle's derived methods are written once. */
export interface HandleParts {
  url: string;
  adminUrl: string;
  port: number;
  adminPort: number;
  admin: AdminTarget;
  control: ControlPlane;
  passive: PassiveHealth;
  metrics: BalancerMetrics;
  /** The checker in force now (a reload may replace it). */
  checker: () => ActiveHealthChecker | null;
  stats: () => StatsSnapshot;
  history: (sinceEventId?: number) => HistoryResponse;
  settled: () => Promise<void>;
  close: () => Promise<void>;
}

export function balancerHandle(emitter: EventEmitter<BalancerEvents>, parts: HandleParts): BalancerHandle {
  const { control, passive, metrics } = parts;
  return Object.assign(emitter, {
    url: parts.url,
    adminUrl: parts.adminUrl,
    port: parts.port,
    adminPort: parts.adminPort,
    pool: control.pool,
    admin: parts.admin,
    algorithm: () => control.algorithm.name,
    control,
    apply: <C extends Command>(command: C) => control.apply(command),
    checkHealth: async () => parts.checker()?.runRound(),
    followCircuit: (server: string, open: boolean) => {
      const s = control.pool.get(server);
      if (s !== undefined) passive.follow(s, open);
    },
    metricsJson: () => metrics.registry.getMetricsAsJSON(),
    stats: parts.stats,
    history: parts.history,
    settled: parts.settled,
    reload: (next: BalancerConfig): ReloadReport => control.apply({ type: 'applyConfig', config: next }),
    close: parts.close,
  });
}

/** A worker takes the primary's state before it listens, so its first request sees the same pool. */
function seedWorker(control: ControlPlane, passive: PassiveHealth, seed: WorkerSeed, logger: Logger): void {
  if (seed.reloaded !== null) control.apply({ type: 'applyConfig', config: seed.reloaded });
  if (seed.runtime !== null) {
    for (const line of control.restore(seed.runtime)) if (line.includes('skipped')) logger.warn(`worker start: ${line}`);
  }
  for (const { server, healthy } of seed.health) {
    if (control.pool.get(server)?.healthy !== healthy) control.apply({ type: 'setHealth', server, healthy, detail: 'as the primary sees it' });
  }
  for (const id of seed.openCircuits) {
    const server = control.pool.get(id);
    if (server !== undefined) passive.follow(server, true);
  }
}

/** Replays the saved runtime changes, then saves every new one (atomically) as it happens. */
export async function restoreState(control: ControlPlane, path: string, logger: Logger): Promise<StateFileWriter> {
  const saved = await readStateFile(path);
  if (saved !== null) {
    const applied = control.restore(saved);
    logger.info(`${path}: restored runtime changes: ${applied.length ? applied.join('; ') : 'none'}`);
  }
  const writer = new StateFileWriter(path, (err) => logger.error(`${path}: cannot save runtime changes: ${err.message}`));
  control.on('runtime', (state) => writer.save(state));
  return writer;
}

async function readTlsFiles(config: BalancerConfig): Promise<{ cert: Buffer | null; key: Buffer | null; upstreamCa: Buffer | null }> {
  const read = async (path: string | null, flag: string): Promise<Buffer | null> => {
    if (path === null) return null;
    try {
      return await readFile(path);
    } catch (err) {
      throw new LbError('LB_CONFIG_INVALID', `${flag} ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return {
    cert: await read(config.tls.certFile, '--tls-cert'),
    key: await read(config.tls.keyFile, '--tls-key'),
    upstreamCa: await read(config.tls.upstreamCaFile, '--upstream-ca'),
  };
}

export function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

export async function listen(server: NetServer, port: number, host: string, what: string): Promise<void> {
  server.listen(port, host);
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EADDRINUSE'
        ? 'address already in use'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EADDRNOTAVAIL'
            ? 'address not available on this machine'
            : code === 'ENOTFOUND'
              ? 'unknown host'
              : String(code ?? err);
    throw new LbError('LB_LISTEN_FAILED', `cannot listen for ${what} on ${host}:${port}: ${why}`);
  }
}
