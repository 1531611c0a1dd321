import { once } from 'node:events';
import { createServer, type IncomingMessage, request as httpRequest } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closedAfterEach, deadAddress, waitFor } from '../helpers/servers.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

async function get(path: string, init?: RequestInit): Promise<{ status: number; server: string | null; body: string }> {
  const res = await fetch(`${lb!.url}${path}`, init);
  return { status: res.status, server: res.headers.get('x-lb-server'), body: await res.text() };
}

describe('routing', () => {
  it('round robin visits three servers in exact order', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { algorithm: 'round_robin' });
    const order: Array<string | null> = [];
    for (let i = 0; i < 9; i++) order.push((await get('/')).server);
    expect(order).toEqual(['s1', 's2', 's3', 's1', 's2', 's3', 's1', 's2', 's3']);
  });

  it('least connections sends new requests away from servers holding slow requests', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { algorithm: 'least_connections' });
    const slow = [get('/?delay=1500'), get('/?delay=1500')];
    await waitFor('two slow requests in flight', () => lb!.pool.servers.filter((s) => s.activeRequests === 1).length === 2);
    const busy = new Set(lb.pool.servers.filter((s) => s.activeRequests === 1).map((s) => s.id));
    const quick: Array<string | null> = [];
    for (let i = 0; i < 10; i++) quick.push((await get('/')).server);
    const idle = backends.map((b) => b.name).find((n) => !busy.has(n));
    expect(quick).toEqual(Array(10).fill(idle));
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
  });
});

describe('what is forwarded', () => {
  it('keeps method, path, query and body; drops hop-by-hop headers; sets X-Forwarded-*', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb(backends);
    // node:http, not fetch: fetch refuses to send Connection, TE and other hop-by-hop headers itself.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${lb!.url}/some/path?a=1&b=two&echo=headers`, {
        method: 'PUT',
        headers: {
          'x-custom': 'kept',
          'x-forwarded-for': '10.1.2.3',
          'x-forwarded-proto': 'https',
          'proxy-authorization': 'secret',
          te: 'trailers',
          connection: 'keep-alive, x-drop-me',
          'x-drop-me': 'gone',
        },
      });
      req.on('error', reject);
      req.on('response', (r) => {
        let body = '';
        r.setEncoding('utf8');
        r.on('data', (c: string) => (body += c));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.end('x'.repeat(1234));
    });
    expect(res.status).toBe(200);
    const echo = JSON.parse(res.body) as { method: string; path: string; query: Record<string, string>; body_bytes: number; headers: Record<string, string> };
    expect(echo.method).toBe('PUT');
    expect(echo.path).toBe('/some/path');
    expect(echo.query).toEqual({ a: '1', b: 'two', echo: 'headers' });
    expect(echo.body_bytes).toBe(1234);
    expect(echo.headers['x-custom']).toBe('kept');
    expect(echo.headers['x-forwarded-for']).toBe('10.1.2.3, 127.0.0.1');
    expect(echo.headers['x-forwarded-proto']).toBe('http');
    expect(echo.headers['x-forwarded-host']).toBe(new URL(lb.url).host);
    expect(echo.headers['proxy-authorization']).toBeUndefined();
    expect(echo.headers.te).toBeUndefined();
    expect(echo.headers['x-drop-me']).toBeUndefined();
  });

  it('removes hop-by-hop headers from the answer and names the server', async () => {
    const upstream = createServer((_req, res) => {
      res.writeHead(201, { 'x-app': 'yes', 'keep-alive': 'timeout=5', 'set-cookie': ['a=1', 'b=2'], 'x-lb-server': 'spoofed' });
      res.end('made');
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    scope.track({ close: async () => void upstream.close() });
    lb = await scope.startLb([{ host: '127.0.0.1', port: (upstream.address() as AddressInfo).port, name: 'raw' }]);
    const res = await fetch(`${lb.url}/`);
    expect(res.status).toBe(201);
    expect(await res.text()).toBe('made');
    expect(res.headers.get('x-app')).toBe('yes');
    // Node states its own keep-alive to the client; the server's hop-by-hop value must not pass through.
    expect(res.headers.get('keep-alive')).not.toBe('timeout=5');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.headers.get('x-lb-server')).toBe('raw');
  });
});

describe('answer headers pass byte for byte', () => {
  it('relays names and values exactly, letter case included, when answers alternate between fields that share a slot of the header-text table', async () => {
    // X-Aq/X-bq and v1z/v2z have the same length, first and last byte: the proxy's table of recent header
    // strings puts each pair in one slot, so only a byte-by-byte check tells them apart.
    const answers: Record<string, string> = {
      '/a': 'X-Aq: v1z\r\nX-Mixed-CASE: one\r\nX-Latin: caf\xe9',
      '/b': 'X-bq: v2z\r\nX-Mixed-CASE: two\r\nX-Latin: cafe',
    };
    const upstream = createNetServer((socket) => {
      socket.on('error', () => undefined);
      let buffered = '';
      socket.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('latin1');
        for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
          const path = buffered.slice(0, end).split(' ')[1]!;
          buffered = buffered.slice(end + 4);
          socket.write(Buffer.from(`HTTP/1.1 200 OK\r\n${answers[path]}\r\nContent-Length: 2\r\n\r\nok`, 'latin1'));
        }
      });
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    scope.track({ close: async () => void upstream.close() });
    lb = await scope.startLb([{ host: '127.0.0.1', port: (upstream.address() as AddressInfo).port, name: 'raw' }]);
    const rawHeadersOf = (path: string): Promise<string[]> =>
      new Promise((resolve, reject) => {
        httpRequest(`${lb!.url}${path}`, (res) => {
          res.resume();
          res.on('end', () => resolve(res.rawHeaders));
        })
          .on('error', reject)
          .end();
      });
    const pick = (raw: string[]): string[] => raw.filter((_, i) => i % 2 === 0 ? raw[i]!.startsWith('X-') : raw[i - 1]!.startsWith('X-'));
    for (let i = 0; i < 3; i++) {
      expect(pick(await rawHeadersOf('/a'))).toEqual(['X-Aq', 'v1z', 'X-Mixed-CASE', 'one', 'X-Latin', 'caf\u00e9']);
      expect(pick(await rawHeadersOf('/b'))).toEqual(['X-bq', 'v2z', 'X-Mixed-CASE', 'two', 'X-Latin', 'cafe']);
    }
  });
});

