/**
 * One validated BalancerConfig from four sources, in this precedence: flags > environment > file >
 * defaults. `resolveConfig` is pure (tests feed it objects); `loadConfig` adds the file read. Which
 * settings exist, with their bounds and defaults, is the settings table's business (settings/table.ts);
 * this module walks it and parses the servers list.
 *
 * The servers file is either the seed's plain list `[{host, port, weight?}]` or an object
 * `{load_balancer: {...}, servers: [...], health_check: {...}, ...}`. Every problem is reported with the
 * JSON path of the bad field (`servers[2].port: must be an integer 1-65535`), all of them at once;
 * unknown keys are warnings, not errors (with a "did you mean" when one is close), so files written for
 * other tools of the family still load.
 */
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import type { AlgorithmName } from '../shared/api-types.js';
import { LbError } from '../shared/errors.js';
import { MAX_WEIGHT } from '../shared/limits.js';
import type { LogLevel } from '../shared/log.js';
import type { HashKeySpec } from './hash-key.js';
import { checkDestination, checkHost, checkPort, checkServerName } from './edge/server-address.js';
import type { RateLimitConfig } from './edge/rate-limit.js';
import { closestName, SettingProblem } from './settings/kinds.js';
import { camelCase, envNames, knownFileKeys, SETTINGS, type BALANCER_MODES, type ConfigFlags, type HASH_FUNCTIONS, type SERVER_HEADER_MODES, type Setting, type STICKY_MODES } from './settings/table.js';
import type { ServerInit } from './server.js';

export { HASH_FUNCTIONS, SERVER_HEADER_MODES, STICKY_MODES, type ConfigFlags } from './settings/table.js';
// Each part's config type lives with the part; the whole config is assembled here.
import type { HealthCheckConfig } from './health/active.js';
import type { CircuitBreakerConfig } from './health/passive.js';
import type { StickyConfig } from './sticky.js';
import type { ConsistentHashConfig } from './algorithms/consistent-hash.js';
import type { StoreConfig } from './store/redis-url.js';
import { parseJsonText } from '../shared/json-text.js';
export type { HealthCheckConfig, CircuitBreakerConfig, StickyConfig, ConsistentHashConfig, StoreConfig };

export type HashFunctionName = (typeof HASH_FUNCTIONS)[number];

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

/** What `x-lb-server` tells clients: the server id, only an explicit name (never an address), or nothing. */
export type ServerHeaderMode = (typeof SERVER_HEADER_MODES)[number];

export type StickyMode = (typeof STICKY_MODES)[number];

export interface TlsConfig {
  /** PEM certificate chain and key for HTTPS on the traffic port; null = plain HTTP. */
  certFile: string | null;
  keyFile: string | null;
  /** CA bundle (PEM) to verify HTTPS servers with; null = the system's. */
  upstreamCaFile: string | null;
  /** Accept any certificate from HTTPS servers (self-signed test setups only). */
  upstreamInsecure: boolean;
}

/** Layer-4 mode's own settings (see tcp/). */
export interface TcpConfig {
  /** No byte either way this long: the connection is closed. */
  idleTimeoutMs: number;
  /** Most client connections open at once (HAProxy's maxconn); one more is closed at once. */
  maxConnections: number;
  /** A drained server's connections are cut after this long; 0 = they stay until they close. */
  drainTimeoutMs: number;
  /** Clients send a PROXY protocol header first (lb behind another balancer). */
  acceptProxy: boolean;
}

export type BalancerMode = (typeof BALANCER_MODES)[number];

