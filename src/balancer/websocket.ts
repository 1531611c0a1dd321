/**
 * WebSocket (and any HTTP/1.1 Upgrade) tunnelling. The upgrade request is routed like any request (sticky
 * rules, then the algorithm), sent to the server on a connection of its own (a tunnel cannot share a
 * pool), and once the server answers 101 the two sockets are piped together. The tunnel counts as one
 * active request on its server until either side closes; then the other side is closed too.
 * A failed connection is retried on another server by the plain requests' rule; a server that answers
 * something other than 101 has that answer relayed; no server at all is a 503. Upgrades pass the same
 * front door as plain requests (proxy.ts `admit`), and a tunnel with no byte either way for the proxy
 * timeout is closed, as nginx's proxy_read_timeout closes an idle WebSocket.
 */
import type { IncomingMessage } from 'node:http';
import { request as httpRequest, STATUS_CODES } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { httpStatusOf, type LbErrorCode } from '../shared/errors.js';
import {
  admit,
  buildUpstreamHeaders,
  classify,
  errorCodeOf,
  failureName,
  mayRetry,
  routeRequest,
  serverLabel,
  upstreamFailureMessage,
  type ProxyDeps,
  type ProxyOptions,
} from './proxy.js';
import type { Server } from './server.js';
import type { UpstreamTls } from './upstreams.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export function createUpgradeHandler(deps: ProxyDeps, options: ProxyOptions, tls: UpstreamTls): UpgradeHandler {
  return (req, socket, head) => {
    socket.on('error', () => undefined);
    // Every callback of the tunnel runs through this: a bug closes this client's socket, nothing more.
    const guard = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A): void => {
      try {
        fn(...args);
      } catch (bug) {
        deps.stats.count('internalErrors');
        deps.logger.error(`internal error in an upgrade ${req.method ?? ''} ${(req.url ?? '').slice(0, 256)}: ${(bug as Error)?.stack ?? String(bug)}`);
        socket.destroy();
      }
    };
    guard(tunnel)(deps, options, tls, req, socket, head, guard);
  };
}

type Guard = <A extends unknown[]>(fn: (...args: A) => void) => (...args: A) => void;

/**
 * An error answer written on a raw socket (an upgrade or a CONNECT, which Node hands over before any
 * response object exists), in the JSON shape every lb error has, closing the connection. Returns the
 * body's length for the outcome.
 */
export function endWithError(socket: Duplex, code: LbErrorCode, message: string, headers: Record<string, string | number> = {}): number {
  const status = httpStatusOf(code);
  const body = JSON.stringify({ error: { code, message } });
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
      `content-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n` +
      Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      `\r\n${body}`,
  );
  return Buffer.byteLength(body);
}

