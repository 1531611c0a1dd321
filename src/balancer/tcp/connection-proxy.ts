/**
 * Forwards one client connection in tcp mode: (read a PROXY header when `accept_proxy` is on) pick a
 * server, connect, (send a PROXY header when the server asks for one) and pipe bytes both ways until
 * both sides are closed; then one ConnectionOutcome.
 *
 * The retry rule: a connect failure (refused, unreachable, connect timeout) is retried on a server not
 * yet tried, up to `retries` times. The client sees nothing of it: its socket is paused from accept
 * (`pauseOnConnect`), so not one of its bytes has been read, let alone forwarded. Once connected, nothing
 * is retried: the server may have seen bytes.
 *
 * Streams: `pipe()` both ways gives backpressure (a slow reader pauses the other side's socket, so lb
 * holds at most a socket's high-water mark per direction); both sockets allow half-open, so a client's
 * FIN reaches the server as a FIN while the answer still flows back (and the other way round). An error
 * or reset on either side destroys both. The idle timeout watches the client socket, which sees a read
 * or a write for every byte in either direction.
 *
 * Blame: only what the server did counts against it (a connect failure, a reset or error from its side);
 * a client going away, an idle timeout, a drain cut or shutdown do not.
 */
import { connect, type Socket } from 'node:net';
import type { LbErrorCode } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { BalancingAlgorithm, RequestContext } from '../algorithms/index.js';
import type { PassiveHealth } from '../health/passive.js';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import type { ConnectionSink } from './connection-outcome.js';
import { addressesOf, encodeV1, encodeV2, MAX_V1_LENGTH, MAX_V2_PAYLOAD, parseProxyHeader } from '../../shared/proxy-protocol.js';

export interface TcpProxyDeps {
  pool: ServerPool;
  algorithm: () => BalancingAlgorithm;
  passive: PassiveHealth;
  logger: Logger;
  finished: ConnectionSink;
  /** A connect attempt failed (per-server tallies). */
  connectFailed: (server: Server) => void;
}

/** Mutable on purpose: a reload changes these for the next connections. */
export interface TcpProxyOptions {
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  retries: number;
  acceptProxy: boolean;
  /** How long a client may take to send its PROXY header. */
  proxyHeaderTimeoutMs: number;
}

/** The most bytes kept while waiting for a PROXY header: the longest valid one. */
const MAX_PROXY_HEADER = Math.max(MAX_V1_LENGTH, 16 + MAX_V2_PAYLOAD);

/** One proxied connection, listed per server so a drain timeout or shutdown can end it. */
export class TcpConnection {
  readonly #client: Socket;
  readonly #deps: TcpProxyDeps;
  readonly #options: TcpProxyOptions;
  readonly #startedAt = performance.now();
  readonly #tried = new Set<Server>();
  /** Told when the connection's server changes (null: none any more), so connections are listed per server. */
  readonly #onServer: (c: TcpConnection, server: Server | null) => void;
  #phase: 'header' | 'connecting' | 'piping' | 'done' = 'header';
  #upstream: Socket | null = null;
  #server: Server | null = null;
  #clientIp: string;
  #clientPort: number;
  /** Bytes read from the client ahead of the stream proper (after its PROXY header). */
  #early: Buffer | null = null;
  #proxyHeaderBytes = 0;
  #connectMs = 0;
  #lastTried: Server | null = null;
  #lastFailure: LbErrorCode = 'LB_UPSTREAM_CONNECT';
  #error: LbErrorCode | null = null;
  #clientClosed = false;
  #upstreamClosed = false;
  /** Ends a running connect attempt (the client left, or lb cut the connection). */
  #abortConnect: (() => void) | null = null;

