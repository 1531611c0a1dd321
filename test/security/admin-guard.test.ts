/**
 * Hostile requests against the admin API of a balancer with no token on the default loopback admin host:
 * what a web page, a rebound DNS name or a careless client can send. Raw node:http requests, because fetch
 * will not set Host, Origin or Sec-Fetch-Site.
 */
import { request, type IncomingHttpHeaders } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { AlgorithmName, StatsSnapshot } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closeAll, closedAfterEach, startLb, startServers } from '../helpers/servers.js';

interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  /** A string is sent with its Content-Length; `chunked` is sent with Transfer-Encoding: chunked. */
  body?: string | { chunked: number; chunkSize: number };
}

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  // any: each row reads the fields it expects.
  json: any;
  /** A socket error after the whole response had arrived (the server closing a connection still sending). */
  lateError: Error | null;
}

/** One request over a fresh connection; the response is read in full before it resolves. */
function send(port: number, r: RawRequest): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...r.headers };
    if (typeof r.body === 'string') headers['content-length'] = String(Buffer.byteLength(r.body));
    if (typeof r.body === 'object') headers['transfer-encoding'] = 'chunked';
    const req = request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent: false });
    let responded = false;
    let lateError: Error | null = null;
    req.on('error', (err) => {
      if (responded) lateError = err;
      else reject(err);
    });
    req.on('response', (res) => {
      responded = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown = null;
        try {
          json = JSON.parse(text);
        } catch {
          json = { unparsed: text };
        }
        // Let a pending socket error (a reset while the client was still sending) surface first.
        setImmediate(() => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json, lateError });
        });
      });
    });
    if (r.body === undefined) req.end();
    else if (typeof r.body === 'string') req.end(r.body);
    else {
      const { chunked: total, chunkSize } = r.body;
      const chunk = Buffer.alloc(chunkSize, 'a');
      let sent = 0;
      // Honour backpressure; stop as soon as the answer is in, as a real client would.
      const pump = (): void => {
        while (sent < total && !responded && !req.destroyed) {
          sent += chunkSize;
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        if (!responded && !req.destroyed) req.end();
      };
      pump();
    }
  });
}

const json = (headers: Record<string, string> = {}): Record<string, string> => ({ 'content-type': 'application/json', ...headers });

let lb: BalancerHandle;
let backends: TestServerHandle[];
/** A real test server outside the pool: a hostile add that got through would really join. */
let outsider: TestServerHandle;

beforeAll(async () => {
  backends = await startServers(3);
  outsider = backends[2]!;
  lb = await startLb([], {
    file: [
      { host: '127.0.0.1', port: backends[0]!.port, name: 's1', weight: 1 },
      { host: '127.0.0.1', port: backends[1]!.port, name: 's2', weight: 3 },
    ],
  });
});
afterAll(async () => closeAll(lb, ...backends));

const scope = closedAfterEach();

async function stats(target: BalancerHandle = lb): Promise<StatsSnapshot> {
  return (await send(target.adminPort, { method: 'GET', path: '/lb/stats' })).json as StatsSnapshot;
}

/** What a row promises not to touch, as read from GET /lb/stats. */
const VIEWS = {
  pool: (s: StatsSnapshot) => s.servers.map(({ id, host, port, weight, enabled }) => ({ id, host, port, weight, enabled })),
  algorithm: (s: StatsSnapshot): AlgorithmName => s.algorithm,
};
type View = keyof typeof VIEWS;

interface Ctx {
  /** The admin port (for Host and Origin values). */
  port: number;
  /** The port of a live test server that is not in the pool. */
  free: number;
}

interface Row {
  name: string;
  request: (ctx: Ctx) => RawRequest;
  status: number;
  /** The error code, or null for a request that must be served. */
  code: string | null;
  message?: RegExp;
  unchanged: View[];
  /** Undoes an allowed change so the pool ends as it started. */
  cleanup?: (res: RawResponse) => RawRequest;
}

