/**
 * One validated BalancerConfig from four sources, in this precedence: flags > environment > file >
 * defaults. `resolveConfig` is pure (tests feed it objects); `loadConfig` adds the file read.
 *
 * The servers file is either the seed's plain list `[{host, port, weight?}]` or an object
 * `{load_balancer: {...}, servers: [...], health_check: {...}, consistent_hash: {...}}`. Every problem is
 * reported with the JSON path of the bad field (`servers[2].port: must be an integer 1-65535`); unknown
 * keys are warnings, not errors, so files written for other tools of the family still load.
 *
 * Defaults: port 8080 on 0.0.0.0, admin 127.0.0.1:8081, round_robin, timeout 30 s, connect timeout 5 s,
 * 2 retries, 10 s to finish in-flight requests at shutdown; health checks every 2 s, 1 s timeout, fall 3,
 * rise 2 (HAProxy's); consistent hash 160 virtual nodes with fnv1a (ketama's count), keyed by client IP;
 * sticky sessions off, cookie `lb_session` for 30 minutes, at most 100 000 sessions tracked.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { ALGORITHM_NAMES, isAlgorithmName, type AlgorithmName } from '../shared/api-types.js';
import { LbError } from '../shared/errors.js';
import { isLogLevel, LOG_LEVELS, type LogLevel } from '../shared/log.js';
import { HASH_KEY_HELP, parseHashKey, type HashKeySpec } from './hash-key.js';
import { checkDestination, checkHost, checkPort, checkServerName } from './edge/server-address.js';
import { DEFAULT_RATE_LIMIT, type RateLimitConfig } from './edge/rate-limit.js';
import type { ServerInit } from './server.js';

export const HASH_FUNCTIONS = ['fnv1a', 'djb2', 'md5', 'sha1'] as const;
export type HashFunctionName = (typeof HASH_FUNCTIONS)[number];

export interface HealthCheckConfig {
  enabled: boolean;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that take a server out (the seed's `retries`). */
  fall: number;
  /** Consecutive successes that bring it back. */
  rise: number;
  /** Status codes that pass, inclusive. Default 200-399 (HAProxy's 2xx and 3xx). */
  expectedStatus: { min: number; max: number };
  /** Servers start in rotation before their first check, as nginx and Traefik do. */
  startHealthy: boolean;
}

export interface CircuitBreakerConfig {
  enabled: boolean;
  /** Consecutive failures (connect errors, resets, timeouts, 5xx) that open a server's circuit. */
  failThreshold: number;
  openTimeMs: number;
  /** Most servers ejected at once, as a share of the pool (Envoy's max_ejection_percent); at least one. */
  maxEjectionPercent: number;
}

export interface LimitsConfig {
  /** Most requests in flight to one server; 0 = no limit (HAProxy's maxconn). Per-server `max_conns` wins. */
  maxConnsPerServer: number;
  /** Most requests waiting for a free server when every one is full (HAProxy's maxqueue). */
  maxQueue: number;
  queueTimeoutMs: number;
  /** Retries may be at most this share of recent requests (Envoy's retry budget). */
  retryBudgetRatio: number;
  /** ...but at least this many in the window, so a quiet balancer still retries. */
  retryBudgetMin: number;
  /** How long a client connection may take to send its request headers (slowloris guard). */
  clientHeaderTimeoutMs: number;
  /** Idle keep-alive time of client connections. */
  clientIdleTimeoutMs: number;
  /** Longest pause while a client sends its request body (nginx's client_body_timeout): 408 after it. */
  clientBodyTimeoutMs: number;
  /** Most header fields in one request; more is a 431 (HAProxy's tune.http.maxhdr is 101). */
  maxHeaders: number;
  /** Most bytes of request line and headers; more is a 431 from Node's parser (nginx and HAProxy: 8-16 KiB). */
  maxHeaderBytes: number;
  /** Most open connections from one client address; 0 = no limit (nginx's limit_conn). */
  maxConnsPerClient: number;
}

export const SERVER_HEADER_MODES = ['id', 'name', 'off'] as const;
/** What `x-lb-server` tells clients: the server id, only an explicit name (never an address), or nothing. */
export type ServerHeaderMode = (typeof SERVER_HEADER_MODES)[number];

export interface ConsistentHashConfig {
  virtualNodes: number;
  hashFunction: HashFunctionName;
}

export const STICKY_MODES = ['off', 'cookie', 'ip'] as const;
export type StickyMode = (typeof STICKY_MODES)[number];

export interface StickyConfig {
  mode: StickyMode;
  cookieName: string;
  /** Cookie Max-Age, and how long an idle session is still counted. */
  ttlMs: number;
  /** HMAC key for the cookie; random per process when null (set it to share cookies between instances). */
  secret: string | null;
  /** Most sessions tracked at once; the least recently seen go first. */
  maxSessions: number;
}