  constructor(client: Socket, deps: TcpProxyDeps, options: TcpProxyOptions, onServer: (c: TcpConnection, server: Server | null) => void) {
    this.#client = client;
    this.#deps = deps;
    this.#options = options;
    this.#onServer = onServer;
    this.#clientIp = client.remoteAddress ?? '';
    this.#clientPort = client.remotePort ?? 0;
    client.on('error', () => this.#fail('LB_CLIENT_GONE'));
    client.once('close', () => {
      this.#clientClosed = true;
      this.#error ??= this.#phase === 'piping' ? null : 'LB_CLIENT_GONE';
      this.#settle();
    });
  }

  get server(): Server | null {
    return this.#server;
  }

  /** Bytes forwarded so far, client -> server (without lb's PROXY header) and back. */
  get bytesIn(): number {
    return this.#upstream === null ? 0 : Math.max(0, this.#upstream.bytesWritten - this.#proxyHeaderBytes);
  }

  get bytesOut(): number {
    return this.#upstream === null ? 0 : this.#client.bytesWritten;
  }

  start(): void {
    if (this.#options.acceptProxy) this.#readProxyHeader();
    else this.#attempt();
  }

  /** Ends the connection from lb's side (drain timeout, shutdown). */
  cut(error: LbErrorCode): void {
    this.#fail(error);
  }

  #readProxyHeader(): void {
    const client = this.#client;
    let buffered: Buffer = Buffer.alloc(0);
    const timer = setTimeout(() => this.#fail('LB_CLIENT_TIMEOUT'), this.#options.proxyHeaderTimeoutMs);
    const onData = (chunk: Buffer): void => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      // Never more than the longest valid header is looked at (or kept beyond one chunk).
      const result = parseProxyHeader(buffered.length > MAX_PROXY_HEADER ? buffered.subarray(0, MAX_PROXY_HEADER) : buffered);
      if (result.kind === 'incomplete') return;
      stop();
      if (result.kind === 'invalid') {
        this.#deps.logger.debug(`PROXY header refused from ${client.remoteAddress ?? '?'}: ${result.reason}`);
        this.#fail('LB_BAD_REQUEST');
        return;
      }
      if (result.addresses !== null) {
        this.#clientIp = result.addresses.sourceAddress;
        this.#clientPort = result.addresses.sourcePort;
      }
      if (buffered.length > result.length) this.#early = Buffer.from(buffered.subarray(result.length));
      this.#attempt();
    };
    const stop = (): void => {
      clearTimeout(timer);
      client.off('data', onData);
      client.off('end', onEnd);
      client.pause();
    };
    // The client finished sending before a whole header: nothing more will come.
    const onEnd = (): void => {
      stop();
      this.#fail('LB_BAD_REQUEST');
    };
    client.once('close', () => clearTimeout(timer));
    client.on('data', onData);
    client.once('end', onEnd);
    client.resume();
  }

  #attempt(): void {
    if (this.#phase === 'done' || this.#clientClosed) return;
    this.#phase = 'connecting';
    const ctx: RequestContext = { clientIp: this.#clientIp, method: 'TCP', path: '', headers: {}, exclude: this.#tried.size === 0 ? null : this.#tried };
    const server = this.#deps.algorithm().pick(this.#deps.pool.servers, ctx);
    if (server === undefined) {
      // After failed connects, the outcome names the last server tried and how its connect failed.
      this.#server = this.#lastTried;
      this.#fail(this.#lastTried === null ? 'LB_NO_AVAILABLE_SERVER' : this.#lastFailure);
      return;
    }
    this.#tried.add(server);
    this.#server = server;
    this.#onServer(this, server);
    server.requestStarted();
    this.#deps.passive.requestStarted(server);
    const attemptStarted = performance.now();
    const upstream = connect({ host: server.host, port: server.port, allowHalfOpen: true, noDelay: true });
    const timer = setTimeout(() => failed('ETIMEDOUT'), this.#options.connectTimeoutMs);
    const quiet = (): void => {
      clearTimeout(timer);
      upstream.removeAllListeners();
      upstream.on('error', () => undefined);
      upstream.destroy();
      this.#abortConnect = null;
    };
    const failed = (code: string): void => {
      quiet();
      // The server never saw a byte: its failure, and another server may still take the connection.
      server.requestFinished(false, performance.now() - attemptStarted, code);
      this.#deps.passive.record(server, false, code);
      this.#deps.connectFailed(server);
      this.#lastTried = server;
      this.#lastFailure = code === 'ETIMEDOUT' ? 'LB_UPSTREAM_TIMEOUT' : 'LB_UPSTREAM_CONNECT';
      if (this.#tried.size > this.#options.retries) {
        this.#fail(this.#lastFailure);
        return;
      }
      this.#server = null;
      this.#onServer(this, null);
      this.#attempt();
    };
    this.#abortConnect = () => {
      quiet();
      // The client left (or lb cut it) before the server answered: no verdict on the server.
      server.connectionFinished(null, null);
      this.#deps.passive.abandon(server);
    };
    upstream.once('error', (err: NodeJS.ErrnoException) => failed(err.code ?? 'error'));
    upstream.once('connect', () => {
      clearTimeout(timer);
      this.#abortConnect = null;
      upstream.removeAllListeners('error');
      this.#connectMs = performance.now() - attemptStarted;
      server.connectMeasured(this.#connectMs);
      this.#deps.passive.record(server, true, null);
      this.#pipe(upstream, server);
    });
  }

  #pipe(upstream: Socket, server: Server): void {
    const client = this.#client;
    this.#phase = 'piping';
    this.#upstream = upstream;
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      // A reset from the server's side counts against it, as in HTTP mode.
      if (this.#error === null) this.#deps.passive.record(server, false, err.code ?? 'error');
      this.#fail('LB_UPSTREAM_ERROR');
    });
    upstream.once('close', () => {
      this.#upstreamClosed = true;
      this.#settle();
    });
    if (server.sendProxy !== null) {
      const addresses = addressesOf({ address: this.#clientIp, port: this.#clientPort }, { address: client.localAddress, port: client.localPort });
      const header = server.sendProxy === 'v1' ? encodeV1(addresses) : encodeV2(addresses);
      this.#proxyHeaderBytes = header.length;
      upstream.write(header);
    }
    if (this.#early !== null) upstream.write(this.#early);
    this.#early = null;
    client.setTimeout(this.#options.idleTimeoutMs, () => this.#fail('LB_IDLE_TIMEOUT'));
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  }

  /** Ends both sides now; `error` says why (the first reason wins). */
  #fail(error: LbErrorCode): void {
    if (this.#phase === 'done') return;
    this.#error ??= error;
    this.#abortConnect?.();
    this.#client.destroy();
    this.#upstream?.destroy();
    this.#settle();
  }

  /** The outcome comes once every socket opened is closed. */
  #settle(): void {
    if (this.#phase === 'done') return;
    if (this.#phase === 'piping') {
      // One side closed cleanly means both of its directions ended, so pipe() has already ended the
      // other side's writing: it closes once its last bytes are out (destroying it here would drop
      // them). An error on either side destroys both (#fail); the idle timeout covers the rest.
      if (!this.#clientClosed || !this.#upstreamClosed) return;
    } else {
      if (!this.#clientClosed) return;
      this.#abortConnect?.();
    }
    this.#finish();
  }

  #finish(): void {
    const wasPiping = this.#phase === 'piping';
    this.#phase = 'done';
    const server = this.#server;
    const upstream = this.#upstream;
    if (wasPiping && server !== null) server.connectionFinished(this.#error !== 'LB_UPSTREAM_ERROR', this.#error);
    this.#onServer(this, null);
    this.#deps.finished({
      clientIp: this.#clientIp,
      clientPort: this.#clientPort,
      server,
      attempts: this.#tried.size,
      connectMs: this.#connectMs,
      durationMs: performance.now() - this.#startedAt,
      bytesIn: upstream === null ? 0 : Math.max(0, upstream.bytesWritten - this.#proxyHeaderBytes),
      bytesOut: upstream === null ? 0 : this.#client.bytesWritten,
      error: this.#error,
    });
  }
}