const BOTH: View[] = ['pool', 'algorithm'];
const add = (body: unknown, headers: Record<string, string> = json()) => (): RawRequest => ({ method: 'POST', path: '/lb/add-server', headers, body: JSON.stringify(body) });
const addOutsider = (headers: Record<string, string>) => (ctx: Ctx): RawRequest => add({ host: '127.0.0.1', port: ctx.free, weight: 1000 }, headers)();
const badHost = (name: string, host: string, message: RegExp): Row => ({
  name,
  request: (ctx) => add({ host, port: ctx.free })(),
  status: 400,
  code: 'LB_BAD_REQUEST',
  message,
  unchanged: BOTH,
});
const hostHeader = (name: string, host: (port: number) => string, path = '/lb/stats'): Row => ({
  name,
  request: (ctx) => ({ method: 'GET', path, headers: { host: host(ctx.port) } }),
  status: 200,
  code: null,
  unchanged: BOTH,
});

const rows: Row[] = [
  // A no-cors fetch or a form can only send these "simple" types: none of them may change anything.
  { name: 'text/plain add (what a no-cors fetch sends)', request: addOutsider({ 'content-type': 'text/plain' }), status: 415, code: 'LB_UNSUPPORTED_MEDIA_TYPE', unchanged: BOTH },
  { name: 'form-urlencoded add', request: addOutsider({ 'content-type': 'application/x-www-form-urlencoded' }), status: 415, code: 'LB_UNSUPPORTED_MEDIA_TYPE', unchanged: BOTH },
  { name: 'add without a content type', request: addOutsider({}), status: 415, code: 'LB_UNSUPPORTED_MEDIA_TYPE', unchanged: BOTH },
  {
    name: 'text/plain algorithm switch',
    request: () => ({ method: 'POST', path: '/lb/algorithm', headers: { 'content-type': 'text/plain' }, body: '{"algorithm":"weighted"}' }),
    status: 415,
    code: 'LB_UNSUPPORTED_MEDIA_TYPE',
    unchanged: BOTH,
  },
  // Foreign origins, even with the JSON type (which only a CORS preflight would let through).
  { name: 'Origin http://evil.example with JSON', request: addOutsider(json({ origin: 'http://evil.example' })), status: 403, code: 'LB_FORBIDDEN', message: /evil\.example/, unchanged: BOTH },
  { name: 'Origin null with JSON', request: addOutsider(json({ origin: 'null' })), status: 403, code: 'LB_FORBIDDEN', unchanged: BOTH },
  {
    name: 'Origin null switching the algorithm',
    request: () => ({ method: 'POST', path: '/lb/algorithm', headers: json({ origin: 'null' }), body: '{"algorithm":"weighted"}' }),
    status: 403,
    code: 'LB_FORBIDDEN',
    unchanged: BOTH,
  },
  { name: 'Sec-Fetch-Site: cross-site without Origin', request: addOutsider(json({ 'sec-fetch-site': 'cross-site' })), status: 403, code: 'LB_FORBIDDEN', unchanged: BOTH },
  // DNS rebinding: the page's own name, now resolving to 127.0.0.1.
  { name: 'Host evil.example on an add (DNS rebinding)', request: (ctx) => addOutsider(json({ host: `evil.example:${ctx.port}` }))(ctx), status: 421, code: 'LB_MISDIRECTED', message: /evil\.example/, unchanged: BOTH },
  { name: 'Host evil.example on GET /lb/stats', request: (ctx) => ({ method: 'GET', path: '/lb/stats', headers: { host: `evil.example:${ctx.port}` } }), status: 421, code: 'LB_MISDIRECTED', unchanged: BOTH },
  hostHeader('Host localhost is served', (port) => `localhost:${port}`),
  hostHeader('Host 127.0.0.1 is served', (port) => `127.0.0.1:${port}`),
  hostHeader('Host [::1] is served', (port) => `[::1]:${port}`),
  hostHeader('Host app.localhost is served', (port) => `app.localhost:${port}`),
  hostHeader('GET /health with a foreign Host is served (probers use any name)', (port) => `evil.example:${port}`, '/health'),
  {
    name: 'same-origin JSON add is served',
    request: (ctx) => addOutsider(json({ origin: `http://127.0.0.1:${ctx.port}` }))(ctx),
    status: 201,
    code: null,
    unchanged: ['algorithm'],
    cleanup: (res) => ({ method: 'POST', path: '/lb/remove-server', headers: json(), body: JSON.stringify({ id: res.json.server.id }) }),
  },
  // Bodies built to exhaust memory or the parser.
  {
    name: '1 MiB chunked body',
    request: (ctx) => ({ ...addOutsider(json())(ctx), body: { chunked: 1024 * 1024, chunkSize: 16 * 1024 } }),
    status: 413,
    code: 'LB_PAYLOAD_TOO_LARGE',
    message: /larger than 65536/,
    unchanged: BOTH,
  },
  {
    name: '10 000-deep JSON array',
    request: () => ({ method: 'POST', path: '/lb/add-server', headers: json(), body: '['.repeat(10_000) + ']'.repeat(10_000) }),
    status: 400,
    code: 'LB_BAD_REQUEST',
    message: /nested deeper than 32/,
    unchanged: BOTH,
  },
  // Servers that would break a URL, a header or a log line, or reach what only the machine should.
  badHost('host with a port in it', '127.0.0.1:3001', /body\.host/),
  badHost('host with a NUL', '127.0.0.1\u0000', /body\.host/),
  badHost('host with CR/LF', 'backend\r\nX-Injected: 1', /body\.host/),
  // Risky destinations: checked in pool.add (every way in ends there), reported as the body's field.
  badHost('cloud metadata address', '169.254.169.254', /^body\.host: 169\.254\.169\.254 is a link-local address/),
  badHost('IPv4-mapped cloud metadata address', '::ffff:169.254.169.254', /^body\.host: ::ffff:169\.254\.169\.254 is a link-local address/),
  badHost('IPv6 link-local address', 'fe80::1', /^body\.host: fe80::1 is a link-local address/),
  {
    name: 'name with a header injection',
    request: (ctx) => add({ host: '127.0.0.1', port: ctx.free, name: 'x\r\nSet-Cookie: pwned=1' })(),
    status: 400,
    code: 'LB_BAD_REQUEST',
    message: /body\.name/,
    unchanged: BOTH,
  },
];