export interface TlsConfig {
  /** PEM certificate chain and key for HTTPS on the traffic port; null = plain HTTP. */
  certFile: string | null;
  keyFile: string | null;
  /** CA bundle (PEM) to verify HTTPS servers with; null = the system's. */
  upstreamCaFile: string | null;
  /** Accept any certificate from HTTPS servers (self-signed test setups only). */
  upstreamInsecure: boolean;
}

export interface BalancerConfig {
  port: number;
  host: string;
  adminPort: number;
  adminHost: string;
  adminToken: string | null;
  algorithm: AlgorithmName;
  servers: ServerInit[];
  /** Response-headers timeout and longest pause inside a response body, ms. */
  timeoutMs: number;
  connectTimeoutMs: number;
  retries: number;
  shutdownTimeoutMs: number;
  logLevel: LogLevel;
  healthCheck: HealthCheckConfig;
  circuitBreaker: CircuitBreakerConfig;
  limits: LimitsConfig;
  consistentHash: ConsistentHashConfig;
  hashKey: HashKeySpec;
  sticky: StickyConfig;
  tls: TlsConfig;
  /** Origins allowed to call the admin API from a browser (CORS); empty = none. */
  adminCors: string[];
  /** Risky server destinations (link-local, metadata...) the operator allows anyway. */
  allowHosts: string[];
  serverHeader: ServerHeaderMode;
  rateLimit: RateLimitConfig;
  /** Where the servers came from (for messages and reload); null when none was read. */
  serversFile: string | null;
  /** Runtime changes are saved here and restored at start (`--state-file`); null = not kept across restarts. */
  stateFile: string | null;
  /** Unknown keys and other things worth a line in the log, never fatal. */
  warnings: string[];
}

/** Command-line values, already typed by yargs; durations in seconds as the user types them. */
export interface ConfigFlags {
  port?: number;
  host?: string;
  adminPort?: number;
  adminHost?: string;
  adminToken?: string;
  algorithm?: string;
  timeout?: number;
  connectTimeout?: number;
  retries?: number;
  logLevel?: string;
  healthCheck?: boolean;
  healthPath?: string;
  healthInterval?: number;
  healthTimeout?: number;
  maxConns?: number;
  hashKey?: string;
  sticky?: string;
  stickyCookie?: string;
  stickyTtl?: number;
  tlsCert?: string;
  tlsKey?: string;
  upstreamCa?: string;
  upstreamInsecure?: boolean;
  adminCors?: string;
  stateFile?: string;
  allowHosts?: string;
  serverHeader?: string;
  maxHeaders?: number;
  maxHeaderSize?: number;
  maxConnsPerClient?: number;
  clientBodyTimeout?: number;
  rateLimit?: number;
  rateLimitBurst?: number;
  rateLimitKey?: string;
}

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_CONFIG: Omit<BalancerConfig, 'servers' | 'serversFile' | 'stateFile' | 'warnings'> = {
  port: 8080,
  host: '0.0.0.0',
  adminPort: 8081,
  adminHost: '127.0.0.1',
  adminToken: null,
  algorithm: 'round_robin',
  timeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  retries: 2,
  shutdownTimeoutMs: 10_000,
  logLevel: 'info',
  healthCheck: {
    enabled: true,
    path: '/health',
    intervalMs: 2_000,
    timeoutMs: 1_000,
    fall: 3,
    rise: 2,
    expectedStatus: { min: 200, max: 399 },
    startHealthy: true,
  },
  circuitBreaker: { enabled: true, failThreshold: 3, openTimeMs: 5_000, maxEjectionPercent: 50 },
  limits: {
    maxConnsPerServer: 0,
    maxQueue: 1_000,
    queueTimeoutMs: 5_000,
    retryBudgetRatio: 0.2,
    retryBudgetMin: 10,
    clientHeaderTimeoutMs: 30_000,
    clientIdleTimeoutMs: 65_000,
    clientBodyTimeoutMs: 60_000,
    maxHeaders: 100,
    maxHeaderBytes: 16_384,
    maxConnsPerClient: 0,
  },
  consistentHash: { virtualNodes: 160, hashFunction: 'fnv1a' },
  hashKey: { kind: 'ip' },
  sticky: { mode: 'off', cookieName: 'lb_session', ttlMs: 1_800_000, secret: null, maxSessions: 100_000 },
  tls: { certFile: null, keyFile: null, upstreamCaFile: null, upstreamInsecure: false },
  adminCors: [],
  allowHosts: [],
  serverHeader: 'id',
  rateLimit: DEFAULT_RATE_LIMIT,
};

const MAX_SERVERS = 10_000;
export const MAX_WEIGHT = 1_000;

