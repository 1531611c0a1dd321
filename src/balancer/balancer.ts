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
import type { AddressInfo, Socket } from 'node:net';
import { ALGORITHM_NAMES, type AlgorithmName, type BalancerEventType, type StatsSnapshot } from '../shared/api-types.js';
import { LbError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { defaultRandom, type Random } from '../shared/random.js';
import { VERSION } from '../shared/version.js';
import { round } from '../shared/round.js';
import { createAdminHandler, RawBody, type AdminTarget, type LoadTestControl } from './admin.js';
import { createAlgorithm, type AlgorithmOptions, type BalancingAlgorithm } from './algorithms/index.js';
import type { BalancerConfig } from './config.js';
import { planReload, type ReloadReport } from './reload.js';
import { ActiveHealthChecker } from './health/active.js';
import { PassiveHealth } from './health/passive.js';
import { BalancerMetrics } from './metrics.js';
import { ServerPool } from './pool.js';
import type { AccessLog } from './access-log.js';
import { createProxyHandler, type InflightCounter, type ProxyDeps, type ProxyOptions, type RequestEvent } from './proxy.js';
import { RequestQueue } from './request-queue.js';
import { RetryBudget } from './retry-budget.js';
import type { Server } from './server.js';
import { BalancerStats } from './stats.js';
import { StickySessions } from './sticky.js';
import { Upstreams, type UpstreamTls } from './upstreams.js';
import { createUpgradeHandler } from './websocket.js';
import { ClientConnections } from './edge/client-connections.js';
import { checkServerInit } from './edge/server-address.js';
import { RateLimiter } from './edge/rate-limit.js';
import { formatHashKey } from './hash-key.js';

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
  /** Applies a re-read config: servers, weights, algorithm, timeouts, health checks. See reload.ts. */
  reload(next: BalancerConfig): ReloadReport;
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

export interface StartOptions {
  logger?: Logger;
  /** One JSON line per request; the caller opens the stream (see access-log.ts). */
  accessLog?: AccessLog;
  /** The web dashboard's built-in tests, given the balancer's own traffic URL (`lb serve` wires the load runner). */
  loadTests?: (trafficUrl: string) => LoadTestControl;
  /** Randomness for the randomised algorithms; seeded in tests. Default Math.random. */
  random?: Random;
}


export async function startBalancer(config: BalancerConfig, options: StartOptions = {}): Promise<BalancerHandle> {
  const logger = options.logger ?? silentLogger;
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
  const event = (type: BalancerEventType, server: Server | null, detail: string): void => {
    stats.event(type, server?.id ?? null, detail);
    if (server !== null) emitter.emit('server-state', { server: server.id, type, detail, state: server.state });
    const line = `${type}${server ? ` ${server.id}` : ''}${detail ? `: ${detail}` : ''}`;
    if (type === 'server-down' || type === 'circuit-open' || type === 'ejection-refused') logger.warn(line);
    else logger.info(line);
  };
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
  let algorithm: BalancingAlgorithm = createAlgorithm(config.algorithm, algorithmOptions);
  algorithm.rebuild?.(pool.servers);
  const sticky = config.sticky.mode === 'off' ? null : new StickySessions(config.sticky, () => Date.now());

  pool.on('change', (servers) => {
    algorithm.rebuild?.(servers);
    sticky?.rebuild(servers);
  });
  pool.on('server-added', (server) => event('server-added', server, `${server.origin}, weight ${server.weight}`));
  pool.on('server-removed', (server) => {
    event('server-removed', server, `${server.activeRequests} in-flight requests finish`);
    upstreams.release(server);
  });
  const passive = new PassiveHealth(pool, config.circuitBreaker, event);
  let current = config;
  let checker = config.healthCheck.enabled ? new ActiveHealthChecker(pool, config.healthCheck, event, upstreamTls) : null;
  const queue = new RequestQueue(config.limits.maxQueue, config.limits.queueTimeoutMs);
  const retryBudget = new RetryBudget(config.limits.retryBudgetRatio, config.limits.retryBudgetMin);
  const rateLimiter = config.rateLimit.ratePerSecond > 0 ? new RateLimiter(config.rateLimit) : null;
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

  const deps: ProxyDeps = {
    pool,
    algorithm: () => algorithm,
    sticky,
    upstreams,
    stats,
    logger,
    inflight,
    passive,
    retryBudget,
    queue,
    metrics,
    accessLog: options.accessLog ?? null,
    onRequest: null,
    rateLimiter,
    rateLimitKey: config.rateLimit.key,
  };
  // The per-request event costs nothing until someone listens for it. (The typed emitter does not list
  // EventEmitter's own newListener/removeListener events, hence the plain view of it.)
  const plain = emitter as EventEmitter;
  plain.on('newListener', (name: string | symbol) => {
    if (name === 'request') deps.onRequest = (e) => emitter.emit('request', e);
  });
  plain.on('removeListener', (name: string | symbol) => {
    if (name === 'request' && emitter.listenerCount('request') === 0) deps.onRequest = null;
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
      stats.connectionsRejected += 1;
      socket.destroy();
      return;
    }
    metrics.trackConnection(socket);
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
  const snapshot = (): StatsSnapshot => ({
    version: VERSION,
    algorithm: algorithm.name,
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

  const admin: AdminTarget = {
    loadTests: null,
    stats: snapshot,
    metrics: async () => new RawBody(await metrics.render(), metrics.contentType),
    seedStats: () => {
      const servers: ReturnType<AdminTarget['seedStats']>['servers'] = {};
      for (const s of pool.servers) {
        servers[s.id] = {
          requests: s.totalRequests,
          failures: s.totalFailures,
          active_connections: s.activeRequests,
          avg_response_time: round(s.latency.meanMs),
          healthy: s.healthy,
        };
      }
      return {
        total_requests: stats.requests,
        successful_requests: stats.successes,
        failed_requests: stats.failures,
        error_rate: stats.requests === 0 ? 0 : stats.failures / stats.requests,
        algorithm: algorithm.name,
        servers,
      };
    },
    history: () => ({ capacity: stats.historyCapacity, requests: stats.history(), events: stats.events() }),
    health: () => ({
      status: 'ok',
      version: VERSION,
      uptimeSeconds: uptimeSeconds(),
      servers: { total: pool.size, available: pool.servers.filter((s) => s.isAvailable()).length },
    }),
    // Named as the admin API's body, whose field a refusal points at.
    addServer: (init) => pool.add(init, 'body').snapshot(),
    removeServer: (idOrAddress) => pool.remove(idOrAddress).snapshot(),
    updateServer: (idOrAddress, update) => {
      const server = pool.require(idOrAddress);
      if (update.weight !== undefined && update.weight !== server.weight) {
        const previous = server.weight;
        pool.setWeight(server.id, update.weight);
        event('weight-changed', server, `${previous} -> ${update.weight}`);
      }
      if (update.drain !== undefined && update.drain !== server.draining) {
        pool.setDraining(server.id, update.drain);
        event(update.drain ? 'server-draining' : 'server-undrained', server, `${server.activeRequests} in flight`);
      }
      return server.snapshot();
    },
    setAlgorithm: (name) => {
      const previous = algorithm.name;
      if (name !== previous) {
        const next = createAlgorithm(name, algorithmOptions);
        next.rebuild?.(pool.servers);
        // One assignment: requests already routed keep their server; the next pick uses the new policy.
        algorithm = next;
        event('algorithm-switched', null, `${previous} -> ${name}`);
      }
      return { algorithm: name, previous };
    },
    reset: () => {
      stats.reset();
      rateLimiter?.resetCounters();
      sticky?.clear();
      for (const s of pool.servers) s.resetCounters();
      // Latency estimates were just cleared: least_response_time measures every server afresh.
      algorithm.rebuild?.(pool.servers);
    },
  };
  const adminServer = createServer(
    { headersTimeout: config.limits.clientHeaderTimeoutMs },
    createAdminHandler(admin, { token: config.adminToken, logger, corsOrigins: config.adminCors, adminHost: config.adminHost }),
  );

  try {
    await listen(traffic, config.port, config.host, 'traffic');
    await listen(adminServer, config.adminPort, config.adminHost, 'admin');
  } catch (err) {
    traffic.close();
    adminServer.close();
    await upstreams.closeAll(0);
    throw err;
  }
  checker?.start();
  const port = (traffic.address() as AddressInfo).port;
  const adminPort = (adminServer.address() as AddressInfo).port;
  url = `${scheme}://${displayHost(config.host)}:${port}`;
  admin.loadTests = options.loadTests?.(url) ?? null;
  const adminUrl = `http://${displayHost(config.adminHost)}:${adminPort}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      traffic.close();
      adminServer.close();
      await checker?.close();
      admin.loadTests?.close();
      // Idle keep-alive connections would otherwise hold the listener open until they time out.
      const deadline = Date.now() + config.shutdownTimeoutMs;
      while (inflight.count > 0 && Date.now() < deadline) {
        traffic.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      queue.clear();
      for (const socket of tunnels) socket.destroy();
      traffic.closeAllConnections();
      adminServer.closeAllConnections();
      await upstreams.closeAll(1000);
      await options.accessLog?.close();
    })());

  return Object.assign(emitter, {
    url,
    adminUrl,
    port,
    adminPort,
    pool,
    admin,
    algorithm: () => algorithm.name,
    checkHealth: async () => checker?.runRound(),
    reload: (next: BalancerConfig): ReloadReport => {
      const plan = planReload(current, next, pool.servers, algorithm.name);
      // Every add is checked before anything changes, so a refused server cannot leave a half-applied reload.
      for (const init of plan.add) checkServerInit(init, config.allowHosts, `servers[${next.servers.indexOf(init)}]`);
      // Removals first: a server that moved to a new name frees its address for the add.
      for (const id of plan.remove) pool.remove(id);
      for (const init of plan.add) pool.add(init);
      for (const { id, weight, maxConns } of plan.update) {
        const server = pool.require(id);
        if (weight !== server.weight) pool.setWeight(id, weight);
        server.maxConns = maxConns;
      }
      if (next.algorithm !== algorithm.name) admin.setAlgorithm(next.algorithm);
      proxyOptions.timeoutMs = next.timeoutMs;
      proxyOptions.retries = next.retries;
      if (plan.healthCheckChanged) {
        void checker?.close();
        checker = next.healthCheck.enabled ? new ActiveHealthChecker(pool, next.healthCheck, event, upstreamTls) : null;
        checker?.start();
      }
      current = next;
      return plan.report;
    },
    close,
  });
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

function displayHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

async function listen(server: HttpServer, port: number, host: string, what: string): Promise<void> {
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
