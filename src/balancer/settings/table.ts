/**
 * Every setting of `lb serve`, declared once: where it sits in the servers file (with the seed's names as
 * aliases), its flag, its environment variable (`LB_` + the flag, for every setting), its kind and
 * bounds, its default, whether a reload applies it (live) or only a restart, and its help text. The
 * config type's parsing (config.ts), the yargs options and `--help` (command.ts), the README's table
 * (`npm run settings-table`, checked by a test), `GET /lb/config` and the reload plan all read
 * this table. Adding a setting is one entry here plus the code that uses it.
 */
import { availableParallelism } from 'node:os';
import { ALGORITHM_NAMES, type AlgorithmName } from '../../shared/api-types.js';
import { LOG_LEVELS, type LogLevel } from '../../shared/log.js';
import type { BalancerConfig } from '../config.js';
import { checkHost } from '../edge/server-address.js';
import { formatHashKey, HASH_KEY_HELP, parseHashKey, type HashKeySpec } from '../hash-key.js';
import { bool, duration, int, list, num, oneOf, optional, SettingProblem, text, type Kind } from './kinds.js';
import { parseClusterName, parseRedisUrl, redactedUrl, REDIS_URL_HELP } from '../store/redis-url.js';

export const HASH_FUNCTIONS = ['fnv1a', 'djb2', 'md5', 'sha1'] as const;
export const STICKY_MODES = ['off', 'cookie', 'ip'] as const;
export const SERVER_HEADER_MODES = ['id', 'name', 'off'] as const;
export const BALANCER_MODES = ['http', 'tcp'] as const;
export const HEALTH_CHECK_TYPES = ['tcp', 'http'] as const;

export interface Setting<T = unknown, F extends string = string> {
  /** Path in the servers file: `load_balancer.timeout`. */
  readonly file: string;
  /** Other paths meaning the same (the seeds' names); the main path wins when both are given. */
  readonly aliases?: readonly string[];
  /** Flag without dashes: `timeout`. */
  readonly flag: F;
  /** Environment variables besides `LB_<FLAG>` (kept for compatibility). */
  readonly extraEnv?: readonly string[];
  readonly kind: Kind<T>;
  readonly default: NoInfer<T>;
  /** Applied by a reload; otherwise a change needs a restart (and the reload says so). */
  readonly live: boolean;
  readonly help: string;
  /** Shown in help instead of the formatted default. */
  readonly shownDefault?: string;
  get(config: BalancerConfig): T;
  set(config: BalancerConfig, value: T): void;
}

/** Keeps each entry's value type and flag literal (for the typed flags object). */
function setting<const F extends string, T>(spec: Setting<T, F>): Setting<T, F> {
  return spec;
}

const hashKey = text<HashKeySpec>(HASH_KEY_HELP, (v) => {
  try {
    return parseHashKey(v, '');
  } catch {
    throw new SettingProblem(`must be ${HASH_KEY_HELP}, got ${JSON.stringify(v)}`);
  }
}, formatHashKey, formatHashKey);

const statusRange = text<{ min: number; max: number }>(
  'a status like 200, a range like 200-399 or a class like 2xx',
  (v) => {
    const single = /^([1-5]\d\d)$/.exec(v);
    if (single) return { min: Number(single[1]), max: Number(single[1]) };
    const range = /^([1-5]\d\d)-([1-5]\d\d)$/.exec(v);
    if (range && Number(range[1]) <= Number(range[2])) return { min: Number(range[1]), max: Number(range[2]) };
    const klass = /^([1-5])xx$/.exec(v);
    if (klass) return { min: Number(klass[1]) * 100, max: Number(klass[1]) * 100 + 99 };
    throw new SettingProblem(`must be a status like 200, a range like "200-399" or a class like "2xx", got ${JSON.stringify(v)}`);
  },
  (r) => (r.min === r.max ? String(r.min) : `${r.min}-${r.max}`),
  (r) => (r.min === r.max ? r.min : `${r.min}-${r.max}`),
);
// A file may write a single status as a number.
const statusRangeKind: Kind<{ min: number; max: number }> = { ...statusRange, parse: (raw) => statusRange.parse(typeof raw === 'number' ? String(raw) : raw) };