export interface BalancerConfig {
  /** http: a reverse proxy of requests; tcp: forwards whole connections (tcp/). */
  mode: BalancerMode;
  tcp: TcpConfig;
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
  /** A server that comes back ramps from a tenth of its weight to all of it over this long; 0 = off. */
  slowStartMs: number;
  /** Effective weights follow recent latency and errors (health/dynamic-weights.ts). */
  dynamicWeights: boolean;
  shutdownTimeoutMs: number;
  /** Processes that proxy traffic; above 1 a primary process runs them (workers/primary.ts). */
  workers: number;
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
  /** Several instances sharing state through Redis (store/); url null = this instance stands alone. */
  store: StoreConfig;
  /** Unknown keys and other things worth a line in the log, never fatal. */
  warnings: string[];
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Every setting at its default (servers, file and warnings aside). */
export const DEFAULT_CONFIG: Omit<BalancerConfig, 'servers' | 'serversFile' | 'warnings'> = (() => {
  const config = {
    healthCheck: {},
    circuitBreaker: {},
    limits: {},
    consistentHash: {},
    sticky: {},
    tls: {},
    rateLimit: {},
    store: {},
    tcp: {},
  } as BalancerConfig;
  for (const s of SETTINGS as readonly Setting[]) s.set(config, structuredClone(s.default));
  return config;
})();

function invalid(path: string, problem: string): LbError {
  return new LbError('LB_CONFIG_INVALID', `${path}: ${problem}`);
}

type Json = Record<string, unknown>;

/** A JSON object (not null, not a list). */
export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function warnUnknown(obj: Json, known: readonly string[], path: string, warnings: string[]): void {
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const close = closestName(key, known);
    warnings.push(`${path}${path ? '.' : ''}${key}: unknown key, ignored${close !== undefined ? ` (did you mean ${close}?)` : ''}`);
  }
}

