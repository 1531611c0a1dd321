/**
 * One outcome per request, read by every sink: a plain request and a WebSocket tunnel each show once in
 * the history, the access log, the `request` event and the Prometheus counters.
 */
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AccessLog } from '../../src/balancer/access-log.js';
import { startBalancer } from '../../src/balancer/balancer.js';
import { configFrom } from '../../src/balancer/config.js';
import type { RequestEvent } from '../../src/balancer/outcome.js';
import type { HistoryResponse } from '../../src/shared/api-types.js';
import { closedAfterEach, deadAddress, waitFor } from '../helpers/servers.js';

const scope = closedAfterEach();

describe('one outcome per request, in every sink', () => {
  it('a plain request and a WebSocket tunnel each appear once in history, access log, request event and metrics', async () => {
    const [backend] = await scope.startServers(1);
    const stream = new PassThrough();
    let logged = '';
    stream.on('data', (c: Buffer) => (logged += c.toString()));
    const lb = scope.track(
      await startBalancer(configFrom([{ host: '127.0.0.1', port: backend!.port, name: 's1' }], { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false }), {
        accessLog: new AccessLog(stream, false),
      }),
    );
    const events: RequestEvent[] = [];
    lb.on('request', (e) => events.push(e));

    await (await fetch(`${lb.url}/plain`)).text();
    const ws = new WebSocket(`${lb.url.replace('http', 'ws')}/ws`);
    await once(ws, 'message');
    ws.close();
    await waitFor('the tunnel outcome', () => events.length === 2);

    expect(events.map((e) => [e.kind, e.path, e.status, e.server, e.ok])).toEqual([
      ['http', '/plain', 200, 's1', true],
      ['websocket', '/ws', 101, 's1', true],
    ]);
    const lines = logged.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; path: string; status: number; server: string });
    expect(lines.map((l) => [l.kind, l.path, l.status, l.server])).toEqual([
      ['http', '/plain', 200, 's1'],
      ['websocket', '/ws', 101, 's1'],
    ]);
    const history = (await (await fetch(`${lb.adminUrl}/lb/history`)).json()) as HistoryResponse;
    expect(history.requests.map((r) => [r.path, r.status])).toEqual([
      ['/plain', 200],
      ['/ws', 101],
    ]);
    const metrics = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lb_requests_total\{server="s1",method="GET",status_class="2xx"\} 1$/m);
    expect(metrics).toMatch(/^lb_requests_total\{server="s1",method="GET",status_class="1xx"\} 1$/m);
  });
});

describe('counters that refuse to lie', () => {
  it('no server counter ever goes below zero: after drains, retries, client aborts, WebSockets and a reset every underflow count is 0', async () => {
    const backends = await scope.startServers(2);
    const dead = await deadAddress();
    const lb = await scope.startLb([], {
      file: [{ host: '127.0.0.1', port: backends[0]!.port, name: 's1' }, { host: '127.0.0.1', port: backends[1]!.port, name: 's2' }, { ...dead, name: 'dead' }],
      algorithm: 'round_robin',
    });
    // Retries: every third request first goes to the dead server.
    for (let i = 0; i < 9; i++) await (await fetch(`${lb.url}/`)).text();
    // A drain with requests in flight, then undrain.
    const slow = fetch(`${lb.url}/?delay=300`).then((r) => r.text());
    lb.apply({ type: 'updateServer', server: 's1', drain: true });
    lb.apply({ type: 'updateServer', server: 's2', drain: true });
    await slow;
    lb.apply({ type: 'updateServer', server: 's1', drain: false });
    lb.apply({ type: 'updateServer', server: 's2', drain: false });
    // A client that gives up before the answer.
    const aborted = new AbortController();
    const gone = fetch(`${lb.url}/?delay=500`, { signal: aborted.signal }).catch(() => undefined);
    await waitFor('the slow request in flight', () => lb.pool.servers.some((s) => s.activeRequests > 0));
    aborted.abort();
    await gone;
    // A WebSocket tunnel, opened and closed.
    const ws = new WebSocket(`${lb.url.replace('http', 'ws')}/ws`);
    await once(ws, 'message');
    ws.close();
    await waitFor('every request to finish', () => lb.pool.servers.every((s) => s.activeRequests === 0));
    lb.apply({ type: 'reset' });
    const stats = lb.stats();
    expect(stats.servers.map((s) => [s.id, s.activeRequests, s.counterUnderflows])).toEqual([
      ['s1', 0, 0],
      ['s2', 0, 0],
      ['dead', 0, 0],
    ]);
    const metrics = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    expect(metrics.match(/^lb_server_active_underflows\{server="[^"]+"\} 0$/gm)).toHaveLength(3);
  });
});