describe('failures', () => {
  it('answers 503 with a JSON reason when every server has been removed', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends);
    lb.admin.removeServer('s1');
    lb.admin.removeServer('s2');
    const res = await get('/');
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: { code: 'LB_NO_AVAILABLE_SERVER', message: 'no server is available to take the request' } });
  });

  it('retries a refused connection on another server: the client sees 200, for GET and for POST with a body', async () => {
    backends = await scope.startServers(1);
    const dead = await deadAddress();
    lb = await scope.startLb([{ ...dead, name: 'dead' }, { host: '127.0.0.1', port: backends[0]!.port, name: 'live' }]);
    const results = [];
    for (let i = 0; i < 6; i++) results.push(await get('/'));
    results.push(await get('/', { method: 'POST', body: 'payload' }));
    results.push(await get('/', { method: 'POST', body: 'payload' }));
    expect(results.map((r) => `${r.status} ${r.server}`)).toEqual(Array(8).fill('200 live'));
    const stats = lb.stats();
    // Round robin offers the dead server first each time (the retry's pick moves the cursor past the live
    // one) until its circuit opens after 3 consecutive failures; then it is skipped.
    expect(stats.totals.retries).toBe(3);
    const deadStats = stats.servers.find((s) => s.id === 'dead')!;
    expect([deadStats.totalFailures, deadStats.circuit, deadStats.state]).toEqual([3, 'open', 'ejected']);
    expect(stats.totals.failures).toBe(0);
    expect(JSON.parse(results[7]!.body).body_bytes).toBe(7);
  });

  it('answers 502 naming the server when the only server refuses', async () => {
    lb = await scope.startLb([{ ...(await deadAddress()), name: 'dead' }]);
    const res = await get('/');
    expect(res.status).toBe(502);
    expect(res.server).toBe('dead');
    expect(JSON.parse(res.body).error.code).toBe('LB_UPSTREAM_CONNECT');
  });

  it('answers 504 when a server is slower than --timeout', async () => {
    backends = await scope.startServers(1, { delayMs: 3000 });
    lb = await scope.startLb(backends, { timeout: 0.3 });
    const started = performance.now();
    const res = await get('/');
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body).error.code).toBe('LB_UPSTREAM_TIMEOUT');
    expect(performance.now() - started).toBeLessThan(2500);
    expect(lb.stats().totals.upstreamTimeouts).toBe(1);
  });

  it('aborts the server request when the client goes away', async () => {
    const seen: IncomingMessage[] = [];
    const upstreamClosed: Promise<void>[] = [];
    const upstream = createServer((req) => {
      seen.push(req);
      upstreamClosed.push(once(req.socket, 'close').then(() => undefined));
      // never answers
    });
    upstream.listen(0, '127.0.0.1');
    await once(upstream, 'listening');
    scope.track({ close: async () => { upstream.closeAllConnections(); upstream.close(); } });
    lb = await scope.startLb([{ host: '127.0.0.1', port: (upstream.address() as AddressInfo).port }]);
    const client = httpRequest(`${lb.url}/hang`);
    client.on('error', () => undefined);
    client.end();
    await waitFor('the request to reach the server', () => seen.length === 1);
    client.destroy();
    await upstreamClosed[0];
    await waitFor('the abort to be counted', () => lb!.stats().totals.clientAborts === 1);
    expect(lb.pool.servers[0]!.activeRequests).toBe(0);
    // Recorded as nginx's 499, not as a failure of the server or the balancer.
    expect(lb.history().requests.at(-1)).toMatchObject({ path: '/hang', status: 499, error: 'LB_CLIENT_GONE' });
    expect(lb.stats().totals).toMatchObject({ failures: 0, status: { '4xx': 1 } });
    expect(lb.pool.servers[0]!.snapshot()).toMatchObject({ totalFailures: 0, circuitFailures: 0 });
  });
});

describe('membership changes under load', () => {
  it('adds and removes servers while 1 000 requests are in flight: none fails, none reaches a removed server after removal', async () => {
    backends = await scope.startServers(4, { delayMs: 5 });
    const [a, b, c, d] = backends as [TestServerHandle, TestServerHandle, TestServerHandle, TestServerHandle];
    lb = await scope.startLb([a, b, c]);
    const limit = pLimit(50);
    let removedAt = Infinity;
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        limit(async () => {
          if (i === 300) lb!.admin.addServer({ host: '127.0.0.1', port: d.port, name: d.name });
          if (i === 500) {
            lb!.admin.removeServer(a.name);
            removedAt = performance.now();
          }
          const sentAt = performance.now();
          const res = await get('/');
          return { ...res, sentAt };
        }),
      ),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    const toRemovedAfter = results.filter((r) => r.sentAt > removedAt && r.server === a.name);
    expect(toRemovedAfter).toEqual([]);
    expect(results.some((r) => r.server === d.name)).toBe(true);
    expect(lb.stats().totals.failures).toBe(0);
  });
});