describe('hostile admin requests (no token, loopback admin host)', () => {
  let initial: StatsSnapshot;
  beforeAll(async () => {
    initial = await stats();
  });

  it.each(rows.map((row) => [row.name, row] as const))('%s', async (_name, row) => {
    const ctx: Ctx = { port: lb.adminPort, free: outsider.port };
    const before = await stats();
    const res = await send(lb.adminPort, row.request(ctx));
    expect(res.status).toBe(row.status);
    if (row.code === null) expect(res.json.error).toBeUndefined();
    else expect(res.json.error.code).toBe(row.code);
    if (row.message !== undefined) expect(res.json.error.message).toMatch(row.message);
    const after = await stats();
    for (const view of row.unchanged) expect(VIEWS[view](after)).toEqual(VIEWS[view](before));
    if (row.cleanup !== undefined) expect((await send(lb.adminPort, row.cleanup(res))).status).toBe(200);
  });

  it('answers a 1 MiB chunked body with a complete 413 response that closes the connection', async () => {
    const res = await send(lb.adminPort, { method: 'POST', path: '/lb/add-server', headers: json(), body: { chunked: 1024 * 1024, chunkSize: 16 * 1024 } });
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect(res.json.error.code).toBe('LB_PAYLOAD_TOO_LARGE');
  });

  it('left the pool exactly as started: ids, weights, algorithm', async () => {
    const now = await stats();
    expect(now.servers.map((s) => [s.id, s.weight])).toEqual([
      ['s1', 1],
      ['s2', 3],
    ]);
    expect(now.algorithm).toBe('round_robin');
    expect(VIEWS.pool(now)).toEqual(VIEWS.pool(initial));
    expect(now.algorithm).toBe(initial.algorithm);
  });
});

