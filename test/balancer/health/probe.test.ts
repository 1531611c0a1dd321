/**
 * The HTTP health probe against servers that answer with exact bytes, well or badly: each row is what a
 * server sends to the check, and what the probe must conclude and say about it.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../../src/balancer/config.js';
import { ActiveHealthChecker } from '../../../src/balancer/health/active.js';
import { PROBE_BODY_LIMIT, probeHttp } from '../../../src/balancer/health/http-probe.js';
import { ServerPool } from '../../../src/balancer/pool.js';
import { Server } from '../../../src/balancer/server.js';
import { closedAfterEach, deadAddress, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';

const scope = closedAfterEach();
const TIMEOUT_MS = 300;
const config = { ...DEFAULT_CONFIG.healthCheck, timeoutMs: TIMEOUT_MS };
const NO_TLS = { ca: null, rejectUnauthorized: true };

/** A server that answers the first bytes on each connection with `reply`, then stays silent. */
async function rawServer(reply: (socket: Socket, request: string) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('data', (request: Buffer) => reply(socket, request.toString('latin1')));
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

const check = (port: number) => probeHttp(new Server({ host: '127.0.0.1', port }), config, NO_TLS);

const send = (bytes: string | Buffer) => (socket: Socket) => socket.write(bytes);
/** Sends `bytes` and closes the connection (the end of a body that runs to the close). */
const sendAndClose = (bytes: string) => (socket: Socket) => socket.end(bytes);
/** Sends `bytes` one at a time, as a slow or hostile server may. */
const trickle = (bytes: string) => (socket: Socket) => {
  let at = 0;
  const next = (): void => {
    if (socket.destroyed || at >= bytes.length) return;
    socket.write(bytes[at++] as string, next);
  };
  next();
};
const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const CHUNKED_HEAD = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';

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
    // Framing: the body must arrive whole, however it is framed.
    ['a chunked body with an extension and a trailer', send(`${CHUNKED_HEAD}2;x=y\r\nok\r\n0\r\nX-Trailer: 1\r\n\r\n`), true, 'HTTP 200'],
    ['a chunked body cut before its last chunk', sendAndClose(`${CHUNKED_HEAD}2\r\nok\r\n`), false, 'connection closed'],
    ['a chunk size that is not hex', send(`${CHUNKED_HEAD}zz\r\nok\r\n0\r\n\r\n`), false, 'unreadable answer'],
    ['chunk data longer than its size', send(`${CHUNKED_HEAD}2\r\nokay\r\n0\r\n\r\n`), false, 'unreadable answer'],
    ['a body that runs to the close (no length)', sendAndClose('HTTP/1.1 200 OK\r\n\r\nall of it'), true, 'HTTP 200'],
    ['HTTP/1.0 with no length', sendAndClose('HTTP/1.0 200 OK\r\n\r\nok'), true, 'HTTP 200'],
    ['204 with no body, connection left open', send('HTTP/1.1 204 No Content\r\n\r\n'), true, 'HTTP 204'],
    ['a status line with no reason phrase', send('HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n'), true, 'HTTP 200'],
    ['lines ended by a bare LF', send('HTTP/1.1 200 OK\nContent-Length: 2\n\nok'), true, 'HTTP 200'],
    ['the answer one byte at a time', trickle(OK), true, 'HTTP 200'],
    // Hostile or broken heads: never a pass, never a hang.
    ['Content-Length and Transfer-Encoding together (smuggling)', send(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`), false, 'unreadable answer'],
    ['two Content-Lengths that disagree', send('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok'), false, 'unreadable answer'],
    ['the same Content-Length twice', send('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok'), true, 'HTTP 200'],
    ['a negative Content-Length', send('HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'), false, 'unreadable answer'],
    ['a status outside 100-599', send('HTTP/1.1 999 Odd\r\nContent-Length: 0\r\n\r\n'), false, 'unreadable answer'],
    ['HTTP/2 preface bytes', send('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), false, 'unreadable answer'],
    ['a folded header line', send('HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n'), false, 'unreadable answer'],
    ['a header name with a space', send('HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n'), false, 'unreadable answer'],
    ['a NUL in a header value', send('HTTP/1.1 200 OK\r\nX-A: a\u0000b\r\nContent-Length: 0\r\n\r\n'), false, 'unreadable answer'],
    ['endless 103s past the head limit', send('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'.repeat(1000)), false, 'answer headers too large'],
    ['a trailer line that is not a field', send(`${CHUNKED_HEAD}2\r\nok\r\n0\r\nnot a field\r\n\r\n`), false, 'unreadable answer'],
    ['a lone CR ending the head', send('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\rok'), false, 'unreadable answer'],
    ['garbage with no line end, then silence', send('\u0016\u0003\u0001'), false, 'unreadable answer'],
  ];

  it.each(rows)('%s', async (_title, reply, ok, detail) => {
    const result = await check(await rawServer(reply));
    expect({ ok: result.ok, detail: result.detail }).toEqual({ ok, detail });
    // A probe never outlives its timeout by much, whatever the server does.
    expect(result.durationMs).toBeLessThan(TIMEOUT_MS + 1000);
  });

  it('sends one GET of the health path with Host, its own user agent and Connection: close', async () => {
    let request = '';
    const port = await rawServer((socket, head) => {
      request = head;
      socket.write(OK);
    });
    await check(port);
    expect(request).toBe(`GET /health HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nuser-agent: lb-health-check\r\nconnection: close\r\n\r\n`);
  });

  it('stopped (the checker closes): ends at once and lets the connection go', async () => {
    let serverSocket: Socket | undefined;
    const port = await rawServer((socket) => (serverSocket = socket));
    const stop = new AbortController();
    const slow = { ...config, timeoutMs: 60_000 };
    const result = probeHttp(new Server({ host: '127.0.0.1', port }), slow, NO_TLS, stop.signal);
    await waitFor('the request to arrive', () => serverSocket !== undefined, 5000);
    stop.abort();
    expect(await result).toMatchObject({ ok: false, detail: 'check stopped' });
    await waitFor('the connection to close', () => serverSocket?.readableEnded === true || serverSocket?.destroyed === true, 5000);
    // A stop given before the check starts ends it before it connects.
    expect(await probeHttp(new Server({ host: '127.0.0.1', port }), slow, NO_TLS, stop.signal)).toEqual({ ok: false, detail: 'check stopped', durationMs: 0 });
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

describe('HTTP health probe over TLS (servers marked "tls": true)', () => {
  it('verifies the certificate against the CA it is given, and only skips that when told to', async () => {
    const dir = await tempDir();
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { stdio: 'ignore' });
    const secure = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end('ok'));
    secure.listen(0, '127.0.0.1');
    await once(secure, 'listening');
    scope.track({ close: async () => { secure.closeAllConnections(); secure.close(); } });
    const server = new Server({ host: '127.0.0.1', port: (secure.address() as AddressInfo).port, tls: true });

    expect(await probeHttp(server, config, { ca: readFileSync(certFile), rejectUnauthorized: true })).toMatchObject({ ok: true, detail: 'HTTP 200' });
    const unverified = await probeHttp(server, config, NO_TLS);
    expect(unverified.ok).toBe(false);
    expect(unverified.detail).toMatch(/^(DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)$/);
    expect(await probeHttp(server, config, { ca: null, rejectUnauthorized: false })).toMatchObject({ ok: true, detail: 'HTTP 200' });
  });
});

describe('ActiveHealthChecker', () => {
  it('checks 12 servers at once without a listener-leak warning, and closing it ends the checks in flight', async () => {
    let asked = 0;
    const ports = await Promise.all(Array.from({ length: 12 }, () => rawServer(() => void (asked += 1))));
    const pool = new ServerPool(ports.map((port) => ({ host: '127.0.0.1', port })));
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      const checker = new ActiveHealthChecker(pool, { ...config, timeoutMs: 60_000 }, () => undefined);
      const round = checker.runRound();
      await waitFor('every server to be asked', () => asked === 12, 5000);
      checker.close();
      await round;
      // Stopped checks are no verdict on anyone.
      expect(pool.servers.map((s) => s.healthCheck.ok)).toEqual(Array(12).fill(null));
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('unsubscribes from the pool when closed (a settings change replaces the checker)', async () => {
    const pool = new ServerPool([{ host: '127.0.0.1', port: 1 }]);
    const before = pool.listenerCount('server-removed');
    const checkers = Array.from({ length: 12 }, () => new ActiveHealthChecker(pool, config, () => undefined));
    expect(pool.listenerCount('server-removed')).toBe(before + 12);
    for (const c of checkers) c.close();
    expect(pool.listenerCount('server-removed')).toBe(before);
  });
});
