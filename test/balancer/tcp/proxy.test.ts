/**
 * Layer-4 mode end to end on real sockets: lb --mode tcp in front of `lb testserver --tcp` echo servers
 * (and raw servers where a test needs to see exact bytes or misbehave).
 */
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { spawn } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { AccessLog } from '../../../src/balancer/access-log.js';
import { startBalancer } from '../../../src/balancer/balancer.js';
import { resolveConfig } from '../../../src/balancer/config.js';
import type { RequestEvent } from '../../../src/balancer/outcome.js';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, deadAddress, waitFor } from '../../helpers/servers.js';
import { echoOn, exchange, held, nameVia, recorded, startTcpLb, startTcpServers } from './helpers.js';

const scope = closedAfterEach();

/**
 * A listener whose accept queue is full (backlog 0, filled, never accepted): the kernel drops further
 * SYNs, so a connect hangs as it does to a host that drops packets. Node always accepts, hence Python.
 */
async function startBlackhole(): Promise<number> {
  const child = spawn('python3', ['-c', 'import socket,time\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)'], { stdio: ['ignore', 'pipe', 'ignore'] });
  scope.track({ close: async () => void child.kill('SIGKILL') });
  const port = Number((await once(child.stdout!, 'data'))[0].toString().trim());
  // Fill the queue: connects that complete the handshake until one hangs.
  const fillers: Socket[] = [];
  scope.track({ close: async () => void fillers.forEach((f) => f.destroy()) });
  for (let i = 0; i < 8; i++) {
    const f = connect(port, '127.0.0.1');
    f.on('error', () => undefined);
    fillers.push(f);
    const connected = await Promise.race([once(f, 'connect').then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 200))]);
    if (!connected) return port;
  }
  throw new Error('the accept queue never filled');
}

