/**
 * Limits a user can set at the edge: rate limiting (through the real CLI), connections per client, the
 * idle timeout of WebSocket tunnels, what x-lb-server and error bodies disclose; and the fault that
 * started it all: a trickle of requests lb cannot forward must not eject healthy servers under load.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import { rawRequest } from '../helpers/raw-http.js';
import { closedAfterEach, deadAddress, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const scope = closedAfterEach();

describe('rate limiting through lb serve', () => {
  it('a client over its limit gets 429 with Retry-After and RateLimit-*, other clients are unaffected, and it is counted', async () => {
    const [backend] = await scope.startServers(1);
    const lb = scope.spawnLb(
      ['serve', '--port', '0', '--admin-port', '0', '--no-health-check', '--rate-limit', '0.1', '--rate-limit-burst', '5', '--rate-limit-key', 'header:x-client'],
      {},
      await tempDir(),
    );
    // No servers file in the test's folder: the server is added through the admin API.
    const [, url] = await lb.waitForOutput(/lb serve: (http:\/\/\S+)/);
    const [, adminUrl] = await lb.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/);
    const added = await fetch(`${adminUrl}/lb/add-server`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: '127.0.0.1', port: backend!.port }) });
    expect(added.status).toBe(201);
    const send = async (client: string) => {
      const res = await fetch(`${url}/`, { headers: { 'x-client': client } });
      await res.text();
      return res;
    };
    const a: Response[] = [];
    for (let i = 0; i < 7; i++) a.push(await send('a'));
    // A burst of 5 passes; at one token per 10 s (slow, so a loaded machine cannot refill one between
    // requests) the 6th and 7th are refused, each told to come back when the next token is due.
    expect(a.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 429, 429]);
    const limited = a[5]!;
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(8);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect(limited.headers.get('ratelimit-limit')).toBe('5');
    expect(limited.headers.get('ratelimit-remaining')).toBe('0');
    expect(limited.headers.get('ratelimit-reset')).toBe(String(retryAfter));
    expect(limited.headers.get('x-lb-server')).toBeNull();
    const b = await send('b');
    expect(b.status).toBe(200);
    // Requests without the header fall back to the client IP: their own bucket, not a's.
    expect((await fetch(`${url}/`)).status).toBe(200);
    const stats = (await (await fetch(`${adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    expect(stats.totals.rateLimited).toBe(2);
    expect(stats.limits).toMatchObject({ rateLimitPerSecond: 0.1, rateLimitBurst: 5, rateLimitKey: 'header:x-client', rateLimitClients: 3 });
    // Refused requests never reached the server.
    expect(stats.servers[0]!.totalRequests).toBe(7);
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lb_rate_limited_total 2$/m);
    expect(metrics).toMatch(/^lb_rate_limit_clients 3$/m);
  });

  it('1 000 distinct 4 KB keys from one client keep the table at max_clients and are not limited', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!], { file: { servers: [{ host: '127.0.0.1', port: backend!.port }], rate_limit: { rate: 1, burst: 1, key: 'header:x-k', max_clients: 50 } } });
    const limit = pLimit(16);
    await Promise.all(Array.from({ length: 1000 }, (_, i) => limit(async () => (await fetch(`${lb.url}/`, { headers: { 'x-k': `${i}-${'k'.repeat(4000)}` } })).text())));
    const stats = (await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    expect(stats.limits.rateLimitClients).toBe(50);
    // Every key was new (or forgotten), so none was limited.
    expect(stats.totals.rateLimited).toBe(0);
  });
});

describe('connections per client', () => {
  it('closes the connection over max_conns_per_client at once and counts it; the others are served', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!], { maxConnsPerClient: 2 });
    const open = async (): Promise<Socket> => {
      const socket = connect(lb.port, '127.0.0.1');
      await once(socket, 'connect');
      return socket;
    };
    const kept = [await open(), await open()];
    const third = await open();
    await once(third, 'close');
    expect(third.bytesRead).toBe(0);
    await waitFor('the rejection to be counted', async () => ((await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot).totals.connectionsRejected === 1);
    // The two admitted connections still work.
    kept[0]!.write('GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const reply: Buffer[] = [];
    kept[0]!.on('data', (c: Buffer) => reply.push(c));
    await once(kept[0]!, 'close');
    expect(Buffer.concat(reply).toString().startsWith('HTTP/1.1 200')).toBe(true);
    kept[1]!.destroy();
    const metrics = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lb_client_connections_rejected_total 1$/m);
  });
});

describe('stalled uploads', () => {
  it('a client that stops sending its body gets 408 after client_body_timeout, and the server is not blamed', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!], { clientBodyTimeout: 0.3, timeout: 30 });
    const startedAt = performance.now();
    // 10 of the 100 announced bytes, then silence (the stall that held a server connection for ever).
    const reply = await rawRequest(lb.port, 'POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789');
    const tookMs = performance.now() - startedAt;
    expect(reply.statuses).toEqual([408]);
    expect(reply.text).toMatch(/"code":"LB_CLIENT_TIMEOUT"/);
    expect(tookMs).toBeGreaterThanOrEqual(250);
    expect(tookMs).toBeLessThan(5000);
    const stats = (await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    expect(stats.servers.map((s) => [s.totalFailures, s.activeRequests, s.circuit])).toEqual([[0, 0, 'closed']]);
  });

  it('a slow server after a complete upload is --timeout\'s business: the connection is not cut at client_body_timeout', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!], { clientBodyTimeout: 0.2, timeout: 5 });
    const res = await fetch(`${lb.url}/?delay=600`, { method: 'POST', body: 'complete body' });
    expect(res.status).toBe(200);
    await res.text();
  });
});

describe('WebSocket tunnels', () => {
  it('closes a tunnel with no byte either way for the proxy timeout', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!], { timeout: 0.4 });
    const ws = new WebSocket(`${lb.url.replace('http', 'ws')}/ws`);
    const [hello] = (await once(ws, 'message')) as [Buffer];
    expect(String(hello)).toBe('hello from s1');
    const openedAt = performance.now();
    await once(ws, 'close');
    const idleMs = performance.now() - openedAt;
    expect(idleMs).toBeGreaterThanOrEqual(350);
    expect(idleMs).toBeLessThan(3000);
  });
});

describe('server names that are JavaScript words', () => {
  it('a server named __proto__ is listed like any other in GET /api/stats', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([], { file: [{ host: '127.0.0.1', port: backend!.port, name: '__proto__' }] });
    await (await fetch(`${lb.url}/`)).text();
    const seed = (await (await fetch(`${lb.adminUrl}/api/stats`)).json()) as { servers: Record<string, { requests: number }> };
    expect(Object.keys(seed.servers)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(seed.servers, '__proto__')?.value).toMatchObject({ requests: 1 });
  });
});

describe('what lb discloses', () => {
  it('--server-header off sends no x-lb-server; name sends only configured names, never an address', async () => {
    const backends = await scope.startServers(2);
    const servers = [
      { host: '127.0.0.1', port: backends[0]!.port, name: 'web-1' },
      { host: '127.0.0.1', port: backends[1]!.port },
    ];
    const off = await scope.startLb([], { file: servers, serverHeader: 'off' });
    const named = await scope.startLb([], { file: servers, serverHeader: 'name', algorithm: 'round_robin' });
    const header = async (url: string) => {
      const res = await fetch(`${url}/`);
      await res.text();
      return res.headers.get('x-lb-server');
    };
    expect([await header(off.url), await header(off.url)]).toEqual([null, null]);
    expect([await header(named.url), await header(named.url)]).toEqual(['web-1', null]);
  });

  it('names the failed server in error bodies only at log level debug', async () => {
    const dead = await deadAddress();
    const quiet = await scope.startLb([dead], { retries: 0 });
    const debug = await scope.startLb([dead], { retries: 0, logLevel: 'debug' });
    const body = async (url: string) => (await (await fetch(`${url}/`)).json()) as { error: { message: string } };
    expect((await body(quiet.url)).error.message).toBe('the server failed: ECONNREFUSED');
    expect((await body(debug.url)).error.message).toBe(`server ${dead.host}:${dead.port} failed: ECONNREFUSED`);
  });
});

describe('the ejection fault', () => {
  it('12 OPTIONS * a second under load eject no server and fail no real request', async () => {
    const backends = await scope.startServers(4);
    const lb = await scope.startLb(backends, { algorithm: 'round_robin' });
    const deadline = performance.now() + 2000;
    const statuses = new Map<number, number>();
    const limit = pLimit(8);
    const load = Promise.all(
      Array.from({ length: 8 }, () =>
        limit(async () => {
          while (performance.now() < deadline) {
            const res = await fetch(`${lb.url}/`);
            await res.text();
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          }
        }),
      ),
    );
    const refused: number[] = [];
    const junk = (async () => {
      // Paced, not waited on: one every 83 ms is the 12 a second of the report.
      while (performance.now() < deadline) {
        refused.push(...(await rawRequest(lb.port, 'OPTIONS * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n')).statuses);
        await new Promise((resolve) => setTimeout(resolve, 83));
      }
    })();
    await Promise.all([load, junk]);
    expect(refused.length).toBeGreaterThanOrEqual(12);
    expect(new Set(refused)).toEqual(new Set([400]));
    expect([...statuses.keys()]).toEqual([200]);
    const stats = (await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    expect(stats.servers.map((s) => [s.state, s.circuit, s.totalFailures])).toEqual(Array(4).fill(['up', 'closed', 0]));
  });
});