describe('what the operator can open up', () => {
  it('--admin-cors lets the listed origin POST JSON while other origins stay refused', async () => {
    const servers = await scope.startServers(2);
    const open = await scope.startLb(servers.slice(0, 1), { adminCors: 'http://ok.example' });
    const body = JSON.stringify({ host: '127.0.0.1', port: servers[1]!.port });
    const ok = await send(open.adminPort, { method: 'POST', path: '/lb/add-server', headers: json({ origin: 'http://ok.example' }), body });
    expect(ok.status).toBe(201);
    expect(ok.headers['access-control-allow-origin']).toBe('http://ok.example');
    const evil = await send(open.adminPort, { method: 'POST', path: '/lb/remove-server', headers: json({ origin: 'http://evil.example' }), body });
    expect(evil.status).toBe(403);
    expect(evil.json.error.code).toBe('LB_FORBIDDEN');
    expect((await stats(open)).servers.map((s) => s.port)).toEqual([servers[0]!.port, servers[1]!.port]);
  });

  it('with --admin-token a foreign Host is served with the right bearer token and refused 401 without it', async () => {
    const servers = await scope.startServers(1);
    const guarded = await scope.startLb(servers, { adminToken: 'secret-token' });
    const host = `admin.example.com:${guarded.adminPort}`;
    const right = await send(guarded.adminPort, { method: 'GET', path: '/lb/stats', headers: { host, authorization: 'Bearer secret-token' } });
    expect(right.status).toBe(200);
    expect((right.json as StatsSnapshot).servers).toHaveLength(1);
    const without = await send(guarded.adminPort, { method: 'GET', path: '/lb/stats', headers: { host } });
    expect(without.status).toBe(401);
    expect(without.json.error.code).toBe('LB_UNAUTHORIZED');
  });

  it('--allow-hosts 169.254.169.254 lets that address be added', async () => {
    const servers = await scope.startServers(1);
    const allowing = await scope.startLb(servers, { allowHosts: '169.254.169.254' });
    const res = await send(allowing.adminPort, { method: 'POST', path: '/lb/add-server', headers: json(), body: JSON.stringify({ host: '169.254.169.254', port: 80 }) });
    expect(res.status).toBe(201);
    expect(res.json.server).toMatchObject({ host: '169.254.169.254', port: 80 });
  });
});

describe('admin API details a careful client relies on', () => {
  const extra = closedAfterEach();

  it('answers HEAD like GET, accepts a lower-case bearer scheme, and refuses an absolute-form target', async () => {
    const [backend] = await extra.startServers(1);
    const lb = await extra.startLb([backend!]);
    expect((await send(lb.adminPort, { method: 'HEAD', path: '/health' })).status).toBe(200);
    const absolute = await send(lb.adminPort, { method: 'GET', path: 'http://evil.example/lb/stats', headers: { host: `127.0.0.1:${lb.adminPort}` } });
    expect([absolute.status, absolute.json.error.code]).toEqual([400, 'LB_BAD_REQUEST']);
    const tokened = await extra.startLb([backend!], { adminToken: 's3cret' });
    expect((await send(tokened.adminPort, { method: 'GET', path: '/lb/stats', headers: { authorization: 'bearer s3cret' } })).status).toBe(200);
    expect((await send(tokened.adminPort, { method: 'GET', path: '/lb/stats', headers: { authorization: 'Basic s3cret' } })).status).toBe(401);
  });
});
