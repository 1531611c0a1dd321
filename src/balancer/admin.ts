/**
 * The admin HTTP API: routes to an AdminTarget (the balancer) and turns every bad input into a JSON error
 * `{error: {code, message}}` with the documented status: 400 bad input (JSON nested deeper than 32),
 * 401 missing token, 403 foreign origin, 404 unknown server or route, 405 wrong method, 409 duplicate,
 * 413 body over 64 KiB (sized or chunked), 415 a change without `Content-Type: application/json`, 421 a
 * foreign Host (see edge/admin-guard.ts). Nothing a request carries can throw out of here: a bug becomes
 * a 500 with a message, never a crash.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type {
  AlgorithmName,
  ClusterResponse,
  LoadTestSpec,
  LoadTestStatus,
  HealthResponse,
  HistoryResponse,
  SeedStatsResponse,
  ServerSnapshot,
  StatsSnapshot,
} from '../shared/api-types.js';
import { ALGORITHM_NAMES, isAlgorithmName } from '../shared/api-types.js';
import { LbError, httpStatusOf, isLbError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { bool, int, isObject, MAX_WEIGHT, parseServer } from './config.js';
import { checkAdminRequest, jsonDepth } from './edge/admin-guard.js';
import { CONTENT_SECURITY_POLICY, isAssetPath, loadAsset } from './web-assets.js';
import type { ServerInit } from './server.js';
import { parseJsonText } from '../shared/json-text.js';

export interface ServerUpdate {
  weight?: number;
  drain?: boolean;
}

/** What the admin API can ask of the balancer; `balancer.ts` implements it. */
/** A non-JSON answer (the Prometheus text format). */
export class RawBody {
  constructor(
    readonly body: string,
    readonly contentType: string,
  ) {}
}

export interface AdminTarget {
  /** A promise where the figures come from other processes (`--workers`). */
  stats(): StatsSnapshot | Promise<StatsSnapshot>;
  metrics(): Promise<RawBody>;
  /** Requests and events; events only after `sinceEventId` when given (a viewer's cursor). */
  history(sinceEventId?: number): HistoryResponse | Promise<HistoryResponse>;
  /** The running configuration in the file format, secrets redacted. */
  config(): Record<string, unknown>;
  health(): HealthResponse;
  addServer(init: ServerInit): ServerSnapshot;
  removeServer(idOrAddress: string): ServerSnapshot;
  updateServer(idOrAddress: string, update: ServerUpdate): ServerSnapshot;
  setAlgorithm(name: AlgorithmName): { algorithm: AlgorithmName; previous: AlgorithmName };
  reset(): void;
  /** Resolves when the last change is in force in every process that serves traffic (`--workers`). */
  settled?(): Promise<void>;
  /** The dashboard's built-in tests; null when the process was started without them. */
  loadTests: LoadTestControl | null;
  /** The cluster's live instances; null when the instance stands alone (no `--store`). */
  cluster?: (() => ClusterResponse | Promise<ClusterResponse>) | null;
}

/** The built-in tests as the admin API drives them (the load runner behind it is wired by `lb serve`). */
export interface LoadTestControl {
  start(spec: LoadTestSpec): LoadTestStatus;
  status(): LoadTestStatus;
  stop(): LoadTestStatus;
  close(): void;
}

const loadTestsOf = (t: AdminTarget): LoadTestControl => {
  if (t.loadTests === null) throw new LbError('LB_NOT_FOUND', 'built-in tests are not enabled in this process');
  return t.loadTests;
};

export interface AdminOptions {
  token: string | null;
  logger: Logger;
  /** Origins allowed to call from a browser (CORS); empty = no CORS headers at all. */
  corsOrigins: readonly string[];
  /** The admin listener's configured host: a Host header naming it is ours. */
  adminHost: string;
}

const MAX_BODY_BYTES = 64 * 1024;
/** Deeper JSON is refused before parsing: no admin body needs more than 2 levels. */
const MAX_JSON_DEPTH = 32;

type Handler = (target: AdminTarget, body: () => Promise<unknown>, param: string, query: URLSearchParams) => Promise<[number, unknown]> | [number, unknown];

interface Route {
  pattern: RegExp;
  methods: Record<string, Handler>;
}