function tunnel(deps: ProxyDeps, options: ProxyOptions, tls: UpstreamTls, req: IncomingMessage, socket: Duplex, head: Buffer, guard: Guard): void {
  const { ctx, refusal } = admit(deps, options, req);
  const startedAt = performance.now();
  const headers = buildUpstreamHeaders(req, ctx.clientIp, options.forwardedProto);
  // The tunnel needs the hop-by-hop pair that plain requests drop.
  headers.push('connection', 'Upgrade', 'upgrade', String(req.headers.upgrade ?? 'websocket'));
  let attempts = 0;
  let tried: Set<Server> | null = null;
  let clientGone = false;
  socket.once('close', () => (clientGone = true));
  let reported = false;
  /** The upgrade's one outcome: when the answer was relayed, the tunnel closed, or it failed. */
  const done = (status: number, server: Server | null, error: LbErrorCode | null): void => {
    if (reported) return;
    reported = true;
    deps.finished({
      kind: 'websocket',
      method: ctx.method,
      path: ctx.path,
      clientIp: ctx.clientIp,
      server,
      status,
      attempts,
      queued: false,
      durationMs: performance.now() - startedAt,
      bytesOut: (socket as Socket).bytesWritten ?? 0,
      error,
    });
  };

  const fail = (code: LbErrorCode, message: string, server: Server | null, extra: Record<string, string | number> = {}): void => {
    if (!socket.destroyed) {
      const label = server === null ? null : serverLabel(options.serverHeader, server);
      endWithError(socket, code, message, label === null ? extra : { ...extra, 'x-lb-server': label });
    }
    done(httpStatusOf(code), server, code);
  };
  if (refusal !== null) {
    fail(refusal.code, refusal.message, null, refusal.headers);
    return;
  }

  const attempt = (): void => {
    const { server, setCookie } = routeRequest(deps, ctx);
    if (server === undefined) {
      fail('LB_NO_AVAILABLE_SERVER', 'no server is available to take the request', null);
      return;
    }
    attempts += 1;
    server.requestStarted();
    deps.passive.requestStarted(server);
    const attemptStartedAt = performance.now();
    let settled = false;
    const settle = (ok: boolean, error: string | null): void => {
      if (settled) return;
      settled = true;
      const now = performance.now();
      server.requestFinished(ok, now - attemptStartedAt, error, now);
      deps.passive.record(server, ok, error);
    };
    const send = server.origin.startsWith('https:') ? httpsRequest : httpRequest;
    const upstream = send(`${server.origin}${ctx.path}`, {
      method: ctx.method,
      headers,
      agent: false,
      timeout: options.timeoutMs,
      ...(server.origin.startsWith('https:') ? { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca ? { ca: tls.ca } : {}) } : {}),
    });
    const abortOnClientClose = (): void => {
      upstream.destroy();
    };
    socket.once('close', abortOnClientClose);

    upstream.on('upgrade', guard((res: IncomingMessage, upSocket: Socket, upHead: Buffer) => {
      socket.off('close', abortOnClientClose);
      if (clientGone) {
        upSocket.destroy();
        settle(true, null);
        done(httpStatusOf('LB_CLIENT_GONE'), server, 'LB_CLIENT_GONE');
        return;
      }
      const lines = [`HTTP/1.1 ${res.statusCode ?? 101} ${res.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        if (res.rawHeaders[i]!.toLowerCase() !== 'x-lb-server') lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      }
      const label = serverLabel(options.serverHeader, server);
      if (label !== null) lines.push(`x-lb-server: ${label}`);
      if (setCookie !== null) lines.push(`set-cookie: ${setCookie}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length > 0) socket.write(upHead);
      if (head.length > 0) upSocket.write(head);
      upSocket.on('error', () => undefined);
      // Whichever side goes first takes the other with it; the tunnel is then one finished request.
      const close = (): void => {
        socket.destroy();
        upSocket.destroy();
      };
      upSocket.once('close', close);
      socket.once('close', close);
      // Idle tunnels end: no byte either way for the proxy timeout (either side's inactivity timer).
      upSocket.setTimeout(options.timeoutMs, close);
      // The traffic server's 'upgrade' socket is a net.Socket (a TLSSocket over HTTPS): it has setTimeout.
      (socket as Socket).setTimeout(options.timeoutMs, close);
      upSocket.once('close', () => {
        settle(true, null);
        done(101, server, null);
      });
      upSocket.pipe(socket);
      socket.pipe(upSocket);
    }));

    upstream.on('response', guard((res: IncomingMessage) => {
      // The server declined the upgrade: relay its answer as is, then close.
      socket.off('close', abortOnClientClose);
      const status = res.statusCode ?? 502;
      settle(status < 500, status >= 500 ? `HTTP ${status}` : null);
      const lines = [`HTTP/1.1 ${status} ${res.statusMessage ?? ''}`];
      for (let i = 0; i < res.rawHeaders.length; i += 2) {
        const name = res.rawHeaders[i]!.toLowerCase();
        if (name !== 'connection' && name !== 'keep-alive' && name !== 'transfer-encoding') lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      }
      const label = serverLabel(options.serverHeader, server);
      if (label !== null) lines.push(`x-lb-server: ${label}`);
      lines.push('connection: close');
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      res.pipe(socket);
      done(status, server, null);
    }));

    upstream.on('timeout', () => upstream.destroy(Object.assign(new Error('upgrade timed out'), { code: 'UND_ERR_HEADERS_TIMEOUT' })));

    upstream.on('error', guard((err: Error) => {
      socket.off('close', abortOnClientClose);
      if (settled || clientGone) {
        settle(true, null);
        if (clientGone) done(httpStatusOf('LB_CLIENT_GONE'), server, 'LB_CLIENT_GONE');
        return;
      }
      const code = errorCodeOf(err);
      settle(false, failureName(code));
      // An upgrade has no body: replayable, so the plain requests' rule applies as is.
      if (mayRetry(deps, code, ctx.method, true, attempts, options.retries)) {
        tried ??= new Set();
        tried.add(server);
        ctx.exclude = tried;
        attempt();
        return;
      }
      const lbCode = classify(code);
      fail(lbCode, upstreamFailureMessage(options, server, lbCode, code), server);
    }));
    upstream.end();
  };
  attempt();
}