const path = (description: string): Kind<string> =>
  text(description, (v) => {
    if (v.length > 4096) throw new SettingProblem('must be at most 4096 characters');
    return v;
  });

const healthPath = text('a path starting with "/"', (v) => {
  if (!v.startsWith('/') || v.length > 2048 || /[\s\u0000-\u001f]/.test(v)) throw new SettingProblem(`must start with "/" and have no spaces or control characters, got ${JSON.stringify(v)}`);
  return v;
});

/** RFC 6265 cookie-name token characters only: the name goes into Set-Cookie as is. */
const cookieName = text('a cookie name (letters, digits, - and _)', (v) => {
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(v)) throw new SettingProblem(`must be a cookie name (letters, digits, - and _), got ${JSON.stringify(v)}`);
  return v;
});

const secret = text('a non-empty secret', (v) => {
  if (v.length > 4096) throw new SettingProblem('must be at most 4096 characters');
  return v;
}, () => '<secret>');

// Checked whole at start (a bad URL is a one-line error); the password is never shown back.
const redisUrl = text(REDIS_URL_HELP, (v) => parseRedisUrl(v).url, redactedUrl, redactedUrl);
const clusterName = text('1-64 letters, digits, -, _ or .', parseClusterName);

const listenHost = text('an interface address or host name', (v) => {
  if (v.length > 253 || /[\s/?#@]/.test(v)) throw new SettingProblem(`must be an interface address or host name, got ${JSON.stringify(v)}`);
  return v;
});

const origin = text('an origin like http://localhost:3000, or *', (v) => {
  if (v !== '*' && !/^https?:\/\/[^/\s]+$/.test(v)) throw new SettingProblem(`must be origins like http://localhost:3000 (comma-separated) or *, got ${JSON.stringify(v)}`);
  return v;
});

const allowedHost = text('a host name or IP address', (v) => {
  try {
    return checkHost(v, '');
  } catch (err) {
    throw new SettingProblem((err as Error).message.replace(/^: /, ''));
  }
});

/** Most worker processes: far past any core count this runs on, low enough that a typo (1000) is refused. */
export const MAX_WORKERS = 64;

const workerCount: Kind<number> = {
  text: `an integer 1-${MAX_WORKERS} or auto (one per core)`,
  parse(raw) {
    if (raw === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
    try {
      return int(1, MAX_WORKERS).parse(raw);
    } catch {
      throw new SettingProblem(`must be ${workerCount.text}, got ${JSON.stringify(raw)}`);
    }
  },
  format: String,
  toFile: (v) => v,
};

export const SETTINGS = [
  // ---- listeners ----
  setting({ file: 'load_balancer.port', flag: 'port', kind: int(0, 65535), default: 8080, live: false, help: 'traffic port (0 = any free port, printed)', get: (c) => c.port, set: (c, v) => (c.port = v) }),
  setting({ file: 'load_balancer.host', flag: 'host', kind: listenHost, default: '0.0.0.0', live: false, help: 'traffic interface', get: (c) => c.host, set: (c, v) => (c.host = v) }),
  setting({ file: 'admin.port', flag: 'admin-port', kind: int(0, 65535), default: 8081, live: false, help: 'admin API port', get: (c) => c.adminPort, set: (c, v) => (c.adminPort = v) }),
  setting({ file: 'admin.host', flag: 'admin-host', kind: listenHost, default: '127.0.0.1', live: false, help: 'admin API interface; off loopback a token is required', get: (c) => c.adminHost, set: (c, v) => (c.adminHost = v) }),
  setting({ file: 'admin.token', flag: 'admin-token', kind: optional(secret), default: null, live: false, help: 'bearer token for every admin route but /health and the dashboard page', shownDefault: 'none', get: (c) => c.adminToken, set: (c, v) => (c.adminToken = v) }),
  setting({ file: 'admin.cors', flag: 'admin-cors', kind: list(origin, 'origins like http://localhost:3000 (comma-separated) or *'), default: [], live: false, help: 'origins allowed to call the admin API from a browser', get: (c) => c.adminCors, set: (c, v) => (c.adminCors = v) }),
  // ---- proxying ----
  setting({ file: 'load_balancer.mode', flag: 'mode', kind: oneOf(BALANCER_MODES), default: 'http', live: false, help: 'http: a reverse proxy of requests; tcp: forwards connections (any TCP service: Redis, databases, TLS passthrough)', get: (c) => c.mode, set: (c, v) => (c.mode = v) }),
  setting({ file: 'load_balancer.algorithm', flag: 'algorithm', kind: oneOf<AlgorithmName>(ALGORITHM_NAMES), default: 'round_robin', live: true, help: 'balancing algorithm', get: (c) => c.algorithm, set: (c, v) => (c.algorithm = v) }),
  setting({ file: 'load_balancer.timeout', flag: 'timeout', kind: duration(1, 3_600_000), default: 30_000, live: true, help: "wait for a server's response headers (and the longest pause in a body, or an idle WebSocket) -> 504", get: (c) => c.timeoutMs, set: (c, v) => (c.timeoutMs = v) }),
  setting({ file: 'load_balancer.connect_timeout', flag: 'connect-timeout', kind: duration(1, 600_000), default: 5_000, live: false, help: 'connect to a server', get: (c) => c.connectTimeoutMs, set: (c, v) => (c.connectTimeoutMs = v) }),
  setting({ file: 'load_balancer.retries', flag: 'retries', kind: int(0, 10), default: 2, live: true, help: 'extra attempts on other servers when a connection fails', get: (c) => c.retries, set: (c, v) => (c.retries = v) }),
  setting({ file: 'load_balancer.slow_start', flag: 'slow-start', kind: duration(0, 3_600_000), default: 0, live: false, help: 'a server that comes back ramps from 10% to its full weight over this long (weighted, random); 0 = off', get: (c) => c.slowStartMs, set: (c, v) => (c.slowStartMs = v) }),
  setting({ file: 'load_balancer.dynamic_weights', flag: 'dynamic-weights', kind: bool, default: false, live: false, help: "effective weights follow each server's recent latency against the fastest one's and its errors (weighted, random), every second, within 10-100% of the configured weight", get: (c) => c.dynamicWeights, set: (c, v) => (c.dynamicWeights = v) }),
  setting({ file: 'load_balancer.shutdown_timeout', flag: 'shutdown-timeout', kind: duration(0, 3_600_000), default: 10_000, live: false, help: 'time in-flight requests get to finish at SIGINT/SIGTERM', get: (c) => c.shutdownTimeoutMs, set: (c, v) => (c.shutdownTimeoutMs = v) }),
  setting({ file: 'load_balancer.server_header', flag: 'server-header', kind: oneOf(SERVER_HEADER_MODES), default: 'id', live: false, help: 'what x-lb-server says: id, name (configured names only, never an address) or off', get: (c) => c.serverHeader, set: (c, v) => (c.serverHeader = v) }),
  setting({ file: 'load_balancer.allow_hosts', flag: 'allow-hosts', kind: list(allowedHost, 'host names or IP addresses (comma-separated)'), default: [], live: false, help: 'risky server addresses allowed anyway (link-local, cloud metadata)', get: (c) => c.allowHosts, set: (c, v) => (c.allowHosts = v) }),
  setting({ file: 'load_balancer.log_level', flag: 'log-level', extraEnv: ['LOG_LEVEL'], kind: oneOf<LogLevel>(LOG_LEVELS), default: 'info', live: false, help: 'log level (logs go to stderr)', get: (c) => c.logLevel, set: (c, v) => (c.logLevel = v) }),
  setting({ file: 'load_balancer.state_file', flag: 'state-file', kind: optional(path('a file path')), default: null, live: false, help: 'keep runtime changes (servers added, removed, re-weighted, drained; the algorithm) here across restarts', shownDefault: 'none', get: (c) => c.stateFile, set: (c, v) => (c.stateFile = v) }),
  setting({ file: 'load_balancer.workers', flag: 'workers', kind: workerCount, default: 1, live: false, help: 'processes that proxy traffic (node:cluster); 1 = one process, auto = one per core', get: (c) => c.workers, set: (c, v) => (c.workers = v) }),
  // ---- limits ----
  setting({ file: 'load_balancer.max_conns', flag: 'max-conns', kind: int(0, 1_000_000), default: 0, live: false, help: 'most requests in flight per server (0 = no limit); the rest queue', get: (c) => c.limits.maxConnsPerServer, set: (c, v) => (c.limits.maxConnsPerServer = v) }),
  setting({ file: 'load_balancer.max_queue', flag: 'max-queue', kind: int(0, 1_000_000), default: 1_000, live: false, help: 'most requests waiting for a server below max_conns -> 503', get: (c) => c.limits.maxQueue, set: (c, v) => (c.limits.maxQueue = v) }),
  setting({ file: 'load_balancer.queue_timeout', flag: 'queue-timeout', kind: duration(1, 3_600_000), default: 5_000, live: false, help: 'longest wait in that queue -> 503', get: (c) => c.limits.queueTimeoutMs, set: (c, v) => (c.limits.queueTimeoutMs = v) }),
  setting({ file: 'load_balancer.retry_budget', flag: 'retry-budget', kind: num(0, 1, 'a share of requests'), default: 0.2, live: false, help: 'retries may be at most this share of recent requests', get: (c) => c.limits.retryBudgetRatio, set: (c, v) => (c.limits.retryBudgetRatio = v) }),
  setting({ file: 'load_balancer.retry_budget_min', flag: 'retry-budget-min', kind: int(0, 1_000_000), default: 10, live: false, help: '...but at least this many per 10 s', get: (c) => c.limits.retryBudgetMin, set: (c, v) => (c.limits.retryBudgetMin = v) }),
  setting({ file: 'load_balancer.client_header_timeout', flag: 'client-header-timeout', kind: duration(100, 3_600_000), default: 30_000, live: false, help: 'time a client gets to send its request headers -> 408 (slowloris)', get: (c) => c.limits.clientHeaderTimeoutMs, set: (c, v) => (c.limits.clientHeaderTimeoutMs = v) }),
  setting({ file: 'load_balancer.client_body_timeout', flag: 'client-body-timeout', kind: duration(100, 3_600_000), default: 60_000, live: false, help: 'longest pause while a client sends its request body -> 408', get: (c) => c.limits.clientBodyTimeoutMs, set: (c, v) => (c.limits.clientBodyTimeoutMs = v) }),
  setting({ file: 'load_balancer.idle_timeout', flag: 'idle-timeout', kind: duration(100, 3_600_000), default: 65_000, live: false, help: 'idle keep-alive time of client connections', get: (c) => c.limits.clientIdleTimeoutMs, set: (c, v) => (c.limits.clientIdleTimeoutMs = v) }),
  setting({ file: 'load_balancer.max_headers', flag: 'max-headers', kind: int(1, 10_000), default: 100, live: false, help: 'most header fields in a request -> 431', get: (c) => c.limits.maxHeaders, set: (c, v) => (c.limits.maxHeaders = v) }),
  setting({ file: 'load_balancer.max_header_size', flag: 'max-header-size', kind: int(1_024, 1_048_576), default: 16_384, live: false, help: 'most bytes of request line and headers -> 431', get: (c) => c.limits.maxHeaderBytes, set: (c, v) => (c.limits.maxHeaderBytes = v) }),
  setting({ file: 'load_balancer.max_conns_per_client', flag: 'max-conns-per-client', kind: int(0, 1_000_000), default: 0, live: false, help: 'open connections per client address (0 = no limit); more are closed at accept', get: (c) => c.limits.maxConnsPerClient, set: (c, v) => (c.limits.maxConnsPerClient = v) }),
  setting({ file: 'rate_limit.rate', flag: 'rate-limit', kind: num(0, 10_000_000, 'requests per second'), default: 0, live: false, help: 'requests per second per client (0 = off) -> 429', get: (c) => c.rateLimit.ratePerSecond, set: (c, v) => (c.rateLimit.ratePerSecond = v) }),
  setting({ file: 'rate_limit.burst', flag: 'rate-limit-burst', kind: optional(int(1, 10_000_000)), default: null, live: false, help: 'requests a client may send at once after a quiet spell', shownDefault: "one second's worth", get: (c) => c.rateLimit.burst, set: (c, v) => (c.rateLimit.burst = v) }),
  setting({ file: 'rate_limit.key', flag: 'rate-limit-key', kind: hashKey, default: { kind: 'ip' }, live: false, help: 'what identifies a client (missing header or cookie: the IP)', get: (c) => c.rateLimit.key, set: (c, v) => (c.rateLimit.key = v) }),
  setting({ file: 'rate_limit.max_clients', flag: 'rate-limit-max-clients', kind: int(1, 10_000_000), default: 100_000, live: false, help: 'clients tracked at once; the least recently seen are forgotten', get: (c) => c.rateLimit.maxKeys, set: (c, v) => (c.rateLimit.maxKeys = v) }),
  // ---- tcp mode ----
  setting({ file: 'load_balancer.tcp_idle_timeout', flag: 'tcp-idle-timeout', kind: duration(1, 86_400_000), default: 600_000, live: true, help: 'tcp mode: a connection with no byte either way this long is closed (nginx stream: 10m)', get: (c) => c.tcp.idleTimeoutMs, set: (c, v) => (c.tcp.idleTimeoutMs = v) }),
  setting({ file: 'load_balancer.max_connections', flag: 'max-connections', kind: int(1, 1_000_000), default: 10_000, live: false, help: 'tcp mode: most client connections open at once; one more is closed at once and counted', get: (c) => c.tcp.maxConnections, set: (c, v) => (c.tcp.maxConnections = v) }),
  setting({ file: 'load_balancer.drain_timeout', flag: 'drain-timeout', kind: duration(0, 86_400_000), default: 0, live: true, help: "tcp mode: a drained server's open connections are closed after this long (0 = they stay until they close)", get: (c) => c.tcp.drainTimeoutMs, set: (c, v) => (c.tcp.drainTimeoutMs = v) }),
  setting({ file: 'load_balancer.accept_proxy', flag: 'accept-proxy', kind: bool, default: false, live: false, help: 'tcp mode: clients start with a PROXY protocol v1 or v2 header (lb behind another balancer); without one they are refused', get: (c) => c.tcp.acceptProxy, set: (c, v) => (c.tcp.acceptProxy = v) }),
  // ---- health ----
  setting({ file: 'health_check.enabled', flag: 'health-check', kind: bool, default: true, live: true, help: 'active health checks (--no-health-check to turn off)', get: (c) => c.healthCheck.enabled, set: (c, v) => (c.healthCheck.enabled = v) }),
  setting({ file: 'health_check.type', flag: 'health-type', kind: optional(oneOf(HEALTH_CHECK_TYPES)), default: null, live: true, help: 'tcp: a connect succeeds; http: GET the health path', shownDefault: 'tcp in tcp mode, else http', get: (c) => c.healthCheck.type, set: (c, v) => (c.healthCheck.type = v) }),
  setting({ file: 'health_check.path', flag: 'health-path', kind: healthPath, default: '/health', live: true, help: 'path probed on each server', get: (c) => c.healthCheck.path, set: (c, v) => (c.healthCheck.path = v) }),
  setting({ file: 'health_check.interval', flag: 'health-interval', kind: duration(100, 3_600_000), default: 2_000, live: true, help: 'time between checks of one server', get: (c) => c.healthCheck.intervalMs, set: (c, v) => (c.healthCheck.intervalMs = v) }),
  setting({ file: 'health_check.timeout', flag: 'health-timeout', kind: duration(10, 600_000), default: 1_000, live: true, help: 'a check slower than this fails', get: (c) => c.healthCheck.timeoutMs, set: (c, v) => (c.healthCheck.timeoutMs = v) }),
  setting({ file: 'health_check.fall', aliases: ['health_check.retries'], flag: 'health-fall', kind: int(1, 100), default: 3, live: true, help: 'failed checks in a row that take a server out (the seed calls it retries)', get: (c) => c.healthCheck.fall, set: (c, v) => (c.healthCheck.fall = v) }),
  setting({ file: 'health_check.rise', flag: 'health-rise', kind: int(1, 100), default: 2, live: true, help: 'passed checks in a row that bring it back', get: (c) => c.healthCheck.rise, set: (c, v) => (c.healthCheck.rise = v) }),
  setting({ file: 'health_check.expected_status', flag: 'health-status', kind: statusRangeKind, default: { min: 200, max: 399 }, live: true, help: 'statuses that pass', get: (c) => c.healthCheck.expectedStatus, set: (c, v) => (c.healthCheck.expectedStatus = v) }),
  setting({ file: 'health_check.start_healthy', flag: 'health-start-healthy', kind: bool, default: true, live: true, help: 'servers take traffic before their first check (nginx, Traefik)', get: (c) => c.healthCheck.startHealthy, set: (c, v) => (c.healthCheck.startHealthy = v) }),
  setting({ file: 'health_check.quorum', flag: 'health-quorum', kind: int(0, 1000), default: 0, live: false, help: 'with --store: a server leaves rotation only when this many live instances see it down (0 = each instance goes by its own checks)', get: (c) => c.healthCheck.quorum, set: (c, v) => (c.healthCheck.quorum = v) }),
  setting({ file: 'circuit_breaker.enabled', flag: 'circuit-breaker', kind: bool, default: true, live: false, help: 'passive health: eject a server after consecutive failures', get: (c) => c.circuitBreaker.enabled, set: (c, v) => (c.circuitBreaker.enabled = v) }),
  setting({ file: 'circuit_breaker.fail_threshold', flag: 'breaker-failures', kind: int(1, 1000), default: 3, live: false, help: 'consecutive failures (connect errors, resets, timeouts, 5xx) that open a circuit', get: (c) => c.circuitBreaker.failThreshold, set: (c, v) => (c.circuitBreaker.failThreshold = v) }),
  setting({ file: 'circuit_breaker.open_time', flag: 'breaker-open-time', kind: duration(10, 3_600_000), default: 5_000, live: false, help: 'how long a circuit stays open before one trial request', get: (c) => c.circuitBreaker.openTimeMs, set: (c, v) => (c.circuitBreaker.openTimeMs = v) }),
  setting({ file: 'circuit_breaker.max_ejection_percent', flag: 'breaker-max-ejection', kind: int(0, 100), default: 50, live: false, help: 'most servers ejected at once, % of the pool (at least one)', get: (c) => c.circuitBreaker.maxEjectionPercent, set: (c, v) => (c.circuitBreaker.maxEjectionPercent = v) }),
  // ---- hashing and sessions ----
  setting({ file: 'consistent_hash.key', flag: 'hash-key', kind: hashKey, default: { kind: 'ip' }, live: false, help: 'consistent_hash key', get: (c) => c.hashKey, set: (c, v) => (c.hashKey = v) }),
  setting({ file: 'consistent_hash.virtual_nodes', flag: 'hash-virtual-nodes', kind: int(1, 10_000), default: 160, live: false, help: 'ring points per unit of weight', get: (c) => c.consistentHash.virtualNodes, set: (c, v) => (c.consistentHash.virtualNodes = v) }),
  setting({ file: 'consistent_hash.hash_function', flag: 'hash-function', kind: oneOf(HASH_FUNCTIONS), default: 'fnv1a', live: false, help: 'hash of the ring', get: (c) => c.consistentHash.hashFunction, set: (c, v) => (c.consistentHash.hashFunction = v) }),
  setting({ file: 'sticky_sessions.mode', flag: 'sticky', kind: oneOf(STICKY_MODES), default: 'off', live: false, help: 'sticky sessions', get: (c) => c.sticky.mode, set: (c, v) => (c.sticky.mode = v) }),
  setting({ file: 'sticky_sessions.cookie_name', flag: 'sticky-cookie', kind: cookieName, default: 'lb_session', live: false, help: 'sticky cookie name', get: (c) => c.sticky.cookieName, set: (c, v) => (c.sticky.cookieName = v) }),
  setting({ file: 'sticky_sessions.ttl', flag: 'sticky-ttl', kind: duration(1000, 31_536_000_000), default: 1_800_000, live: false, help: 'cookie Max-Age and session idle timeout', get: (c) => c.sticky.ttlMs, set: (c, v) => (c.sticky.ttlMs = v) }),
  setting({ file: 'sticky_sessions.secret', flag: 'sticky-secret', kind: optional(secret), default: null, live: false, help: 'HMAC key of the sticky cookie; set it so several instances accept each other\'s cookies', shownDefault: 'random', get: (c) => c.sticky.secret, set: (c, v) => (c.sticky.secret = v) }),
  setting({ file: 'sticky_sessions.max_sessions', flag: 'sticky-max-sessions', kind: int(1, 10_000_000), default: 100_000, live: false, help: 'sessions tracked at once', get: (c) => c.sticky.maxSessions, set: (c, v) => (c.sticky.maxSessions = v) }),
  // ---- several instances ----
  setting({ file: 'store.url', flag: 'store', kind: optional(redisUrl), default: null, live: false, help: 'share servers, weights, drain, the algorithm, health verdicts and the sticky secret with other instances through this Redis', shownDefault: 'none', get: (c) => c.store.url, set: (c, v) => (c.store.url = v) }),
  setting({ file: 'store.cluster', flag: 'cluster', kind: clusterName, default: 'lb', live: false, help: "the cluster's name in the store (its keys' prefix): instances with the same --store and --cluster share state", get: (c) => c.store.cluster, set: (c, v) => (c.store.cluster = v) }),
  // ---- TLS ----
  setting({ file: 'tls.cert', flag: 'tls-cert', kind: optional(path('a PEM file')), default: null, live: false, help: 'PEM certificate (chain): serve HTTPS on the traffic port', shownDefault: 'none', get: (c) => c.tls.certFile, set: (c, v) => (c.tls.certFile = v) }),
  setting({ file: 'tls.key', flag: 'tls-key', kind: optional(path('a PEM file')), default: null, live: false, help: 'PEM private key for --tls-cert', shownDefault: 'none', get: (c) => c.tls.keyFile, set: (c, v) => (c.tls.keyFile = v) }),
  setting({ file: 'tls.upstream_ca', flag: 'upstream-ca', kind: optional(path('a PEM file')), default: null, live: false, help: 'PEM CA bundle to verify servers marked "tls": true', shownDefault: 'system', get: (c) => c.tls.upstreamCaFile, set: (c, v) => (c.tls.upstreamCaFile = v) }),
  setting({ file: 'tls.upstream_insecure', flag: 'upstream-insecure', kind: bool, default: false, live: false, help: 'accept any certificate from HTTPS servers (self-signed tests only)', get: (c) => c.tls.upstreamInsecure, set: (c, v) => (c.tls.upstreamInsecure = v) }),
] as const;

export type AnySetting = (typeof SETTINGS)[number];

/** `admin-port` -> `adminPort`, as yargs hands flags over. */
type Camel<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<Camel<T>>}` : S;

/** Command-line (and embedding) values by flag, before parsing: numbers or strings as typed. */
export type ConfigFlags = { [S in AnySetting as Camel<S['flag']>]?: string | number | boolean };

export const camelCase = (flag: string): string => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envName = (flag: string): string => `LB_${flag.toUpperCase().replace(/-/g, '_')}`;
export const envNames = (s: AnySetting): string[] => [envName(s.flag), ...((s as Setting).extraEnv ?? [])];

/** What a reload cannot apply: restart-only settings whose value changed (by file path). */
export function restartOnlyChanges(previous: BalancerConfig, next: BalancerConfig): string[] {
  const differs = (s: Setting): boolean => JSON.stringify(s.get(previous)) !== JSON.stringify(s.get(next));
  return (SETTINGS as readonly Setting[]).filter((s) => !s.live && differs(s)).map((s) => s.file);
}

/** Every file section and the keys it may hold (for unknown-key warnings and "did you mean"). */
export function knownFileKeys(): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  for (const s of SETTINGS as readonly Setting[]) {
    for (const p of [s.file, ...(s.aliases ?? [])]) {
      const [section, key] = p.split('.') as [string, string];
      sections.set(section, [...(sections.get(section) ?? []), key]);
    }
  }
  return sections;
}