/** The field checks are config.ts's; in a request body their failures are the client's (400). */
function asBadRequest<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw isLbError(err) && err.code === 'LB_CONFIG_INVALID' ? new LbError('LB_BAD_REQUEST', err.message) : err;
  }
}

const serverFromBody = async (body: () => Promise<unknown>): Promise<ServerInit> => {
  const value = await body();
  return asBadRequest(() => parseServer(value, 'body'));
};

/** Adds through the pool, whose edge check (a risky destination) is the client's error too. */
const addFromBody = async (t: AdminTarget, body: () => Promise<unknown>): Promise<[number, unknown]> => {
  const init = await serverFromBody(body);
  return [201, { server: asBadRequest(() => t.addServer(init)) }];
};

/** `{host, port}` or `{id}` naming a server to remove. */
const serverRefFromBody = async (body: () => Promise<unknown>): Promise<string> => {
  const value = await body();
  if (isObject(value) && typeof value.id === 'string' && value.id !== '') return value.id;
  const init = await serverFromBody(async () => (isObject(value) ? { host: value.host, port: value.port } : value));
  return `${init.host}:${init.port}`;
};

/** The seed's `GET /api/stats`, from the full snapshot. */
function seedStatsOf(snapshot: StatsSnapshot): SeedStatsResponse {
  const { totals } = snapshot;
  return {
    total_requests: totals.requests,
    successful_requests: totals.successes,
    failed_requests: totals.failures,
    error_rate: totals.errorRate,
    algorithm: snapshot.algorithm,
    // fromEntries defines own properties: a server named __proto__ is a key like any other.
    servers: Object.fromEntries(
      snapshot.servers.map((s) => [
        s.id,
        { requests: s.totalRequests, failures: s.totalFailures, active_connections: s.activeRequests, avg_response_time: s.avgResponseTimeMs, healthy: s.healthy },
      ]),
    ),
  };
}

const ROUTES: Route[] = [
  { pattern: /^\/lb\/stats$/, methods: { GET: async (t) => [200, await t.stats()] } },
  { pattern: /^\/api\/stats$/, methods: { GET: async (t) => [200, seedStatsOf(await t.stats())] } },
  { pattern: /^\/lb\/history$/, methods: { GET: async (t, _body, _param, query) => [200, await t.history(sinceOf(query))] } },
  { pattern: /^\/lb\/config$/, methods: { GET: (t) => [200, t.config()] } },
  {
    pattern: /^\/lb\/cluster$/,
    methods: {
      GET: async (t) => {
        if (t.cluster == null) throw new LbError('LB_NOT_FOUND', 'this instance is not part of a cluster (start it with --store redis://host:port)');
        return [200, await t.cluster()];
      },
    },
  },
  { pattern: /^\/(?:api\/)?health$/, methods: { GET: (t) => [200, t.health()] } },
  { pattern: /^\/metrics$/, methods: { GET: async (t) => [200, await t.metrics()] } },
  {
    pattern: /^\/lb\/add-server$/,
    methods: { POST: addFromBody },
  },
  {
    pattern: /^\/lb\/remove-server$/,
    methods: { POST: async (t, body) => [200, { removed: t.removeServer(await serverRefFromBody(body)) }] },
  },
  {
    pattern: /^\/api\/servers$/,
    methods: {
      GET: async (t) => [200, { servers: (await t.stats()).servers }],
      POST: addFromBody,
    },
  },
  {
    pattern: /^\/api\/servers\/([^/]+)$/,
    methods: {
      DELETE: (t, _body, id) => [200, { removed: t.removeServer(id) }],
      PATCH: async (t, body, id) => [200, { server: t.updateServer(id, parseUpdate(await body())) }],
    },
  },
  {
    pattern: /^\/lb\/algorithm$/,
    methods: {
      GET: async (t) => [200, { algorithm: (await t.stats()).algorithm, algorithms: ALGORITHM_NAMES }],
      POST: async (t, body) => [200, t.setAlgorithm(parseAlgorithm(await body()))],
    },
  },
  {
    pattern: /^\/api\/loadtest$/,
    methods: {
      GET: (t) => [200, loadTestsOf(t).status()],
      POST: async (t, body) => {
        const spec = await body();
        if (!isObject(spec)) throw new LbError('LB_BAD_REQUEST', 'body: must be a JSON object like {"kind": "load"}');
        return [202, loadTestsOf(t).start(spec as unknown as LoadTestSpec)];
      },
    },
  },
  { pattern: /^\/api\/loadtest\/stop$/, methods: { POST: (t) => [200, loadTestsOf(t).stop()] } },
  {
    pattern: /^\/lb\/reset$/,
    methods: {
      POST: (t) => {
        t.reset();
        return [200, { reset: true }];
      },
    },
  },
];