export function int(value: unknown, path: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(path, `must be an integer ${min}-${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function bool(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw invalid(path, `must be true or false, got ${JSON.stringify(value)}`);
  return value;
}

export const MAX_SERVERS = 10_000;
export { MAX_WEIGHT };

/** Validates one server entry: `{host, port, weight?, name?}` or `{url}` (as the bench harness writes). */
export function parseServer(value: unknown, path: string, warnings: string[] = []): ServerInit {
  if (!isObject(value)) throw invalid(path, `must be an object like {"host": "127.0.0.1", "port": 3001}, got ${JSON.stringify(value)}`);
  warnUnknown(value, ['host', 'port', 'weight', 'name', 'url', 'id', 'max_conns', 'tls', 'send_proxy'], path, warnings);
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
  if (value.send_proxy !== undefined) {
    if (value.send_proxy !== 'v1' && value.send_proxy !== 'v2') throw invalid(`${path}.send_proxy`, `must be "v1" or "v2" (PROXY protocol version, tcp mode), got ${JSON.stringify(value.send_proxy)}`);
    init.sendProxy = value.send_proxy;
  }
  return init;
}

/** Every entry is checked (its destination against `allowHosts` too); each problem goes to `report`, so a file's mistakes are listed at once. */
function parseServers(value: unknown, path: string, warnings: string[], allowHosts: readonly string[], report: (problem: string) => void): ServerInit[] {
  if (!Array.isArray(value)) {
    report(`${path}: must be a list of servers, got ${JSON.stringify(value)}`);
    return [];
  }
  if (value.length > MAX_SERVERS) {
    report(`${path}: at most ${MAX_SERVERS} servers, got ${value.length}`);
    return [];
  }
  const seen = new Map<string, number>();
  const servers: ServerInit[] = [];
  value.forEach((entry, i) => {
    try {
      const server = parseServer(entry, `${path}[${i}]`, warnings);
      checkDestination(server.host, `${path}[${i}].host`, allowHosts);
      for (const key of [`${server.host}:${server.port}`, server.name].filter((k): k is string => k !== undefined)) {
        const first = seen.get(key);
        if (first !== undefined) throw invalid(`${path}[${i}]`, `duplicate of ${path}[${first}] (${key})`);
        seen.set(key, i);
      }
      servers.push(server);
    } catch (err) {
      report((err as Error).message);
    }
  });
  return servers;
}

/** The value at `section.key` of a file object, if any. */
function fileValue(file: Json, path: string): unknown {
  const [section, key] = path.split('.') as [string, string];
  const holder = file[section];
  return isObject(holder) ? holder[key] : undefined;
}

export interface ResolveInput {
  /** The parsed servers/config file, or null when there is none. */
  file: unknown;
  filePath: string | null;
  env: Env;
  flags: ConfigFlags;
}

/**
 * Pure: merges and validates; throws one LbError('LB_CONFIG_INVALID') listing every bad field, one per
 * line, each with where it came from (`--timeout`, `LB_TIMEOUT`, `servers.json: health_check.interval`).
 */
export function resolveConfig({ file, filePath, env, flags }: ResolveInput): BalancerConfig {
  const warnings: string[] = [];
  const problems: string[] = [];
  const inFile = (path: string): string => (filePath === null ? path : `${filePath}: ${path}`);
  const config = { ...structuredClone(DEFAULT_CONFIG), servers: [], serversFile: filePath, warnings } as BalancerConfig;
  const object: Json = Array.isArray(file) || file === null || file === undefined ? {} : isObject(file) ? file : {};
  if (file !== null && file !== undefined && !Array.isArray(file) && !isObject(file)) {
    problems.push(inFile('(top level): must be a list of servers or an object with a "servers" list'));
  }
  if (isObject(file)) {
    const sections = knownFileKeys();
    warnUnknown(file, ['servers', ...sections.keys()], '', warnings);
    for (const [section, keys] of sections) {
      const value = file[section];
      if (value === undefined) continue;
      if (!isObject(value)) problems.push(inFile(`${section}: must be an object`));
      else warnUnknown(value, keys, section, warnings);
    }
  }
  const rawFlags = flags as Record<string, unknown>;
  for (const s of SETTINGS as readonly Setting[]) {
    let raw: unknown;
    let where = '';
    const flag = rawFlags[camelCase(s.flag)];
    const envName = envNames(s as (typeof SETTINGS)[number]).find((name) => env[name] !== undefined);
    if (flag !== undefined) {
      raw = flag;
      where = `--${s.flag}`;
    } else if (envName !== undefined) {
      raw = env[envName];
      where = envName;
    } else {
      // The main path wins over a seed alias when both are written; say so, one of them is a mistake.
      const written = [s.file, ...(s.aliases ?? [])].filter((p) => fileValue(object, p) !== undefined);
      const path = written[0];
      if (path === undefined) continue;
      if (written.length > 1) warnings.push(`${written.join(' and ')} both set the same thing: ${path} wins`);
      raw = fileValue(object, path);
      where = inFile(path);
    }
    try {
      s.set(config, s.kind.parse(raw));
    } catch (err) {
      problems.push(`${where}${err instanceof SettingProblem ? err.subpath : ''}: ${(err as Error).message}`);
    }
  }
  const list = Array.isArray(file) ? file : object.servers;
  if (list !== undefined) config.servers = parseServers(list, 'servers', warnings, config.allowHosts, (problem) => problems.push(inFile(problem)));

  if (config.adminToken !== null && config.adminToken.trim() === '') problems.push('admin token: must not be empty');
  // One port cannot serve both (unless on two different addresses): say so, rather than "address in use" at start.
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::';
  if (config.port !== 0 && config.port === config.adminPort && (config.host === config.adminHost || wildcard(config.host) || wildcard(config.adminHost))) {
    problems.push(`admin port: the traffic and the admin API cannot share port ${config.port} (set --admin-port to another port, or 0 for any free one)`);
  }
  if ((config.tls.certFile === null) !== (config.tls.keyFile === null)) {
    problems.push(`${config.tls.certFile === null ? '--tls-cert' : '--tls-key'}: HTTPS needs both --tls-cert and --tls-key`);
  }
  if (!isLoopback(config.adminHost) && config.adminToken === null) {
    problems.push(`${rawFlags.adminHost !== undefined ? '--admin-host' : 'admin host'}: ${config.adminHost} is not loopback: set --admin-token (or LB_ADMIN_TOKEN) so the admin API is not open to the network`);
  }
  // Workers replay HTTP mode's control plane and sum its counters; tcp mode has not been wired into them.
  if (config.mode === 'tcp' && config.workers > 1) problems.push(`workers: tcp mode runs in one process, got ${config.workers} workers (set workers to 1)`);
  // The store attaches to HTTP mode's composition; tcp mode would silently keep its state to itself.
  if (config.mode === 'tcp' && config.store.url !== null) problems.push('store: tcp mode does not share state through a store yet (leave --store out)');
  if (problems.length > 0) throw new LbError('LB_CONFIG_INVALID', problems.join('\n'));
  return config;
}

/** Loopback by address (127.0.0.0/8, ::1) or the name localhost; `127.evil.example` is not. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'));
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
    return parseJsonText(text);
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
