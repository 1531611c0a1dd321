import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { HealthResponse, HistoryResponse, SeedStatsResponse, StatsSnapshot } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closeAll, startLb, startServers } from '../helpers/servers.js';

let lb: BalancerHandle;
let backends: TestServerHandle[];

beforeAll(async () => {
  backends = await startServers(3);
  // s3 starts outside the pool so the tests can add it.
  lb = await startLb(backends.slice(0, 2));
});
afterAll(async () => closeAll(lb, ...backends));

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; json: any }> {
  const res = await fetch(`${lb.adminUrl}${path}`, {
    method,
    // The admin API wants changes declared as JSON (its browser guard); rows that test that pass their own.
    headers: method === 'GET' ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  // any: each case reads the fields it expects; the shapes are checked by the typed tests below.
  return { status: res.status, json: await res.json() };
}

describe('bad admin input gets the documented status and message', () => {
  const cases: Array<[string, string, string, unknown, number, string, RegExp]> = [
    ['invalid JSON', 'POST', '/lb/add-server', '{"host": ', 400, 'LB_BAD_REQUEST', /not valid JSON/],
    ['empty body', 'POST', '/lb/add-server', '', 400, 'LB_BAD_REQUEST', /empty body/],
    ['body not an object', 'POST', '/lb/add-server', '[1,2]', 400, 'LB_BAD_REQUEST', /must be an object/],
    ['missing host', 'POST', '/lb/add-server', { port: 3005 }, 400, 'LB_BAD_REQUEST', /body\.host: must be a host name or IP address/],
    ['port as string', 'POST', '/lb/add-server', { host: '127.0.0.1', port: '3005' }, 400, 'LB_BAD_REQUEST', /body\.port: must be an integer 1-65535/],
    ['port 0', 'POST', '/lb/add-server', { host: '127.0.0.1', port: 0 }, 400, 'LB_BAD_REQUEST', /body\.port: must be an integer 1-65535, got 0/],
    ['port 70000', 'POST', '/api/servers', { host: '127.0.0.1', port: 70000 }, 400, 'LB_BAD_REQUEST', /body\.port/],
    ['host with a path', 'POST', '/lb/add-server', { host: 'a/b', port: 3005 }, 400, 'LB_BAD_REQUEST', /body\.host: must be a host name/],
    ['weight 0', 'POST', '/lb/add-server', { host: '127.0.0.1', port: 3005, weight: 0 }, 400, 'LB_BAD_REQUEST', /body\.weight: must be an integer 1-1000/],
    ['duplicate server', 'POST', '/lb/add-server', () => ({ host: '127.0.0.1', port: backends[0]!.port }), 409, 'LB_CONFLICT', /already in the pool/],
    ['remove unknown', 'POST', '/lb/remove-server', { host: '127.0.0.1', port: 1 }, 404, 'LB_NOT_FOUND', /no server 127\.0\.0\.1:1/],
    ['delete unknown', 'DELETE', '/api/servers/nope', undefined, 404, 'LB_NOT_FOUND', /no server nope/],
    ['patch unknown field', 'PATCH', '/api/servers/s1', { colour: 'red' }, 400, 'LB_BAD_REQUEST', /body\.colour: unknown field/],
    ['patch bad weight', 'PATCH', '/api/servers/s1', { weight: 2.5 }, 400, 'LB_BAD_REQUEST', /body\.weight/],
    ['patch bad drain', 'PATCH', '/api/servers/s1', { drain: 'yes' }, 400, 'LB_BAD_REQUEST', /body\.drain: must be true or false/],
    ['unknown algorithm', 'POST', '/lb/algorithm', { algorithm: 'fastest' }, 400, 'LB_BAD_REQUEST', /body\.algorithm: must be one of round_robin/],
    ['wrong method', 'GET', '/lb/add-server', undefined, 405, 'LB_METHOD_NOT_ALLOWED', /use POST/],
    ['unknown route', 'GET', '/lb/nothing', undefined, 404, 'LB_NOT_FOUND', /no admin route GET \/lb\/nothing/],
    ['body over 64 KiB', 'POST', '/lb/add-server', JSON.stringify({ host: 'x'.repeat(70_000), port: 1 }), 413, 'LB_PAYLOAD_TOO_LARGE', /larger than 65536/],
  ];

  it.each(cases)('%s', async (_name, method, path, body, status, code, message) => {
    const res = await call(method, path, typeof body === 'function' ? (body as () => unknown)() : body);
    expect(res.status).toBe(status);
    expect(res.json.error.code).toBe(code);
    expect(res.json.error.message).toMatch(message);
  });

  it('left the pool untouched', async () => {
    const stats = (await call('GET', '/lb/stats')).json as StatsSnapshot;
    expect(stats.servers.map((s) => s.id)).toEqual(['s1', 's2']);
    expect(stats.servers.every((s) => s.weight === 1 && s.state === 'up')).toBe(true);
  });
});

describe('admin routes', () => {
  it('adds, patches and removes a server in both forms', async () => {
    const s3 = backends[2]!;
    const added = await call('POST', '/lb/add-server', { host: '127.0.0.1', port: s3.port, weight: 2 });
    expect(added.status).toBe(201);
    expect(added.json.server).toMatchObject({ id: `127.0.0.1:${s3.port}`, weight: 2, state: 'up' });

    const patched = await call('PATCH', `/api/servers/${encodeURIComponent(`127.0.0.1:${s3.port}`)}`, { weight: 5, drain: true });
    expect(patched.json.server).toMatchObject({ weight: 5, enabled: false, state: 'drained' });
    const drained = (await call('GET', '/api/servers')).json.servers.find((s: { port: number }) => s.port === s3.port);
    expect(drained.state).toBe('drained');

    const removed = await call('POST', '/lb/remove-server', { host: '127.0.0.1', port: s3.port });
    expect(removed.status).toBe(200);
    expect(removed.json.removed.port).toBe(s3.port);

    const viaRest = await call('POST', '/api/servers', { host: '127.0.0.1', port: s3.port, name: 'third' });
    expect(viaRest.status).toBe(201);
    const deleted = await call('DELETE', '/api/servers/third');
    expect(deleted.json.removed.id).toBe('third');
    expect(((await call('GET', '/lb/stats')).json as StatsSnapshot).servers.map((s) => s.id)).toEqual(['s1', 's2']);
  });

  it('switches the algorithm, resets counters and keeps a bounded history', async () => {
    const switched = await call('POST', '/lb/algorithm', { algorithm: 'least_connections' });
    expect(switched.json).toEqual({ algorithm: 'least_connections', previous: 'round_robin' });
    expect(((await call('GET', '/lb/stats')).json as StatsSnapshot).algorithm).toBe('least_connections');

    for (let i = 0; i < 120; i++) await (await fetch(`${lb.url}/item/${i}`)).text();
    const history = (await call('GET', '/lb/history')).json as HistoryResponse;
    expect(history.capacity).toBe(100);
    expect(history.requests).toHaveLength(100);
    expect(history.requests[0]!.path).toBe('/item/20');
    expect(history.requests[99]).toMatchObject({ path: '/item/119', method: 'GET', status: 200, retries: 0, error: null });

    const seed = (await call('GET', '/api/stats')).json as SeedStatsResponse;
    expect(seed.total_requests).toBeGreaterThanOrEqual(120);
    expect(seed.servers.s1!.requests + seed.servers.s2!.requests).toBe(seed.total_requests);

    expect((await call('POST', '/lb/reset')).status).toBe(200);
    const after = (await call('GET', '/lb/stats')).json as StatsSnapshot;
    expect(after.totals.requests).toBe(0);
    expect(after.servers.every((s) => s.totalRequests === 0)).toBe(true);
    expect(((await call('GET', '/lb/history')).json as HistoryResponse).requests).toEqual([]);
  });

  it('reports its own health on /health and /api/health', async () => {
    for (const path of ['/health', '/api/health']) {
      const res = await call('GET', path);
      expect(res.status).toBe(200);
      expect(res.json as HealthResponse).toMatchObject({ status: 'ok', servers: { total: 2, available: 2 } });
    }
  });
});

describe('admin token', () => {
  it('requires the bearer token on every route but /health', async () => {
    const servers = await startServers(1);
    const guarded = await startLb(servers, { adminToken: 's3cret' });
    try {
      const without = await fetch(`${guarded.adminUrl}/lb/stats`);
      expect(without.status).toBe(401);
      expect(((await without.json()) as { error: { code: string } }).error.code).toBe('LB_UNAUTHORIZED');
      const wrong = await fetch(`${guarded.adminUrl}/lb/stats`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const right = await fetch(`${guarded.adminUrl}/lb/stats`, { headers: { authorization: 'Bearer s3cret' } });
      expect(right.status).toBe(200);
      expect((await fetch(`${guarded.adminUrl}/health`)).status).toBe(200);
    } finally {
      await closeAll(guarded, ...servers);
    }
  });
});