/** `?since=<event id>`: a non-negative integer, or absent. */
function sinceOf(query: URLSearchParams): number | undefined {
  const raw = query.get('since');
  if (raw === null) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new LbError('LB_BAD_REQUEST', `since: must be an event id (a whole number), got ${JSON.stringify(raw.slice(0, 40))}`);
  return Number(raw);
}

function parseUpdate(value: unknown): ServerUpdate {
  if (!isObject(value)) throw new LbError('LB_BAD_REQUEST', 'body: must be a JSON object like {"weight": 3} or {"drain": true}');
  const update: ServerUpdate = {};
  for (const key of Object.keys(value)) {
    if (key !== 'weight' && key !== 'drain') throw new LbError('LB_BAD_REQUEST', `body.${key}: unknown field (expected weight or drain)`);
  }
  if (value.weight !== undefined) update.weight = asBadRequest(() => int(value.weight, 'body.weight', 1, MAX_WEIGHT));
  if (value.drain !== undefined) update.drain = asBadRequest(() => bool(value.drain, 'body.drain'));
  if (update.weight === undefined && update.drain === undefined) {
    throw new LbError('LB_BAD_REQUEST', 'body: nothing to change (expected weight or drain)');
  }
  return update;
}

function parseAlgorithm(value: unknown): AlgorithmName {
  const name = isObject(value) ? value.algorithm : undefined;
  if (!isAlgorithmName(name)) {
    throw new LbError('LB_BAD_REQUEST', `body.algorithm: must be one of ${ALGORITHM_NAMES.join(', ')}, got ${JSON.stringify(name)}`);
  }
  return name;
}

function readJsonBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = new LbError('LB_PAYLOAD_TOO_LARGE', `body: larger than ${MAX_BODY_BYTES} bytes`);
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      reject(tooLarge);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        // A chunked body has no declared size: stop keeping it, let the rest drain, answer 413 (the
        // response closes the connection), as for a sized one.
        req.off('data', collect);
        req.resume();
        chunks.length = 0;
        reject(tooLarge);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', collect);
    req.on('error', reject);
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') {
        reject(new LbError('LB_BAD_REQUEST', 'body: expected a JSON object, got an empty body'));
        return;
      }
      if (jsonDepth(text) > MAX_JSON_DEPTH) {
        reject(new LbError('LB_BAD_REQUEST', `body: JSON nested deeper than ${MAX_JSON_DEPTH} levels`));
        return;
      }
      try {
        resolve(parseJsonText(text));
      } catch (err) {
        reject(new LbError('LB_BAD_REQUEST', `body: not valid JSON (${(err as Error).message})`));
      }
    });
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  // The scheme is case-insensitive (RFC 9110 §11.1): "bearer x" is as good as "Bearer x".
  if (header === undefined || header.slice(0, 7).toLowerCase() !== 'bearer ') return false;
  const given = Buffer.from(header.slice(7));
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function send(res: ServerResponse, status: number, payload: unknown, extra: Record<string, string> = {}): void {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(body);
}

export type AdminHandler = (req: IncomingMessage, res: ServerResponse) => void;

export function createAdminHandler(target: AdminTarget, options: AdminOptions): AdminHandler {
  return (req, res) => {
    void handle(target, options, req, res);
  };
}

/** CORS headers for this request's Origin, or none when it is not allowed (the browser then refuses). */
function corsHeaders(options: AdminOptions, req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (options.corsOrigins.length === 0 || origin === undefined) return {};
  const allowed = options.corsOrigins.includes('*') ? '*' : options.corsOrigins.includes(origin) ? origin : null;
  return allowed === null ? {} : { 'access-control-allow-origin': allowed, vary: 'Origin' };
}

