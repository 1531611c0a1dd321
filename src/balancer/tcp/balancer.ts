/**
 * Composition root of layer-4 mode (`lb serve --mode tcp`): the same pool, control plane, algorithms,
 * health checks, circuit breaker, stats and admin API as HTTP mode, around a net.Server whose
 * connections are forwarded whole (connection-proxy.ts) instead of an HTTP proxy.
 *
 * What differs from HTTP mode, and why:
 * - a Server's "active requests" are its open connections (least_connections, p2c and max_conns count
 *   them); its latency figures are connect times (least_response_time follows them);
 * - consistent_hash is keyed by the client IP whatever `consistent_hash.key` says (no headers here);
 * - drain: a drained (or removed) server keeps its open connections until they close, or until
 *   `drain_timeout` when one is set; `max_connections` bounds client connections in total;
 * - HTTP-only settings (TLS termination, sticky cookies, rate limits, the request queue) do not apply
 *   and are reported at start when set.
 */
import { EventEmitter } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { ALGORITHM_NAMES, type BalancerEventType, type StatsSnapshot } from '../../shared/api-types.js';
import { silentLogger } from '../../shared/log.js';
import { defaultRandom } from '../../shared/random.js';
import { round } from '../../shared/round.js';
import { VERSION } from '../../shared/version.js';
import { createAdminHandler, RawBody, type AdminTarget } from '../admin.js';
import type { AlgorithmOptions } from '../algorithms/index.js';
import { balancerHandle, displayHost, graceUntil, listen, restoreState, type BalancerEvents, type BalancerHandle, type StartOptions } from '../balancer.js';
import type { BalancerConfig } from '../config.js';
import { configView } from '../control/config-view.js';
import { ControlPlane } from '../control/control-plane.js';
import { ClientConnections } from '../edge/client-connections.js';
import { checkServerInit } from '../edge/server-address.js';
import { ActiveHealthChecker, type HealthCheckConfig } from '../health/active.js';
import { PassiveHealth } from '../health/passive.js';
import { BalancerMetrics } from '../metrics.js';
import { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import { BalancerStats } from '../stats.js';
import { connectionEventOf, type ConnectionOutcome } from './connection-outcome.js';
import { TcpConnection, type TcpProxyDeps, type TcpProxyOptions } from './connection-proxy.js';
import { effectiveCheckType, probeTcp } from './health-probe.js';
import { registerTcpMetrics } from './metrics.js';
import { TcpTallies } from './tallies.js';

/** Worth a warning in the log: a server lost, or a protection that could not act. */
const WARNING_EVENTS = new Set<BalancerEventType>(['server-down', 'circuit-open', 'ejection-refused']);

/** Settings of HTTP mode that mean nothing for a byte stream: named at start when set. */
function ignoredSettings(config: BalancerConfig): string[] {
  const ignored: string[] = [];
  if (config.tls.certFile !== null) ignored.push('tls.cert (TLS passes through tcp mode untouched)');
  if (config.sticky.mode !== 'off') ignored.push('sticky_sessions (use consistent_hash, keyed by client IP)');
  if (config.rateLimit.ratePerSecond > 0) ignored.push('rate_limit');
  if (config.hashKey.kind !== 'ip') ignored.push('consistent_hash.key (tcp mode hashes the client IP)');
  if (config.servers.some((s) => s.tls === true)) ignored.push('servers[].tls (bytes are forwarded as they come)');
  return ignored;
}

export async function startTcpBalancer(config: BalancerConfig, options: StartOptions = {}): Promise<BalancerHandle> {
  const logger = options.logger ?? silentLogger;
  const startedAt = new Date();
  for (const what of ignoredSettings(config)) logger.warn(`tcp mode: ignoring ${what}`);
  const pool = new ServerPool(config.servers, {
    maxConns: config.limits.maxConnsPerServer,
    breaker: { failThreshold: config.circuitBreaker.failThreshold, openTimeMs: config.circuitBreaker.openTimeMs },
    startHealthy: config.healthCheck.startHealthy || !config.healthCheck.enabled,
    allowHosts: config.allowHosts,
  });
  const stats = new BalancerStats();
  const tallies = new TcpTallies();
  const emitter = new EventEmitter<BalancerEvents>();
  const algorithmOptions: AlgorithmOptions = {
    random: options.random ?? defaultRandom,
    nowMs: () => performance.now(),
    consistentHash: config.consistentHash,
    hashKey: { kind: 'ip' },
  };
  // Mutable on purpose: a reload changes idle timeout and retries for the next connections.
  const proxyOptions: TcpProxyOptions = {
    connectTimeoutMs: config.connectTimeoutMs,
    idleTimeoutMs: config.tcp.idleTimeoutMs,
    retries: config.retries,
    acceptProxy: config.tcp.acceptProxy,
    proxyHeaderTimeoutMs: config.limits.clientHeaderTimeoutMs,
  };
  let drainTimeoutMs = config.tcp.drainTimeoutMs;
  let checker: ActiveHealthChecker | null = null;
  const startChecker = (c: BalancerConfig): ActiveHealthChecker | null => {
    if (!c.healthCheck.enabled) return null;
    const prober = effectiveCheckType(c) === 'tcp' ? (server: Server, hc: HealthCheckConfig) => probeTcp(server, hc) : undefined;
    return new ActiveHealthChecker(pool, c.healthCheck, (server, healthy, detail) => control.apply({ type: 'setHealth', server: server.id, healthy, detail }), undefined, prober);
  };
  const control = new ControlPlane(pool, config, algorithmOptions, {
    reset: () => {
      stats.reset();
      tallies.reset();
    },
    configApplied: (next, _previous, healthCheckChanged) => {
      proxyOptions.idleTimeoutMs = next.tcp.idleTimeoutMs;
      proxyOptions.retries = next.retries;
      drainTimeoutMs = next.tcp.drainTimeoutMs;
      if (healthCheckChanged) {
        checker?.close();
        checker = startChecker(next);
        checker?.start();
      }
    },
  });
  control.on('change', (change) => {
    stats.recordEvent(change);
    if (change.server !== null && change.state !== null) emitter.emit('server-state', { server: change.server, type: change.type, detail: change.detail, state: change.state });
    const line = `${change.type}${change.server !== null ? ` ${change.server}` : ''}${change.detail ? `: ${change.detail}` : ''}`;
    const fields = { event: change.type, eventId: change.id, server: change.server, state: change.state, detail: change.detail };
    if (WARNING_EVENTS.has(change.type)) logger.warn(line, fields);
    else logger.info(line, fields);
  });
  const passive = new PassiveHealth(pool, config.circuitBreaker, (type, server, detail) => control.observe(type, server, detail));
  checker = startChecker(config);
  const stateWriter = config.stateFile === null ? null : await restoreState(control, config.stateFile, logger);

  // Open connections, by the server they are on (a drain timeout cuts a server's), and all of them.
  const connections = new Set<TcpConnection>();
  const byServer = new Map<Server, Set<TcpConnection>>();
  const placed = new Map<TcpConnection, Server>();
  const onServer = (c: TcpConnection, server: Server | null): void => {
    const previous = placed.get(c);
    if (previous !== undefined) {
      byServer.get(previous)?.delete(c);
      if (byServer.get(previous)?.size === 0) byServer.delete(previous);
      placed.delete(c);
    }
    if (server === null) return;
    placed.set(c, server);
    let set = byServer.get(server);
    if (set === undefined) byServer.set(server, (set = new Set()));
    set.add(c);
  };
  // drain_timeout: a drained or removed server's connections are cut once it runs out (if it is set).
  const drainTimers = new Map<Server, NodeJS.Timeout>();
  const scheduleCut = (server: Server): void => {
    if (drainTimeoutMs <= 0 || drainTimers.has(server)) return;
    const timer = setTimeout(() => {
      drainTimers.delete(server);
      if (pool.servers.includes(server) && !server.draining) return;
      const cut = [...(byServer.get(server) ?? [])];
      if (cut.length > 0) logger.info(`drain timeout ${server.id}: closing ${cut.length} connection(s)`);
      for (const c of cut) c.cut('LB_DRAIN_TIMEOUT');
    }, drainTimeoutMs);
    drainTimers.set(server, timer);
  };
  control.on('change', (change) => {
    if (change.server === null) return;
    if (change.type === 'server-draining') {
      const server = pool.get(change.server);
      if (server !== undefined) scheduleCut(server);
    }
  });
  pool.on('server-removed', (server) => {
    scheduleCut(server);
    tallies.forget(server);
  });

  const metrics = new BalancerMetrics({ pool, stats, sessionsActive: () => 0, queueLength: () => 0, rateLimiter: null });
  const liveBytes = (server: Server | null): { bytesIn: number; bytesOut: number } => {
    let bytesIn = 0;
    let bytesOut = 0;
    for (const c of server === null ? connections : (byServer.get(server) ?? [])) {
      bytesIn += c.bytesIn;
      bytesOut += c.bytesOut;
    }
    return { bytesIn, bytesOut };
  };
  registerTcpMetrics(metrics.registry, { pool, tallies, liveBytes, openConnections: () => connections.size, maxConnections: config.tcp.maxConnections });

  const accessLog = options.accessLog ?? null;
  // The embedding `request` event, per connection, costs nothing until someone listens (as in HTTP mode).
  let onRequest: ((o: ConnectionOutcome) => void) | null = null;
  const plain = emitter as EventEmitter;
  plain.on('newListener', (name: string | symbol) => {
    if (name === 'request') onRequest = (o) => emitter.emit('request', connectionEventOf(o));
  });
  plain.on('removeListener', (name: string | symbol) => {
    if (name === 'request' && emitter.listenerCount('request') === 0) onRequest = null;
  });
  const deps: TcpProxyDeps = {
    pool,
    algorithm: () => control.algorithm,
    passive,
    logger,
    connectFailed: (server) => tallies.connectFailed(server),
    finished: (outcome) => {
      stats.recordConnection(outcome);
      tallies.record(outcome);
      accessLog?.recordConnection(outcome);
      if (onRequest !== null) onRequest(outcome);
    },
  };
  const clientConnections = config.limits.maxConnsPerClient > 0 ? new ClientConnections(config.limits.maxConnsPerClient) : null;
  // pauseOnConnect: not one client byte is read before a server took the connection, so a failed
  // connect can be retried elsewhere unseen. allowHalfOpen: a client's FIN is forwarded, not answered.
  const traffic = createServer({ pauseOnConnect: true, allowHalfOpen: true, noDelay: true });
  traffic.on('connection', (socket: Socket) => {
    // Over max_connections (or the client's own limit): closed at once and counted, as HAProxy's maxconn.
    if (connections.size >= config.tcp.maxConnections || (clientConnections !== null && !clientConnections.admit(socket))) {
      stats.count('connectionsRejected');
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    metrics.trackConnection(socket);
    const connection = new TcpConnection(socket, deps, proxyOptions, onServer);
    connections.add(connection);
    socket.once('close', () => connections.delete(connection));
    connection.start();
  });

  let url = '';
  const activeConnections = (): number => pool.servers.reduce((sum, s) => sum + s.activeRequests, 0);
  const serverSnapshot = (s: Server): ReturnType<Server['snapshot']> => {
    const live = liveBytes(s);
    const closed = tallies.of(s);
    return { ...s.snapshot(), url: `tcp://${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`, bytesIn: closed.bytesIn + live.bytesIn, bytesOut: closed.bytesOut + live.bytesOut, connectFailures: closed.connectFailures };
  };
  const snapshot = (): StatsSnapshot => {
    const live = liveBytes(null);
    const closed = tallies.totals();
    return {
      version: VERSION,
      mode: 'tcp',
      algorithm: control.algorithm.name,
      algorithms: ALGORITHM_NAMES,
      startedAt: startedAt.toISOString(),
      uptimeSeconds: uptimeSeconds(),
      url,
      totals: { ...stats.totals(activeConnections(), 0, 0), bytesIn: closed.bytesIn + live.bytesIn, bytesOut: closed.bytesOut + live.bytesOut, maxConnections: config.tcp.maxConnections },
      sessions: { mode: 'off', active: 0, capacity: 0, ttlSeconds: 0 },
      limits: {
        rateLimitPerSecond: 0,
        rateLimitBurst: 0,
        rateLimitKey: 'ip',
        rateLimitClients: 0,
        rateLimitMaxClients: 0,
        maxConnsPerClient: config.limits.maxConnsPerClient,
        maxHeaders: config.limits.maxHeaders,
        maxHeaderBytes: config.limits.maxHeaderBytes,
      },
      servers: pool.servers.map(serverSnapshot),
    };
  };
  const uptimeSeconds = (): number => Math.round((Date.now() - startedAt.getTime()) / 100) / 10;

  // The admin API's view, as in HTTP mode (balancer.ts), over connections.
  const admin: AdminTarget = {
    loadTests: null,
    stats: snapshot,
    metrics: async () => new RawBody(await metrics.render(), metrics.contentType),
    history: (since?: number) => stats.historyResponse(since),
    health: () => ({
      status: 'ok',
      version: VERSION,
      uptimeSeconds: uptimeSeconds(),
      servers: { total: pool.size, available: pool.servers.filter((s) => s.isAvailable()).length },
    }),
    addServer: (init) => {
      checkServerInit(init, config.allowHosts, 'body');
      return serverSnapshot(control.apply({ type: 'addServer', server: init }));
    },
    removeServer: (idOrAddress) => serverSnapshot(control.apply({ type: 'removeServer', server: idOrAddress })),
    updateServer: (idOrAddress, update) => serverSnapshot(control.apply({ type: 'updateServer', server: idOrAddress, ...update })),
    setAlgorithm: (name) => control.apply({ type: 'setAlgorithm', algorithm: name }),
    reset: () => control.apply({ type: 'reset' }),
    config: () => configView(control.fileConfig, pool.servers, control.algorithm.name),
  };
  const adminServer = createHttpServer(
    { headersTimeout: config.limits.clientHeaderTimeoutMs },
    createAdminHandler(admin, { token: config.adminToken, logger, corsOrigins: config.adminCors, adminHost: config.adminHost }),
  );

  try {
    await listen(traffic, config.port, config.host, 'traffic');
    await listen(adminServer, config.adminPort, config.adminHost, 'admin');
  } catch (err) {
    traffic.close();
    adminServer.close();
    checker?.close();
    throw err;
  }
  // Once listening, an error of the listener (EMFILE at accept) is logged, never a crash.
  traffic.on('error', (err) => logger.error(`tcp listener: ${err.message}`));
  checker?.start();
  const port = (traffic.address() as AddressInfo).port;
  const adminPort = (adminServer.address() as AddressInfo).port;
  url = `tcp://${displayHost(config.host)}:${port}`;
  const adminUrl = `http://${displayHost(config.adminHost)}:${adminPort}`;

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      traffic.close();
      adminServer.close();
      checker?.close();
      for (const timer of drainTimers.values()) clearTimeout(timer);
      // Open connections get shutdown_timeout to end on their own (a client finishing its work), then are cut.
      await graceUntil(() => connections.size === 0, config.shutdownTimeoutMs);
      for (const c of connections) c.cut('LB_INTERRUPTED');
      adminServer.closeAllConnections();
      await accessLog?.close();
      await stateWriter?.flush();
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
    history: (since?: number) => stats.historyResponse(since),
    // One process: a change is in force as soon as it is applied.
    settled: async () => undefined,
    close,
  });
}