describe('lb --mode tcp forwards connections', () => {
  it('echoes bytes through, balances round robin per connection, and says so in stats, history and metrics', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, name: 'a' }, { port: b!.port, name: 'b' }]);
    const names = [];
    for (let i = 0; i < 4; i++) names.push(await nameVia(lb.port));
    expect(names).toEqual(['t1', 't2', 't1', 't2']);
    expect((await exchange(lb.port, 'hello, world')).toString()).toBe('hello, world');
    await recorded(lb, 5);
    const stats = lb.stats();
    expect(stats.mode).toBe('tcp');
    expect(stats.totals.requests).toBe(5);
    expect(stats.totals.failures).toBe(0);
    expect(stats.totals.bytesIn).toBe(4 * 5 + 12);
    expect(stats.totals.bytesOut).toBe(4 * 3 + 12);
    expect(stats.servers.map((s) => s.totalRequests)).toEqual([3, 2]);
    const last = lb.history().requests.at(-1)!;
    expect(last).toMatchObject({ method: 'TCP', server: 'a', bytesIn: 12, bytesOut: 12, error: null });
    expect(last.path).toMatch(/^127\.0\.0\.1:\d+$/);
    const metrics = (await lb.admin.metrics()).body;
    expect(metrics).toContain('lb_tcp_server_sent_bytes_total{server="a"} 22');
    expect(metrics).toContain('lb_tcp_server_received_bytes_total{server="b"} 6');
  });

  it('--access-log and the embedding request event: one of each per connection, with bytes each way and the connect time', async () => {
    const [a] = await startTcpServers(scope, 1);
    const stream = new PassThrough();
    let logged = '';
    stream.on('data', (c: Buffer) => (logged += c.toString()));
    const config = resolveConfig({ file: { servers: [{ host: '127.0.0.1', port: a!.port, name: 'a' }] }, filePath: null, env: {}, flags: { mode: 'tcp', port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false } });
    const lb = scope.track(await startBalancer(config, { accessLog: new AccessLog(stream, false) }));
    const events: RequestEvent[] = [];
    lb.on('request', (e) => events.push(e));
    await exchange(lb.port, 'twelve bytes');
    await waitFor('the line', () => logged.includes('\n'));
    const line = JSON.parse(logged) as Record<string, unknown>;
    expect(line).toMatchObject({ kind: 'tcp', method: 'TCP', client: '127.0.0.1', server: 'a', bytes: 12, bytes_in: 12, status: 0, retries: 0, error: null });
    expect(line.connect_ms).toBeGreaterThan(0);
    expect(line.client_port).toBeGreaterThan(0);
    await waitFor('the event', () => events.length === 1);
    expect(events[0]).toMatchObject({ kind: 'tcp', method: 'TCP', server: 'a', ok: true, status: 0, retries: 0 });
    expect(events[0]!.path).toBe(`127.0.0.1:${line.client_port as number}`);
  });

  it('a client FIN reaches the server and the answer still flows back (half-close)', async () => {
    // A server that answers only after the client finished sending: it needs the FIN to be forwarded.
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      let n = 0;
      socket.on('data', (c: Buffer) => (n += c.length));
      socket.once('end', () => socket.end(`got ${n} bytes after your FIN`));
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.track({ close: () => new Promise((resolve) => server.close(() => resolve())) });
    const lb = await startTcpLb(scope, [{ port: (server.address() as AddressInfo).port }]);
    expect((await exchange(lb.port, 'x'.repeat(1000))).toString()).toBe('got 1000 bytes after your FIN');
  });

  it('the server finishing first (its FIN) still gets everything the client sends after it', async () => {
    let received = -1;
    const server = createServer({ allowHalfOpen: true }, (socket) => {
      let n = 0;
      socket.on('data', (c: Buffer) => (n += c.length));
      socket.once('end', () => {
        received = n;
        socket.destroy();
      });
      socket.end('bye');
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.track({ close: () => new Promise((resolve) => server.close(() => resolve())) });
    const lb = await startTcpLb(scope, [{ port: (server.address() as AddressInfo).port }]);
    const client = connect({ port: lb.port, host: '127.0.0.1', allowHalfOpen: true });
    let answer = '';
    client.on('data', (c: Buffer) => (answer += c.toString()));
    // Only after the server's FIN: 4 MiB, then ours.
    client.once('end', () => client.end(Buffer.alloc(4 * 1024 * 1024, 7)));
    await new Promise((resolve) => client.once('close', resolve));
    await waitFor('the server to read to the end', () => received >= 0);
    expect(answer).toBe('bye');
    expect(received).toBe(4 * 1024 * 1024);
  });

  it('64 MiB through one connection arrive intact (sha256 compared both ways)', async () => {
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: a!.port }]);
    const payload = randomBytes(64 * 1024 * 1024);
    const socket = connect(lb.port, '127.0.0.1');
    const hash = createHash('sha256');
    let received = 0;
    socket.on('data', (c: Buffer) => {
      hash.update(c);
      received += c.length;
    });
    socket.end(payload);
    await once(socket, 'close');
    expect(received).toBe(payload.length);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    await recorded(lb, 1);
    expect(lb.stats().totals.bytesIn).toBe(payload.length);
  }, 60_000);

  it('a client that does not read stops the server being read: lb holds a bounded amount (backpressure)', async () => {
    // A server that writes as fast as it may: its writes stall once lb stops reading it.
    let written = 0;
    let stalled = false;
    const chunk = Buffer.alloc(64 * 1024, 1);
    const sockets: Socket[] = [];
    const server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => undefined);
      const pump = (): void => {
        while (written < 512 * 1024 * 1024) {
          written += chunk.length;
          if (!socket.write(chunk)) {
            stalled = true;
            socket.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.track({ close: () => new Promise((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }) });
    const lb = await startTcpLb(scope, [{ port: (server.address() as AddressInfo).port }]);
    const client = connect(lb.port, '127.0.0.1');
    client.pause();
    scope.track({ close: async () => void client.destroy() });
    await waitFor('the server to stall', () => stalled);
    // Stalled: it stays stalled while nobody reads (polled, not slept: the count must stop moving).
    let previous = -1;
    await waitFor('the written count to settle', () => {
      const settled = previous === written;
      previous = written;
      return settled;
    }, 10_000, 200);
    // Kernel buffers on both hops plus lb's stream buffers: a few MiB, never the 512 MiB on offer.
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it('a reset from the server closes the client, and a client leaving closes the server side', async () => {
    const serverSockets: Socket[] = [];
    const server = createServer((socket) => {
      serverSockets.push(socket);
      socket.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.track({ close: () => new Promise((resolve) => { for (const s of serverSockets) s.destroy(); server.close(() => resolve()); }) });
    const lb = await startTcpLb(scope, [{ port: (server.address() as AddressInfo).port, name: 's' }]);
    const c1 = connect(lb.port, '127.0.0.1');
    c1.on('error', () => undefined);
    await waitFor('the server side', () => serverSockets.length === 1);
    serverSockets[0]!.resetAndDestroy();
    await once(c1, 'close');
    await waitFor('the outcome', () => lb.history().requests.length === 1);
    expect(lb.history().requests[0]!.error).toBe('LB_UPSTREAM_ERROR');
    const c2 = connect(lb.port, '127.0.0.1');
    await waitFor('the second server side', () => serverSockets.length === 2);
    const serverClosed = once(serverSockets[1]!, 'close');
    c2.resetAndDestroy();
    await serverClosed;
    await waitFor('the outcome', () => lb.history().requests.length === 2);
    expect(lb.history().requests[1]!.error).toBe('LB_CLIENT_GONE');
    // The client's reset is not the server's failure; the server's reset is.
    expect(lb.stats().servers[0]!.totalFailures).toBe(1);
  });

  it('a connect failure is retried on another server before any byte is forwarded: the client sees nothing', async () => {
    const dead = await deadAddress();
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ ...dead, name: 'dead' }, { port: a!.port, name: 'live' }], { breakerFailures: 3 });
    for (let i = 0; i < 6; i++) expect((await exchange(lb.port, `hello ${i}`)).toString()).toBe(`hello ${i}`);
    await recorded(lb, 6);
    const stats = lb.stats();
    expect(stats.totals.failures).toBe(0);
    const deadServer = stats.servers.find((s) => s.id === 'dead')!;
    // The breaker counted the 3 refused connects and opened: the dead server was not tried after that.
    expect(deadServer.connectFailures).toBe(3);
    expect(deadServer.circuit).toBe('open');
    expect(stats.totals.retries).toBe(3);
    expect(lb.history().events.some((e) => e.type === 'circuit-open' && e.server === 'dead')).toBe(true);
  });

  it('every server refusing: the connection is closed and counted as a failed connect, not retried forever', async () => {
    const [d1, d2] = [await deadAddress(), await deadAddress()];
    const lb = await startTcpLb(scope, [d1, d2], { retries: 5 });
    expect((await exchange(lb.port, 'hi')).length).toBe(0);
    await recorded(lb, 1);
    const [entry] = lb.history().requests;
    expect(entry).toMatchObject({ error: 'LB_UPSTREAM_CONNECT', retries: 1, bytesIn: 0, bytesOut: 0 });
    expect(lb.stats().totals.failures).toBe(1);
  });

  it('a server that never answers the handshake: connect_timeout, then the next server takes the connection', async () => {
    const blackhole = await startBlackhole();
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: blackhole, name: 'silent' }, { port: a!.port, name: 'live' }], { connectTimeout: '300ms' });
    const started = performance.now();
    expect((await exchange(lb.port, 'still answered')).toString()).toBe('still answered');
    expect(performance.now() - started).toBeGreaterThan(250);
    await waitFor('the outcome', () => lb.history().requests.length === 1);
    expect(lb.history().requests[0]).toMatchObject({ server: 'live', retries: 1, error: null });
    expect(lb.stats().servers.find((s) => s.id === 'silent')).toMatchObject({ connectFailures: 1, lastError: 'ETIMEDOUT' });

    const alone = await startTcpLb(scope, [{ port: blackhole, name: 'silent' }], { connectTimeout: '300ms' });
    expect((await exchange(alone.port, 'x')).length).toBe(0);
    await waitFor('the outcome', () => alone.history().requests.length === 1);
    expect(alone.history().requests[0]).toMatchObject({ error: 'LB_UPSTREAM_TIMEOUT' });
    expect(alone.stats().totals.upstreamTimeouts).toBe(1);
  });

  it('an idle connection (no byte either way) is closed at tcp_idle_timeout', async () => {
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: a!.port }], { tcpIdleTimeout: '300ms' });
    const { socket } = await held(lb.port);
    const started = performance.now();
    await once(socket, 'close');
    expect(performance.now() - started).toBeGreaterThan(250);
    await waitFor('the outcome', () => lb.history().requests.length === 1);
    expect(lb.history().requests[0]!.error).toBe('LB_IDLE_TIMEOUT');
  });

  it('max_connections: one connection over the limit is closed at once and counted', async () => {
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: a!.port }], { maxConnections: 2 });
    const open = [await held(lb.port), await held(lb.port)];
    const third = connect(lb.port, '127.0.0.1');
    third.on('error', () => undefined);
    await once(third, 'close');
    expect(lb.stats().totals.connectionsRejected).toBe(1);
    expect(a!.connectionCount).toBe(2);
    // The two admitted ones still work.
    expect(await echoOn(open[0]!.socket, 'still here')).toBe('still here');
    for (const c of open) c.socket.destroy();
    await waitFor('both to close', () => lb.stats().totals.activeRequests === 0);
    expect(await nameVia(lb.port)).toBe('t1');
  });

  it('max_conns per server counts open connections: a full server is passed over', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, max_conns: 1 }, { port: b!.port }], { algorithm: 'least_connections' });
    const first = await held(lb.port);
    const names = [first.name];
    for (let i = 0; i < 3; i++) names.push((await held(lb.port)).name);
    expect(names.filter((n) => n === first.name)).toHaveLength(first.name === 't1' ? 1 : 3);
    expect(lb.stats().servers[0]!.activeRequests).toBe(1);
  });

  it('drain: no new connections, open ones keep working until drain_timeout closes them', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, name: 'a' }, { port: b!.port, name: 'b' }], { drainTimeout: '1s' });
    const onA = await held(lb.port);
    expect(onA.name).toBe('t1');
    lb.apply({ type: 'updateServer', server: 'a', drain: true });
    const drainedAt = performance.now();
    for (let i = 0; i < 4; i++) expect(await nameVia(lb.port)).toBe('t2');
    expect(lb.stats().servers[0]!.state).toBe('draining');
    expect(await echoOn(onA.socket, 'drained but alive')).toBe('drained but alive');
    await once(onA.socket, 'close');
    expect(performance.now() - drainedAt).toBeGreaterThan(900);
    await waitFor('the outcome', () => lb.history().requests.some((r) => r.error === 'LB_DRAIN_TIMEOUT'));
    expect(lb.stats().servers[0]!.state).toBe('drained');
  });

  it('without drain_timeout a drained server keeps its connections until they close', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, name: 'a' }, { port: b!.port, name: 'b' }]);
    const onA = await held(lb.port);
    lb.apply({ type: 'updateServer', server: 'a', drain: true });
    expect(await nameVia(lb.port)).toBe('t2');
    expect(await echoOn(onA.socket, 'one')).toBe('one');
    expect(await echoOn(onA.socket, 'two')).toBe('two');
    expect(lb.stats().servers[0]!.activeRequests).toBe(1);
    onA.socket.end();
    await waitFor('drained', () => lb.stats().servers[0]!.state === 'drained');
  });

  it('switching the algorithm at runtime applies to the next connection; open ones stay where they are', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, name: 'a' }, { port: b!.port, name: 'b' }]);
    const first = await held(lb.port);
    lb.admin.setAlgorithm('consistent_hash');
    const names = new Set<string>();
    for (let i = 0; i < 6; i++) names.add(await nameVia(lb.port));
    // One client IP: one server, every time.
    expect(names.size).toBe(1);
    expect(await echoOn(first.socket, 'kept')).toBe('kept');
    lb.admin.setAlgorithm('round_robin');
    expect(new Set([await nameVia(lb.port), await nameVia(lb.port)]).size).toBe(2);
  });

  it('TCP health checks take a stopped server out (fall) and bring it back (rise)', async () => {
    const [a, b] = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, [{ port: a!.port, name: 'a' }, { port: b!.port, name: 'b' }], { healthCheck: true, healthFall: 2, healthRise: 1, healthInterval: '1h' });
    await lb.checkHealth();
    expect(lb.stats().servers[0]!.healthCheck.detail).toBe('TCP connect');
    const port = a!.port;
    await a!.close();
    await lb.checkHealth();
    await lb.checkHealth();
    expect(lb.stats().servers[0]!.state).toBe('down');
    for (let i = 0; i < 3; i++) expect(await nameVia(lb.port)).toBe('t2');
    const { startTcpTestServer } = await import('../../../src/testserver/tcp-server.js');
    scope.track(await startTcpTestServer({ port, name: 'back' }));
    await lb.checkHealth();
    expect(lb.stats().servers[0]!.state).toBe('up');
  });
});
