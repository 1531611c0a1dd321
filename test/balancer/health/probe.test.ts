/**
 * The HTTP health probe against servers that answer with exact bytes, well or badly: each row is what a
 * server sends to the check, and what the probe must conclude and say about it.
 */
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../../src/balancer/config.js';
import { ActiveHealthChecker, PROBE_BODY_LIMIT, probe } from '../../../src/balancer/health/active.js';
import { ServerPool } from '../../../src/balancer/pool.js';
import { upstreamPool } from '../../../src/balancer/upstreams.js';
import { closedAfterEach, deadAddress, waitFor } from '../../helpers/servers.js';

const scope = closedAfterEach();
const TIMEOUT_MS = 300;
const config = { ...DEFAULT_CONFIG.healthCheck, timeoutMs: TIMEOUT_MS };
const NO_TLS = { ca: null, rejectUnauthorized: true };

/** A server that answers the first request head on each connection with `reply`, then stays silent. */
async function rawServer(reply: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', () => reply(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.track({
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  });
  return (server.address() as AddressInfo).port;
}

/** The probe's own kind of pool (one connection), destroyed after the test. */
function poolTo(port: number, timeoutMs: number) {
  const pool = upstreamPool(`http://127.0.0.1:${port}`, 1, timeoutMs, NO_TLS, 4000);
  scope.track({ close: () => pool.destroy() });
  return pool;
}

const check = (port: number) => probe(config, poolTo(port, TIMEOUT_MS));

const send = (bytes: string | Buffer) => (socket: Socket) => socket.write(bytes);
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('HTTP health probe: what a server answers, what the check concludes', () => {
  const rows: Array<[string, (socket: Socket) => void, boolean, string]> = [
    ['200 with a body', send(OK), true, 'HTTP 200'],
    ['503', send('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'), false, 'HTTP 503'],
    ['399 is the top of the passing range', send('HTTP/1.1 399 Odd\r\nContent-Length: 0\r\n\r\n'), true, 'HTTP 399'],
    ['103 Early Hints, then 200: the final status counts', send(`HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${OK}`), true, 'HTTP 200'],
    ['an unsolicited 100 Continue', send(`HTTP/1.1 100 Continue\r\n\r\n${OK}`), false, 'unreadable answer'],
    ['not HTTP at all', send('hello there\r\n\r\n'), false, 'unreadable answer'],
    ['a header flood past the head limit', send(`HTTP/1.1 200 OK\r\n${'X-Flood: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n'.repeat(2000)}\r\n`), false, 'answer headers too large'],
    ['accepts and never answers', () => undefined, false, `timeout after ${TIMEOUT_MS} ms`],
    ['a head, then the body stalls', send('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'), false, `timeout after ${TIMEOUT_MS} ms`],
    ['closes in the middle of the body', (socket) => socket.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'), false, 'connection closed'],
    ['resets the connection before answering', (socket) => socket.resetAndDestroy(), false, 'ECONNRESET'],
  ];

  it.each(rows)('%s', async (_title, reply, ok, detail) => {
    const result = await check(await rawServer(reply));
    expect({ ok: result.ok, detail: result.detail }).toEqual({ ok, detail });
    // A probe never outlives its timeout by much, whatever the server does.
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS + 1000);
  });

  it('a refused port fails with the system code, not a library one', async () => {
    const dead = await deadAddress();
    expect(await check(dead.port)).toMatchObject({ ok: false, detail: 'ECONNREFUSED' });
  });

  it('an answer streaming without end passes on its status: the probe reads 128 KiB of it, then drops the connection', async () => {
    let serverSocket: Socket | undefined;
    let sent = 0;
    const chunk = Buffer.alloc(16 * 1024, 97);
    const port = await rawServer((socket) => {
      serverSocket = socket;
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
      const more = (): void => {
        while (!socket.destroyed) {
          sent += chunk.length;
          if (!socket.write(`${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`)) return void socket.once('drain', more);
        }
      };
      more();
    });
    const result = await check(port);
    expect({ ok: result.ok, detail: result.detail }).toEqual({ ok: true, detail: 'HTTP 200' });
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS);
    await waitFor('the probe to drop the connection', () => serverSocket?.destroyed || serverSocket?.readableEnded, 5000);
    // What the server got out before the drop: the limit plus what the socket buffers held, not megabytes.
    expect(sent).toBeLessThan(PROBE_BODY_LIMIT + 8 * 1024 * 1024);
  });

  it('a 503 with an endless body fails on its status', async () => {
    const port = await rawServer((socket) => {
      socket.write(`HTTP/1.1 503 Busy\r\nContent-Length: ${1 << 30}\r\n\r\n`);
      socket.write(Buffer.alloc(1 << 20));
    });
    expect(await check(port)).toMatchObject({ ok: false, detail: 'HTTP 503' });
  });
});

describe('ActiveHealthChecker', () => {
  it('unsubscribes from the pool when closed (a settings change replaces the checker)', async () => {
    const pool = new ServerPool([{ host: '127.0.0.1', port: 1 }]);
    const before = pool.listenerCount('server-removed');
    const checkers = Array.from({ length: 12 }, () => new ActiveHealthChecker(pool, config, () => undefined));
    expect(pool.listenerCount('server-removed')).toBe(before + 12);
    await Promise.all(checkers.map((c) => c.close()));
    expect(pool.listenerCount('server-removed')).toBe(before);
  });
});