async function handle(target: AdminTarget, options: AdminOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? 'GET';
  const cors = corsHeaders(options, req);
  for (const [name, value] of Object.entries(cors)) res.setHeader(name, value);
  if (method === 'OPTIONS' && cors['access-control-allow-origin'] !== undefined && req.headers['access-control-request-method'] !== undefined) {
    // A preflight carries no credentials: answer it before the token check.
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST, PATCH, DELETE, OPTIONS',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
    });
    res.end();
    return;
  }
  let pathname: string;
  let query: URLSearchParams;
  try {
    const url = new URL(req.url ?? '/', 'http://admin');
    pathname = url.pathname;
    query = url.searchParams;
  } catch {
    send(res, 400, { error: { code: 'LB_BAD_REQUEST', message: `bad request path ${JSON.stringify(req.url)}` } });
    return;
  }
  const isHealth = /^\/(?:api\/)?health$/.test(pathname);
  // The balancer's own health stays readable by any prober; everything else passes the browser guard.
  const refusal = isHealth && (method === 'GET' || method === 'HEAD') ? null : checkAdminRequest(req, { adminHost: options.adminHost, tokenRequired: options.token !== null, corsOrigins: options.corsOrigins });
  if (refusal !== null) {
    send(res, httpStatusOf(refusal.code), { error: refusal }, { connection: 'close' });
    return;
  }
  try {
    if (method === 'GET' && isAssetPath(pathname)) {
      // The page and its scripts hold no data: they load without the token and ask for it themselves.
      const asset = await loadAsset(pathname);
      res.writeHead(200, {
        'content-type': asset.contentType,
        'content-length': asset.body.length,
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache',
      });
      res.end(asset.body);
      return;
    }
    if (options.token !== null && !isHealth && !tokenMatches(req.headers.authorization, options.token)) {
      throw new LbError('LB_UNAUTHORIZED', 'missing or wrong bearer token (Authorization: Bearer <token>)');
    }
    for (const route of ROUTES) {
      const match = route.pattern.exec(pathname);
      if (match === null) continue;
      // HEAD is GET without the body (Node leaves the body out itself).
      const handler = route.methods[method] ?? (method === 'HEAD' ? route.methods.GET : undefined);
      if (handler === undefined) {
        const allowed = Object.keys(route.methods).join(', ');
        send(res, 405, { error: { code: 'LB_METHOD_NOT_ALLOWED', message: `${method} ${pathname}: use ${allowed}` } }, { allow: allowed });
        return;
      }
      let param = match[1] ?? '';
      try {
        param = decodeURIComponent(param);
      } catch {
        throw new LbError('LB_BAD_REQUEST', `bad server id ${JSON.stringify(param)} in the path`);
      }
      const [status, payload] = await handler(target, () => readJsonBody(req), param, query);
      // A change is answered once it is in force everywhere (with --workers, in every worker too).
      if (method !== 'GET' && method !== 'HEAD') await target.settled?.();
      if (payload instanceof RawBody) {
        res.writeHead(status, { 'content-type': payload.contentType, 'content-length': Buffer.byteLength(payload.body), 'cache-control': 'no-store' });
        res.end(payload.body);
        return;
      }
      send(res, status, payload);
      return;
    }
    throw new LbError('LB_NOT_FOUND', `no admin route ${method} ${pathname} (see GET /lb/stats, POST /lb/add-server, GET /health)`);
  } catch (err) {
    if (res.headersSent) return;
    if (isLbError(err)) {
      const extra: Record<string, string> =
        err.code === 'LB_UNAUTHORIZED' ? { 'www-authenticate': 'Bearer' } : err.code === 'LB_PAYLOAD_TOO_LARGE' ? { connection: 'close' } : {};
      send(res, err.httpStatus, { error: err.toJSON() }, extra);
      return;
    }
    options.logger.error(`admin ${method} ${pathname} failed: ${(err as Error).stack ?? String(err)}`);
    send(res, 500, { error: { code: 'LB_INTERNAL', message: `internal error: ${(err as Error).message}` } });
  }
}