function invalid(path: string, problem: string): LbError {
  return new LbError('LB_CONFIG_INVALID', `${path}: ${problem}`);
}

type Json = Record<string, unknown>;

/** A JSON object (not null, not a list). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function warnUnknown(obj: Json, known: readonly string[], path: string, warnings: string[]): void {
  for (const key of Object.keys(obj)) if (!known.includes(key)) warnings.push(`${path}${path ? '.' : ''}${key}: unknown key, ignored`);
}

export function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(path, `must be an integer ${min}-${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Seconds (fractions allowed) to whole ms. */
function seconds(value: unknown, path: string, minMs: number, maxMs: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw invalid(path, `must be a number of seconds, got ${JSON.stringify(value)}`);
  const ms = Math.round(value * 1000);
  if (ms < minMs || ms > maxMs) throw invalid(path, `must be between ${minMs / 1000} and ${maxMs / 1000} seconds, got ${value}`);
  return ms;
}

function str(value: unknown, path: string, maxLength = 253): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > maxLength) {
    throw invalid(path, `must be a non-empty string of at most ${maxLength} characters, got ${JSON.stringify(value)}`);
  }
  return value.trim();
}

export function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw invalid(path, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

function algorithm(value: unknown, path: string): AlgorithmName {
  if (!isAlgorithmName(value)) throw invalid(path, `must be one of ${ALGORITHM_NAMES.join(', ')}, got ${JSON.stringify(value)}`);
  return value;
}

/** Validates one server entry: `{host, port, weight?, name?}` or `{url}` (as the bench harness writes). */
export function parseServer(value: unknown, path: string, warnings: string[] = []): ServerInit {
  if (!isObject(value)) throw invalid(path, `must be an object like {"host": "127.0.0.1", "port": 3001}, got ${JSON.stringify(value)}`);
  warnUnknown(value, ['host', 'port', 'weight', 'name', 'url', 'id', 'max_conns', 'tls'], path, warnings);
  let host: string;
  let port: number;
  let tlsFromUrl = false;
  if (value.host === undefined && value.port === undefined && typeof value.url === 'string') {
    let url: URL;
    try {
      url = new URL(value.url);
    } catch {
      throw invalid(`${path}.url`, `must be an http:// URL, got ${JSON.stringify(value.url)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`${path}.url`, `must be an http:// or https:// URL, got ${JSON.stringify(value.url)}`);
    if (url.username !== '' || url.password !== '' || (url.pathname !== '/' && url.pathname !== '') || url.search !== '') {
      throw invalid(`${path}.url`, `must be only scheme, host and port like http://10.0.0.1:3001, got ${JSON.stringify(value.url)}`);
    }
    host = checkHost(url.hostname, `${path}.url`);
    port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    tlsFromUrl = url.protocol === 'https:';
  } else {
    host = checkHost(value.host, `${path}.host`);
    port = checkPort(value.port, `${path}.port`);
  }
  const init: ServerInit = { host, port };
  if (value.weight !== undefined) init.weight = int(value.weight, `${path}.weight`, 1, MAX_WEIGHT);
  const name = value.name ?? value.id;
  if (name !== undefined) init.name = checkServerName(name, `${path}.${value.name !== undefined ? 'name' : 'id'}`);
  if (value.max_conns !== undefined) init.maxConns = int(value.max_conns, `${path}.max_conns`, 0, 1_000_000);
  if (value.tls !== undefined) init.tls = bool(value.tls, `${path}.tls`);
  else if (tlsFromUrl) init.tls = true;
  return init;
}

function parseServers(value: unknown, path: string, warnings: string[]): ServerInit[] {
  if (!Array.isArray(value)) throw invalid(path, `must be a list of servers, got ${JSON.stringify(value)}`);
  if (value.length > MAX_SERVERS) throw invalid(path, `at most ${MAX_SERVERS} servers, got ${value.length}`);
  const seen = new Map<string, number>();
  return value.map((entry, i) => {
    const server = parseServer(entry, `${path}[${i}]`, warnings);
    for (const key of [`${server.host}:${server.port}`, server.name].filter((k): k is string => k !== undefined)) {
      const first = seen.get(key);
      if (first !== undefined) throw invalid(`${path}[${i}]`, `duplicate of ${path}[${first}] (${key})`);
      seen.set(key, i);
    }
    return server;
  });
}

interface FileSettings {
  servers: ServerInit[];
  port?: number;
  host?: string;
  adminPort?: number;
  adminHost?: string;
  adminToken?: string;
  algorithm?: AlgorithmName;
  timeoutMs?: number;
  connectTimeoutMs?: number;
  retries?: number;
  healthCheck: HealthCheckConfig;
  circuitBreaker: CircuitBreakerConfig;
  limits: LimitsConfig;
  consistentHash: ConsistentHashConfig;
  hashKey?: HashKeySpec;
  sticky: StickyConfig;
  allowHosts?: string[];
  serverHeader?: ServerHeaderMode;
  rateLimit: RateLimitConfig;
}

function parseFile(file: unknown, warnings: string[]): FileSettings {
  const settings: FileSettings = {
    servers: [],
    healthCheck: { ...DEFAULT_CONFIG.healthCheck },
    circuitBreaker: { ...DEFAULT_CONFIG.circuitBreaker },
    limits: { ...DEFAULT_CONFIG.limits },
    consistentHash: { ...DEFAULT_CONFIG.consistentHash },
    sticky: { ...DEFAULT_CONFIG.sticky },
    rateLimit: { ...DEFAULT_CONFIG.rateLimit },
  };
  if (Array.isArray(file)) {
    settings.servers = parseServers(file, 'servers', warnings);
    return settings;
  }
  if (!isObject(file)) throw invalid('(top level)', 'must be a list of servers or an object with a "servers" list');
  warnUnknown(file, ['load_balancer', 'servers', 'health_check', 'circuit_breaker', 'consistent_hash', 'sticky_sessions', 'admin', 'rate_limit'], '', warnings);
  if (file.servers !== undefined) settings.servers = parseServers(file.servers, 'servers', warnings);

  const lb = file.load_balancer;
  if (lb !== undefined) {
    if (!isObject(lb)) throw invalid('load_balancer', 'must be an object');
    warnUnknown(
      lb,
      [
        'port', 'host', 'algorithm', 'timeout', 'connect_timeout', 'retries', 'max_conns', 'max_queue', 'queue_timeout', 'retry_budget',
        'client_header_timeout', 'client_body_timeout', 'idle_timeout', 'max_headers', 'max_header_size', 'max_conns_per_client', 'allow_hosts', 'server_header',
      ],
      'load_balancer',
      warnings,
    );
    const l = settings.limits;
    if (lb.max_conns !== undefined) l.maxConnsPerServer = int(lb.max_conns, 'load_balancer.max_conns', 0, 1_000_000);
    if (lb.max_queue !== undefined) l.maxQueue = int(lb.max_queue, 'load_balancer.max_queue', 0, 1_000_000);
    if (lb.queue_timeout !== undefined) l.queueTimeoutMs = seconds(lb.queue_timeout, 'load_balancer.queue_timeout', 1, 3_600_000);
    if (lb.retry_budget !== undefined) {
      const rb = lb.retry_budget;
      if (typeof rb !== 'number' || !(rb >= 0 && rb <= 1)) throw invalid('load_balancer.retry_budget', `must be a share of requests 0-1, got ${JSON.stringify(rb)}`);
      l.retryBudgetRatio = rb;
    }
    if (lb.client_header_timeout !== undefined) l.clientHeaderTimeoutMs = seconds(lb.client_header_timeout, 'load_balancer.client_header_timeout', 100, 3_600_000);
    if (lb.client_body_timeout !== undefined) l.clientBodyTimeoutMs = seconds(lb.client_body_timeout, 'load_balancer.client_body_timeout', 100, 3_600_000);
    if (lb.idle_timeout !== undefined) l.clientIdleTimeoutMs = seconds(lb.idle_timeout, 'load_balancer.idle_timeout', 100, 3_600_000);
    if (lb.max_headers !== undefined) l.maxHeaders = int(lb.max_headers, 'load_balancer.max_headers', 1, MAX_HEADERS);
    if (lb.max_header_size !== undefined) l.maxHeaderBytes = int(lb.max_header_size, 'load_balancer.max_header_size', MIN_HEADER_BYTES, MAX_HEADER_BYTES);
    if (lb.max_conns_per_client !== undefined) l.maxConnsPerClient = int(lb.max_conns_per_client, 'load_balancer.max_conns_per_client', 0, 1_000_000);
    if (lb.allow_hosts !== undefined) settings.allowHosts = allowHosts(lb.allow_hosts, 'load_balancer.allow_hosts');
    if (lb.server_header !== undefined) settings.serverHeader = serverHeader(lb.server_header, 'load_balancer.server_header');
    if (lb.port !== undefined) settings.port = int(lb.port, 'load_balancer.port', 0, 65535);
    if (lb.host !== undefined) settings.host = str(lb.host, 'load_balancer.host');
    if (lb.algorithm !== undefined) settings.algorithm = algorithm(lb.algorithm, 'load_balancer.algorithm');
    if (lb.timeout !== undefined) settings.timeoutMs = seconds(lb.timeout, 'load_balancer.timeout', 1, 3_600_000);
    if (lb.connect_timeout !== undefined) settings.connectTimeoutMs = seconds(lb.connect_timeout, 'load_balancer.connect_timeout', 1, 600_000);
    if (lb.retries !== undefined) settings.retries = int(lb.retries, 'load_balancer.retries', 0, 10);
  }

  const admin = file.admin;
  if (admin !== undefined) {
    if (!isObject(admin)) throw invalid('admin', 'must be an object');
    warnUnknown(admin, ['port', 'host', 'token'], 'admin', warnings);
    if (admin.port !== undefined) settings.adminPort = int(admin.port, 'admin.port', 0, 65535);
    if (admin.host !== undefined) settings.adminHost = str(admin.host, 'admin.host');
    if (admin.token !== undefined) settings.adminToken = str(admin.token, 'admin.token', 4096);
  }

  const hc = file.health_check;
  if (hc !== undefined) {
    if (!isObject(hc)) throw invalid('health_check', 'must be an object');
    warnUnknown(hc, ['enabled', 'path', 'interval', 'timeout', 'retries', 'fall', 'rise', 'expected_status', 'start_healthy'], 'health_check', warnings);
    const h = settings.healthCheck;
    if (hc.enabled !== undefined) h.enabled = bool(hc.enabled, 'health_check.enabled');
    if (hc.path !== undefined) h.path = healthPath(hc.path, 'health_check.path');
    if (hc.interval !== undefined) h.intervalMs = seconds(hc.interval, 'health_check.interval', 100, 3_600_000);
    if (hc.timeout !== undefined) h.timeoutMs = seconds(hc.timeout, 'health_check.timeout', 10, 600_000);
    if (hc.retries !== undefined) h.fall = int(hc.retries, 'health_check.retries', 1, 100);
    if (hc.fall !== undefined) h.fall = int(hc.fall, 'health_check.fall', 1, 100);
    if (hc.rise !== undefined) h.rise = int(hc.rise, 'health_check.rise', 1, 100);
    if (hc.expected_status !== undefined) h.expectedStatus = statusRange(hc.expected_status, 'health_check.expected_status');
    if (hc.start_healthy !== undefined) h.startHealthy = bool(hc.start_healthy, 'health_check.start_healthy');
  }

  const cb = file.circuit_breaker;
  if (cb !== undefined) {
    if (!isObject(cb)) throw invalid('circuit_breaker', 'must be an object');
    warnUnknown(cb, ['enabled', 'fail_threshold', 'open_time', 'max_ejection_percent'], 'circuit_breaker', warnings);
    const c = settings.circuitBreaker;
    if (cb.enabled !== undefined) c.enabled = bool(cb.enabled, 'circuit_breaker.enabled');
    if (cb.fail_threshold !== undefined) c.failThreshold = int(cb.fail_threshold, 'circuit_breaker.fail_threshold', 1, 1000);
    if (cb.open_time !== undefined) c.openTimeMs = seconds(cb.open_time, 'circuit_breaker.open_time', 10, 3_600_000);
    if (cb.max_ejection_percent !== undefined) c.maxEjectionPercent = int(cb.max_ejection_percent, 'circuit_breaker.max_ejection_percent', 0, 100);
  }

  const ch = file.consistent_hash;
  if (ch !== undefined) {
    if (!isObject(ch)) throw invalid('consistent_hash', 'must be an object');
    warnUnknown(ch, ['virtual_nodes', 'hash_function', 'key'], 'consistent_hash', warnings);
    if (ch.key !== undefined) {
      if (typeof ch.key !== 'string') throw invalid('consistent_hash.key', `must be ${HASH_KEY_HELP}, got ${JSON.stringify(ch.key)}`);
      settings.hashKey = parseHashKey(ch.key, 'consistent_hash.key');
    }
    if (ch.virtual_nodes !== undefined) settings.consistentHash.virtualNodes = int(ch.virtual_nodes, 'consistent_hash.virtual_nodes', 1, 10_000);
    if (ch.hash_function !== undefined) {
      const fn = ch.hash_function;
      if (typeof fn !== 'string' || !(HASH_FUNCTIONS as readonly string[]).includes(fn)) {
        throw invalid('consistent_hash.hash_function', `must be one of ${HASH_FUNCTIONS.join(', ')}, got ${JSON.stringify(fn)}`);
      }
      settings.consistentHash.hashFunction = fn as HashFunctionName;
    }
  }
  const st = file.sticky_sessions;
  if (st !== undefined) {
    if (!isObject(st)) throw invalid('sticky_sessions', 'must be an object');
    warnUnknown(st, ['mode', 'cookie_name', 'ttl', 'secret', 'max_sessions'], 'sticky_sessions', warnings);
    if (st.mode !== undefined) settings.sticky.mode = stickyMode(st.mode, 'sticky_sessions.mode');
    if (st.cookie_name !== undefined) settings.sticky.cookieName = cookieName(st.cookie_name, 'sticky_sessions.cookie_name');
    if (st.ttl !== undefined) settings.sticky.ttlMs = seconds(st.ttl, 'sticky_sessions.ttl', 1000, 31_536_000_000);
    if (st.secret !== undefined) settings.sticky.secret = str(st.secret, 'sticky_sessions.secret', 4096);
    if (st.max_sessions !== undefined) settings.sticky.maxSessions = int(st.max_sessions, 'sticky_sessions.max_sessions', 1, 10_000_000);
  }
  const rl = file.rate_limit;
  if (rl !== undefined) {
    if (!isObject(rl)) throw invalid('rate_limit', 'must be an object like {"rate": 100, "burst": 200}');
    warnUnknown(rl, ['rate', 'burst', 'key', 'max_clients'], 'rate_limit', warnings);
    const r = settings.rateLimit;
    if (rl.rate !== undefined) r.ratePerSecond = rate(rl.rate, 'rate_limit.rate');
    if (rl.burst !== undefined) r.burst = int(rl.burst, 'rate_limit.burst', 1, MAX_RATE);
    if (rl.key !== undefined) {
      if (typeof rl.key !== 'string') throw invalid('rate_limit.key', `must be ${HASH_KEY_HELP}, got ${JSON.stringify(rl.key)}`);
      r.key = parseHashKey(rl.key, 'rate_limit.key');
    }
    if (rl.max_clients !== undefined) r.maxKeys = int(rl.max_clients, 'rate_limit.max_clients', 1, 10_000_000);
  }
  return settings;
}

const MAX_HEADERS = 10_000;
const MIN_HEADER_BYTES = 1_024;
const MAX_HEADER_BYTES = 1_048_576;
const MAX_RATE = 10_000_000;

/** Requests per second, fractions allowed (0.5 = one every 2 s); 0 turns rate limiting off. */
function rate(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_RATE) {
    throw invalid(path, `must be requests per second, 0-${MAX_RATE} (0 = off), got ${JSON.stringify(value)}`);
  }
  return value;
}

function allowHosts(value: unknown, path: string): string[] {
  const list = typeof value === 'string' ? value.split(',').map((h) => h.trim()).filter(Boolean) : value;
  if (!Array.isArray(list)) throw invalid(path, `must be a list of hosts, got ${JSON.stringify(value)}`);
  return list.map((host, i) => checkHost(host, `${path}[${i}]`));
}

function serverHeader(value: unknown, path: string): ServerHeaderMode {
  if (typeof value !== 'string' || !(SERVER_HEADER_MODES as readonly string[]).includes(value)) {
    throw invalid(path, `must be one of ${SERVER_HEADER_MODES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as ServerHeaderMode;
}

function healthPath(value: unknown, path: string): string {
  const text = str(value, path, 2048);
  if (!text.startsWith('/')) throw invalid(path, `must start with "/", got ${JSON.stringify(value)}`);
  return text;
}

/** `200`, `"200-399"` or `"2xx"` to an inclusive range. */
function statusRange(value: unknown, path: string): { min: number; max: number } {
  const text = String(value);
  const single = /^([1-5]\d\d)$/.exec(text);
  if (single) return { min: Number(single[1]), max: Number(single[1]) };
  const range = /^([1-5]\d\d)-([1-5]\d\d)$/.exec(text);
  if (range && Number(range[1]) <= Number(range[2])) return { min: Number(range[1]), max: Number(range[2]) };
  const klass = /^([1-5])xx$/.exec(text);
  if (klass) return { min: Number(klass[1]) * 100, max: Number(klass[1]) * 100 + 99 };
  throw invalid(path, `must be a status like 200, a range like "200-399" or a class like "2xx", got ${JSON.stringify(value)}`);
}

function stickyMode(value: unknown, path: string): StickyMode {
  if (typeof value !== 'string' || !(STICKY_MODES as readonly string[]).includes(value)) {
    throw invalid(path, `must be one of ${STICKY_MODES.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as StickyMode;
}

/** RFC 6265 cookie-name token characters only: the name goes into Set-Cookie as is. */
function cookieName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/.test(value)) {
    throw invalid(path, `must be a cookie name (letters, digits, - and _), got ${JSON.stringify(value)}`);
  }
  return value;
}

function envInt(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw invalid(name, `must be an integer ${min}-${max}, got ${JSON.stringify(raw)}`);
  return value;
}

function envStr(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** Loopback by address (127.0.0.0/8, ::1) or the name localhost; `127.evil.example` is not. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
}

export interface ResolveInput {
  /** The parsed servers/config file, or null when there is none. */
  file: unknown;
  filePath: string | null;
  env: Env;
  flags: ConfigFlags;
}

/** Pure: merges and validates; throws LbError('LB_CONFIG_INVALID') naming the bad field. */
export function resolveConfig({ file, filePath, env, flags }: ResolveInput): BalancerConfig {
  const warnings: string[] = [];
  let fromFile: FileSettings;
  try {
    fromFile = parseFile(file ?? [], warnings);
  } catch (err) {
    // Problems inside the file get its name in front; flag and environment problems name themselves.
    if (err instanceof LbError && filePath !== null) throw new LbError(err.code, `${filePath}: ${err.message}`);
    throw err;
  }
  const d = DEFAULT_CONFIG;

  const envAlgorithm = envStr(env, 'LB_ALGORITHM');
  const envLogLevel = envStr(env, 'LOG_LEVEL');
  const logLevel = flags.logLevel ?? envLogLevel ?? d.logLevel;
  if (!isLogLevel(logLevel)) {
    throw invalid(flags.logLevel !== undefined ? '--log-level' : 'LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`);
  }

  const config: BalancerConfig = {
    port: flags.port ?? envInt(env, 'LB_PORT', 0, 65535) ?? fromFile.port ?? d.port,
    host: flags.host ?? envStr(env, 'LB_HOST') ?? fromFile.host ?? d.host,
    adminPort: flags.adminPort ?? envInt(env, 'LB_ADMIN_PORT', 0, 65535) ?? fromFile.adminPort ?? d.adminPort,
    adminHost: flags.adminHost ?? envStr(env, 'LB_ADMIN_HOST') ?? fromFile.adminHost ?? d.adminHost,
    // An empty LB_ADMIN_TOKEN is kept (and refused below): `LB_ADMIN_TOKEN=$UNSET_VAR` must not mean "no token".
    adminToken: flags.adminToken ?? env.LB_ADMIN_TOKEN ?? fromFile.adminToken ?? d.adminToken,
    algorithm:
      flags.algorithm !== undefined
        ? algorithm(flags.algorithm, '--algorithm')
        : envAlgorithm !== undefined
          ? algorithm(envAlgorithm, 'LB_ALGORITHM')
          : (fromFile.algorithm ?? d.algorithm),
    servers: fromFile.servers,
    timeoutMs: flags.timeout !== undefined ? seconds(flags.timeout, '--timeout', 1, 3_600_000) : (fromFile.timeoutMs ?? d.timeoutMs),
    connectTimeoutMs:
      flags.connectTimeout !== undefined
        ? seconds(flags.connectTimeout, '--connect-timeout', 1, 600_000)
        : (fromFile.connectTimeoutMs ?? d.connectTimeoutMs),
    retries: flags.retries !== undefined ? int(flags.retries, '--retries', 0, 10) : (fromFile.retries ?? d.retries),
    shutdownTimeoutMs: d.shutdownTimeoutMs,
    logLevel,
    healthCheck: {
      ...fromFile.healthCheck,
      ...(flags.healthCheck !== undefined ? { enabled: flags.healthCheck } : {}),
      ...(flags.healthPath !== undefined ? { path: healthPath(flags.healthPath, '--health-path') } : {}),
      ...(flags.healthInterval !== undefined ? { intervalMs: seconds(flags.healthInterval, '--health-interval', 100, 3_600_000) } : {}),
      ...(flags.healthTimeout !== undefined ? { timeoutMs: seconds(flags.healthTimeout, '--health-timeout', 10, 600_000) } : {}),
    },
    circuitBreaker: fromFile.circuitBreaker,
    limits: {
      ...fromFile.limits,
      ...(flags.maxConns !== undefined ? { maxConnsPerServer: int(flags.maxConns, '--max-conns', 0, 1_000_000) } : {}),
      ...(flags.maxHeaders !== undefined ? { maxHeaders: int(flags.maxHeaders, '--max-headers', 1, MAX_HEADERS) } : {}),
      ...(flags.maxHeaderSize !== undefined ? { maxHeaderBytes: int(flags.maxHeaderSize, '--max-header-size', MIN_HEADER_BYTES, MAX_HEADER_BYTES) } : {}),
      ...(flags.clientBodyTimeout !== undefined ? { clientBodyTimeoutMs: seconds(flags.clientBodyTimeout, '--client-body-timeout', 100, 3_600_000) } : {}),
      ...(flags.maxConnsPerClient !== undefined ? { maxConnsPerClient: int(flags.maxConnsPerClient, '--max-conns-per-client', 0, 1_000_000) } : {}),
    },
    consistentHash: fromFile.consistentHash,
    hashKey: flags.hashKey !== undefined ? parseHashKey(flags.hashKey, '--hash-key') : (fromFile.hashKey ?? d.hashKey),
    sticky: {
      ...fromFile.sticky,
      ...(flags.sticky !== undefined ? { mode: stickyMode(flags.sticky, '--sticky') } : {}),
      ...(flags.stickyCookie !== undefined ? { cookieName: cookieName(flags.stickyCookie, '--sticky-cookie') } : {}),
      ...(flags.stickyTtl !== undefined ? { ttlMs: seconds(flags.stickyTtl, '--sticky-ttl', 1000, 31_536_000_000) } : {}),
      ...(envStr(env, 'LB_STICKY_SECRET') !== undefined ? { secret: envStr(env, 'LB_STICKY_SECRET')! } : {}),
    },
    tls: {
      certFile: flags.tlsCert ?? null,
      keyFile: flags.tlsKey ?? null,
      upstreamCaFile: flags.upstreamCa ?? null,
      upstreamInsecure: flags.upstreamInsecure ?? false,
    },
    adminCors: flags.adminCors === undefined ? [] : flags.adminCors.split(',').map((o) => o.trim()).filter(Boolean),
    allowHosts: flags.allowHosts !== undefined ? allowHosts(flags.allowHosts, '--allow-hosts') : (fromFile.allowHosts ?? d.allowHosts),
    serverHeader: flags.serverHeader !== undefined ? serverHeader(flags.serverHeader, '--server-header') : (fromFile.serverHeader ?? d.serverHeader),
    rateLimit: {
      ...fromFile.rateLimit,
      ...(flags.rateLimit !== undefined ? { ratePerSecond: rate(flags.rateLimit, '--rate-limit') } : {}),
      ...(flags.rateLimitBurst !== undefined ? { burst: int(flags.rateLimitBurst, '--rate-limit-burst', 1, MAX_RATE) } : {}),
      ...(flags.rateLimitKey !== undefined ? { key: parseHashKey(flags.rateLimitKey, '--rate-limit-key') } : {}),
    },
    serversFile: filePath,
    stateFile: flags.stateFile ?? envStr(env, 'LB_STATE_FILE') ?? null,
    warnings,
  };
  if (config.adminToken !== null && config.adminToken.trim() === '') {
    throw invalid(flags.adminToken !== undefined ? '--admin-token' : env.LB_ADMIN_TOKEN !== undefined ? 'LB_ADMIN_TOKEN' : 'admin.token', 'must not be empty (an empty token would lock everyone out of the admin API)');
  }
  config.servers.forEach((server, i) => checkDestination(server.host, `servers[${i}].host`, config.allowHosts));
  if ((config.tls.certFile === null) !== (config.tls.keyFile === null)) {
    throw invalid(config.tls.certFile === null ? '--tls-cert' : '--tls-key', 'HTTPS needs both --tls-cert and --tls-key');
  }
  for (const origin of config.adminCors) {
    if (origin !== '*' && !/^https?:\/\/[^/\s]+$/.test(origin)) throw invalid('--admin-cors', `must be origins like http://localhost:3000 (comma-separated) or *, got ${JSON.stringify(origin)}`);
  }
  if (flags.port !== undefined) int(flags.port, '--port', 0, 65535);
  if (flags.adminPort !== undefined) int(flags.adminPort, '--admin-port', 0, 65535);
  if (!isLoopback(config.adminHost) && config.adminToken === null) {
    throw invalid(
      flags.adminHost !== undefined ? '--admin-host' : 'admin host',
      `${config.adminHost} is not loopback: set --admin-token (or LB_ADMIN_TOKEN) so the admin API is not open to the network`,
    );
  }
  return config;
}

/**
 * For embedding: a config from the same object a servers file holds (a list, or `{servers, load_balancer,
 * ...}`) plus flags, with no environment. `configFrom([{host: '127.0.0.1', port: 3001}], {port: 0})`.
 */
export function configFrom(file: unknown, flags: ConfigFlags = {}): BalancerConfig {
  return resolveConfig({ file, filePath: null, env: {}, flags });
}

/** Reads and parses the servers/config file; every failure names the file. `undefined`: missing and `missingOk`. */
export async function readConfigFile(path: string, missingOk = false): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && missingOk) return undefined;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? err);
    throw new LbError('LB_CONFIG_INVALID', `${path}: ${why}`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new LbError('LB_CONFIG_INVALID', `${path}: not valid JSON (${(err as Error).message})`);
  }
}

export interface LoadConfigInput {
  flags: ConfigFlags;
  env: Env;
  /** The file to read; when `required` is false a missing file means "no servers yet". */
  serversFile: string | null;
  required: boolean;
}

export async function loadConfig({ flags, env, serversFile, required }: LoadConfigInput): Promise<BalancerConfig> {
  let file: unknown = null;
  let filePath: string | null = null;
  if (serversFile !== null) {
    const parsed = await readConfigFile(serversFile, !required);
    if (parsed !== undefined) {
      file = parsed;
      filePath = serversFile;
    }
  }
  return resolveConfig({ file, filePath, env, flags });
}
