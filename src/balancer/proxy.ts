/**
 * Forwards one client request: pick a server, stream the request to it over its keep-alive pool, stream
 * the answer back, retry on another server when that is safe, and map failures to 502/503/504.
 *
 * Bodies are never buffered: the request stream is undici's body, and each response chunk is written to
 * the client as it arrives, pausing the upstream when the client is slow (backpressure).
 *
 * The retry rule, as Caddy writes it down: an error before any response byte is retried on a server not
 * yet tried, at most `retries` times, when the request can be replayed (no body, or not one byte of it
 * read yet) and either the connection was never made (refused, unreachable, connect timeout: the server
 * saw nothing) or the method is idempotent (a reset after sending may have reached the server). A timeout
 * waiting for response headers is not retried: the server may still be working on it, and a retry would
 * double the wait; the client gets 504. Nothing is retried once the server sent any answer, a 1xx
 * included, or an answer lb's client cannot read (undici refuses a `100 Continue` it did not ask for and
 * a `101` to a plain request): the server has seen the request.
 *
 * Blame: a server's failure is counted (circuit breaker, error rate) only for what the server did:
 * refused or reset connections, timeouts, 5xx, unreadable answers. A request lb cannot forward (see
 * edge/request-check.ts, and what undici itself refuses) is the client's: 400 from lb, no verdict.
 *
 * No exception on this path may escape: undici re-emits what a handler throws on a Client nobody listens
 * to, and a throw in the request listener kills the process. Every entry point from outside (the
 * request, undici's callbacks, the queue, the client closing) runs guarded; a bug costs its request a
 * 502, one error line with the request's number, and `lb_internal_errors_total`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { LbErrorCode } from '../shared/errors.js';
import type { ServerHeaderMode } from './config.js';
import { checkRequest, type Refusal } from './edge/request-check.js';
import type { RateLimiter } from './edge/rate-limit.js';
import { hashKeyOf, type HashKeySpec } from './hash-key.js';
import { httpStatusOf } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import type { BalancingAlgorithm, RequestContext } from './algorithms/index.js';
import type { PassiveHealth } from './health/passive.js';
import type { OutcomeSink } from './outcome.js';
import type { ServerPool } from './pool.js';
import type { RequestQueue, Waiter } from './request-queue.js';
import type { RetryBudget } from './retry-budget.js';
import type { Server } from './server.js';
import type { BalancerStats } from './stats.js';
import type { StickySessions } from './sticky.js';
import type { Upstreams } from './upstreams.js';

export interface ProxyOptions {
  /** Time to wait for response headers, and the longest pause between body chunks, in ms. Default 30 000. */
  timeoutMs: number;
  /** Extra attempts on other servers after a retryable failure. Default 2. */
  retries: number;
  /** Value of X-Forwarded-Proto. */
  forwardedProto: 'http' | 'https';
  /** More header fields than this is a 431. */
  maxHeaders: number;
  /** What `x-lb-server` says. */
  serverHeader: ServerHeaderMode;
  /** Error bodies name the server only when the log level is debug: the address is an internal detail. */
  revealServerInErrors: boolean;
  /** Longest pause in a client's request body before lb answers 408 (a stalled upload holds a server connection). */
  clientBodyTimeoutMs: number;
}

/** Client requests not yet closed: shutdown waits for it to reach zero. */
export interface InflightCounter {
  count: number;
}

export interface ProxyDeps {
  pool: ServerPool;
  /** A getter, because the algorithm can be switched while requests are in flight. */
  algorithm: () => BalancingAlgorithm;
  /** Null when sticky sessions are off: the hot path then asks the algorithm directly. */
  sticky: StickySessions | null;
  upstreams: Upstreams;
  stats: BalancerStats;
  logger: Logger;
  inflight: InflightCounter;
  passive: PassiveHealth;
  retryBudget: RetryBudget;
  queue: RequestQueue;
  /** Where each request's one outcome goes (stats, metrics, access log, events: wired in balancer.ts). */
  finished: OutcomeSink;
  /** Null when rate limiting is off. */
  rateLimiter: RateLimiter | null;
  rateLimitKey: HashKeySpec;
}

/** RFC 9110 §7.6.1 hop-by-hop fields, plus the legacy ones proxies still see. Lower case. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Node answers `Expect: 100-continue` itself before the handler runs; undici refuses the header.
  'expect',
]);


/**
 * Lengths of every field name the header rewriting acts on by name (hop-by-hop, X-Forwarded-*, x-lb-server,
 * Content-Length): a name of any other length needs no lower-casing to be passed on, which spares a string
 * per header on the hot path. A name a Connection header lists can have any length: checked apart.
 */
const NAMED_LENGTHS = (() => {
  const lengths = new Uint8Array(32);
  for (const name of [...HOP_BY_HOP, 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-lb-server', 'content-length']) lengths[name.length] = 1;
  return lengths;
})();

/** Whether a field name may be one the rewriting acts on (see NAMED_LENGTHS): only those are lower-cased. */
function mayBeNamed(name: string): boolean {
  return name.length < 32 && NAMED_LENGTHS[name.length] === 1;
}

/** Fields a client's Connection header cannot make us drop: the target and the framing of the request. */
const END_TO_END = new Set(['host', 'content-length']);

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The server never saw the request: safe to send it elsewhere whatever the method. */
const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
/** The connection broke before any response byte: the server may have seen the request. */
const RESET_ERRORS = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED']);
const TIMEOUT_ERRORS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
/** undici refused the request itself (a header or body it will not send): the client's doing, not the server's. */
const CLIENT_FAULT_ERRORS = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);
/** The server answered something undici cannot read (unsolicited 100, 101 without an upgrade, bytes with no request). */
const BAD_RESPONSE = 'LB_BAD_RESPONSE';

/** Numbers requests for error lines, so a 502 a client saw can be found in the log. */
let requestSequence = 0;

export type ProxyHandler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The retry rule written down in the module comment, then the attempt bound, then the retry budget
 * (a refusal there is counted). Plain requests and WebSocket upgrades both ask it.
 */
export function mayRetry(
  deps: Pick<ProxyDeps, 'retryBudget' | 'stats'>,
  code: string,
  method: string,
  replayable: boolean,
  attempts: number,
  retries: number,
): boolean {
  if (attempts > retries || !replayable) return false;
  if (!CONNECT_ERRORS.has(code) && !(RESET_ERRORS.has(code) && IDEMPOTENT_METHODS.has(method))) return false;
  if (deps.retryBudget.tryRetry(performance.now())) return true;
  deps.stats.count('retriesSkipped');
  return false;
}

/** The one routing decision, shared by plain requests and WebSocket upgrades: sticky rules, then the algorithm. */
export function routeRequest(deps: Pick<ProxyDeps, 'sticky' | 'pool' | 'algorithm'>, ctx: RequestContext): { server: Server | undefined; setCookie: string | null } {
  if (deps.sticky === null) return { server: deps.algorithm().pick(deps.pool.servers, ctx), setCookie: null };
  return deps.sticky.route(deps.pool.servers, ctx, deps.algorithm());
}

/** A request's routing context: plain data, as the algorithms want it. */
export function contextOf(req: IncomingMessage): RequestContext {
  return { clientIp: req.socket.remoteAddress ?? '', method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, exclude: null };
}

/** Refusal plus the headers that go with it (Retry-After and RateLimit-* for a 429). */
export interface FrontRefusal extends Refusal {
  headers?: Record<string, string | number>;
}

/**
 * The front door every request passes before routing, plain or upgrade: is it forwardable as it stands
 * (edge/request-check.ts, which also rewrites absolute-form), then the client's rate limit.
 */
export function admit(deps: Pick<ProxyDeps, 'rateLimiter' | 'rateLimitKey'>, options: Pick<ProxyOptions, 'maxHeaders'>, req: IncomingMessage): { ctx: RequestContext; refusal: FrontRefusal | null } {
  const refusal = checkRequest(req, options.maxHeaders);
  const ctx = contextOf(req);
  if (refusal !== null) return { ctx, refusal };
  const limiter = deps.rateLimiter;
  if (limiter !== null) {
    const decision = limiter.take(hashKeyOf(deps.rateLimitKey, ctx), performance.now());
    if (!decision.allowed) {
      const retryAfterS = Math.ceil(decision.retryAfterMs / 1000);
      return {
        ctx,
        refusal: {
          code: 'LB_RATE_LIMITED',
          message: `rate limit of ${limiter.ratePerSecond} request${limiter.ratePerSecond === 1 ? '' : 's'} per second exceeded; retry in ${retryAfterS} s`,
          headers: { 'retry-after': retryAfterS, 'ratelimit-limit': limiter.burst, 'ratelimit-remaining': 0, 'ratelimit-reset': retryAfterS },
        },
      };
    }
  }
  return { ctx, refusal: null };
}

/** What `x-lb-server` carries for this server, or null for no header. */
export function serverLabel(mode: ServerHeaderMode, server: Server): string | null {
  return mode === 'id' ? server.id : mode === 'name' ? server.name : null;
}

export function createProxyHandler(deps: ProxyDeps, options: ProxyOptions): ProxyHandler {
  return (req, res) => {
    let exchange: ProxyExchange | null = null;
    try {
      const { ctx, refusal } = admit(deps, options, req);
      exchange = new ProxyExchange(deps, options, req, res, ctx);
      if (refusal === null) exchange.start();
      else exchange.refuse(refusal);
    } catch (bug) {
      if (exchange !== null) exchange.internalError(bug, 'request');
      else lastResort(deps, res, bug);
    }
  };
}

/** A bug before the exchange existed: count it, log it, answer 502 if still possible. */
function lastResort(deps: Pick<ProxyDeps, 'stats' | 'logger'>, res: ServerResponse, bug: unknown): void {
  deps.stats.count('internalErrors');
  deps.logger.error(`internal error before routing: ${(bug as Error)?.stack ?? String(bug)}`);
  try {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'LB_PROXY_INTERNAL', message: 'internal error in the balancer' } }));
    else res.destroy();
  } catch {
    res.destroy();
  }
}

/** One client request and its attempts; it is also undici's dispatch handler for the current attempt. */
class ProxyExchange implements Dispatcher.DispatchHandler, Waiter {
  readonly #deps: ProxyDeps;
  readonly #options: ProxyOptions;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #ctx: RequestContext;
  readonly #hasBody: boolean;
  readonly #startedAt = performance.now();
  #upstreamHeaders: string[] | null = null;
  #server: Server | null = null;
  /** The server of the latest attempt, kept after the attempt is accounted for: history and metrics name it. */
  #lastServer: Server | null = null;
  #attemptStartedAt = 0;
  #attempts = 0;
  #tried: Set<Server> | null = null;
  #abort: ((err?: Error) => void) | null = null;
  #resume: (() => void) | null = null;
  #status = 0;
  #bytesOut = 0;
  #setCookie: string | null = null;
  #responded = false;
  /** The server sent a 1xx: it has the request, so no retry from here on. */
  #informational = false;
  #waitingForDrain = false;
  #queued = false;
  /** Waited in the queue at some point (for the outcome). */
  #waited = false;
  #done = false;

  readonly #id = ++requestSequence;

  constructor(deps: ProxyDeps, options: ProxyOptions, req: IncomingMessage, res: ServerResponse, ctx: RequestContext) {
    this.#deps = deps;
    this.#options = options;
    this.#req = req;
    this.#res = res;
    this.#hasBody = requestHasBody(req);
    this.#ctx = ctx;
    deps.inflight.count += 1;
    // `on`, not `once`: 'close' fires once per response, and `once` would wrap the handler anew per request.
    res.on('close', this.#onClientClose);
  }

  start(): void {
    this.#deps.retryBudget.recordRequest(this.#startedAt);
    // A listener on the request keeps Node from destroying the socket itself when the timer fires.
    // Disarmed once the body is in: waiting for a slow server is --timeout's business, and an armed
    // timer Node finds unhandled would close the connection.
    if (this.#hasBody && !this.#req.complete) {
      // Closures made only for requests with a body, not per request.
      this.#req.setTimeout(this.#options.clientBodyTimeoutMs, () => this.#onBodyTimeout());
      this.#req.once('end', () => this.#req.setTimeout(0));
    }
    this.#route(false);
  }

  /** Answered by lb itself at the front (400, 431, 429): no server is involved, none is blamed. */
  refuse(refusal: FrontRefusal): void {
    this.#respondWithError(refusal.code, refusal.message, null, refusal.headers);
  }

  /**
   * A bug on the traffic path: this request gets a 502 (or a cut connection once its answer began), the
   * attempt is no verdict on its server, and the balancer goes on. Never throws.
   */
  internalError(bug: unknown, where: string): void {
    const deps = this.#deps;
    try {
      deps.stats.count('internalErrors');
      deps.logger.error(`internal error in ${where}, request #${this.#id} ${this.#ctx.method} ${this.#ctx.path.slice(0, 256)}: ${(bug as Error)?.stack ?? String(bug)}`, {
        request: this.#id,
        method: this.#ctx.method,
        path: this.#ctx.path.slice(0, 256),
        where,
      });
      this.#endAtLb('LB_PROXY_INTERNAL', `internal error in the balancer (request #${this.#id})`);
    } catch {
      this.#res.destroy();
    }
  }

  /** Picks and dispatches; waits in the queue when every usable server is only full (max_conns). */
  #route(requeueAtFront: boolean): void {
    const server = this.#pick();
    if (server !== undefined) {
      this.#dispatch(server);
      return;
    }
    const { pool, queue } = this.#deps;
    if (pool.servers.some((s) => s.isFull() && s.enabled && s.healthy)) {
      if (queue.enqueue(this, requeueAtFront)) {
        this.#queued = true;
        this.#waited = true;
        return;
      }
      this.#respondWithError('LB_QUEUE_FULL', `every server is at max_conns and ${queue.maxLength} requests already wait`, null);
      return;
    }
    this.#respondWithError('LB_NO_AVAILABLE_SERVER', 'no server is available to take the request', null);
  }

  // ---- Waiter (the max_conns queue) ----

  resume(): void {
    this.#queued = false;
    try {
      if (!this.#done) this.#route(true);
    } catch (bug) {
      this.internalError(bug, 'resume');
    }
  }

  expire(): void {
    this.#queued = false;
    if (this.#done) return;
    try {
      this.#respondWithError('LB_QUEUE_TIMEOUT', `no server had a free slot within ${this.#deps.queue.timeoutMs} ms`, null);
    } catch (bug) {
      this.internalError(bug, 'expire');
    }
  }

  #dispatch(server: Server): void {
    this.#server = server;
    this.#lastServer = server;
    this.#attempts += 1;
    if (this.#deps.logger.debugEnabled) {
      const algorithm = this.#deps.algorithm().name;
      this.#deps.logger.debug(`route ${this.#ctx.method} ${this.#ctx.path} -> ${server.id} (${algorithm}, attempt ${this.#attempts})`, {
        request: this.#id,
        method: this.#ctx.method,
        path: this.#ctx.path,
        server: server.id,
        algorithm,
        attempt: this.#attempts,
      });
    }
    // A clock read costs about as much as this whole method's own work: the first attempt of a request that
    // never waited starts when the request did (routing in between takes a microsecond or two).
    this.#attemptStartedAt = this.#attempts === 1 && !this.#waited ? this.#startedAt : performance.now();
    this.#upstreamHeaders ??= buildUpstreamHeaders(this.#req, this.#ctx.clientIp, this.#options.forwardedProto);
    server.requestStarted();
    this.#deps.passive.requestStarted(server);
    this.#deps.upstreams.for(server).dispatch(
      {
        path: this.#ctx.path,
        method: this.#ctx.method,
        headers: this.#upstreamHeaders,
        body: this.#hasBody ? this.#req : null,
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
      },
      this,
    );
  }

  // ---- undici DispatchHandler (legacy callbacks: the core calls them directly, no wrapper per request) ----

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#done) abort();
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    try {
      if (statusCode < 200) {
        this.#informational = true;
        relayInformational(this.#req, this.#res, statusCode, rawHeaders);
        return true;
      }
      this.#responded = true;
      this.#status = statusCode;
      this.#resume = resume;
      const label = serverLabel(this.#options.serverHeader, this.#server!);
      try {
        this.#res.writeHead(statusCode, statusText || undefined, buildResponseHeaders(rawHeaders, statusCode, label, this.#setCookie));
      } catch (err) {
        // Node refuses header bytes the server sent (invalid characters): the answer cannot be relayed.
        this.#abort?.(err instanceof Error ? err : new Error(String(err)));
        return false;
      }
      return true;
    } catch (bug) {
      this.internalError(bug, 'onHeaders');
      return false;
    }
  }

  onData(chunk: Buffer): boolean {
    try {
      this.#bytesOut += chunk.length;
      if (this.#res.write(chunk)) return true;
      if (!this.#waitingForDrain) {
        this.#waitingForDrain = true;
        // Made only when a client is slower than its server, not per request.
        this.#res.once('drain', () => {
          this.#waitingForDrain = false;
          this.#resume?.();
        });
      }
      return false;
    } catch (bug) {
      this.internalError(bug, 'onData');
      return false;
    }
  }

  onComplete(): void {
    try {
      this.#res.end();
      // One clock read for the attempt and the request: they end together.
      const now = performance.now();
      this.#finishAttempt(this.#status < 500 ? 'ok' : 'failed', this.#status >= 500 ? `HTTP ${this.#status}` : null, now);
      this.#finish(this.#status, null, now);
    } catch (bug) {
      this.internalError(bug, 'onComplete');
    }
  }

  onError(err: Error): void {
    // undici re-emits what a handler throws as an 'error' event on a Client nobody can listen to, which
    // would take the process down: a bug here must cost one request, never the balancer.
    try {
      this.#handleError(err);
    } catch (bug) {
      this.internalError(bug, `onError(${errorCodeOf(err)})`);
    }
  }

  #handleError(err: Error): void {
    const failed = this.#server;
    if (this.#done) {
      // The client went away and we aborted the upstream request: not the server's fault.
      this.#finishAttempt('abandoned', null);
      return;
    }
    const code = errorCodeOf(err);
    if (this.#responded && code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' && (this.#status === 204 || this.#status === 304)) {
      // RFC 9110 §6.4.1: these answers end at their headers whatever Content-Length says (a 304 may
      // legally carry the length of the 200 it stands for); undici counts the missing body as an error.
      this.onComplete();
      return;
    }
    if (CLIENT_FAULT_ERRORS.has(code) && !this.#responded && failed !== null) {
      this.#finishAttempt('abandoned', null);
      this.#respondWithError('LB_BAD_REQUEST', `request cannot be forwarded: ${err.message}`, null);
      return;
    }
    const lbCode = classify(code);
    this.#finishAttempt('failed', failureName(code));
    if (this.#responded || failed === null) {
      // Part of the answer is already on its way: the only honest signal left is a cut connection.
      this.#res.destroy(err);
      this.#finish(this.#status, lbCode);
      return;
    }
    if (this.#canRetry(code)) {
      const tried = (this.#tried ??= new Set());
      tried.add(failed);
      this.#ctx.exclude = tried;
      const next = this.#pick();
      if (next !== undefined) {
        this.#deps.logger.debug(`retry ${this.#ctx.method} ${this.#ctx.path}: ${failed.id} failed (${code}), trying ${next.id}`, {
          request: this.#id,
          method: this.#ctx.method,
          path: this.#ctx.path,
          server: failed.id,
          error: failureName(code),
          next: next.id,
        });
        this.#dispatch(next);
        return;
      }
    }
    this.#respondWithError(lbCode, upstreamFailureMessage(this.#options, failed, lbCode, code), serverLabel(this.#options.serverHeader, failed));
  }

  // ---- internals ----

  #pick(): Server | undefined {
    const { sticky, pool } = this.#deps;
    if (sticky === null) return this.#deps.algorithm().pick(pool.servers, this.#ctx);
    const route = routeRequest(this.#deps, this.#ctx);
    this.#setCookie = route.setCookie;
    return route.server;
  }

  #canRetry(code: string): boolean {
    if (this.#informational) return false;
    const replayable = !this.#hasBody || !this.#req.readableDidRead;
    return mayRetry(this.#deps, code, this.#ctx.method, replayable, this.#attempts, this.#options.retries);
  }

  /** The client stopped sending its body: its fault, not the server's (which is released with no verdict). */
  #onBodyTimeout(): void {
    if (this.#req.complete || this.#done) return;
    try {
      this.#leaveQueue();
      this.#endAtLb('LB_CLIENT_TIMEOUT', `no request body byte for ${this.#options.clientBodyTimeoutMs} ms`, { connection: 'close' });
    } catch (bug) {
      this.internalError(bug, 'body timeout');
    }
  }

  readonly #onClientClose = (): void => {
    this.#deps.inflight.count -= 1;
    try {
      this.#leaveQueue();
      if (this.#res.writableFinished || this.#done) return;
      // The client went away before its answer was complete: stop the server's work too. Before any answer
      // it is recorded as 499, nginx's "client closed request": not a server failure.
      this.#finish(this.#responded ? this.#status : httpStatusOf('LB_CLIENT_GONE'), 'LB_CLIENT_GONE');
      this.#abort?.(new Error('client closed the connection'));
    } catch (bug) {
      this.internalError(bug, 'client close');
    }
  };

  #leaveQueue(): void {
    if (!this.#queued) return;
    this.#deps.queue.remove(this);
    this.#queued = false;
  }

  /**
   * Ends the request on lb's side (a bug, a stalled client): the attempt is no verdict on its server, the
   * client gets `code` as an answer, or a cut connection once its answer began, and the server request
   * is aborted last, since undici may call onError from inside abort and must find the request done.
   */
  #endAtLb(code: LbErrorCode, message: string, extra?: Record<string, string | number>): void {
    this.#finishAttempt('abandoned', null);
    if (this.#res.headersSent) {
      this.#res.destroy();
      this.#finish(this.#status, code);
    } else {
      this.#respondWithError(code, message, null, extra);
    }
    this.#abort?.(new Error(message));
  }

  /** Accounts for the current attempt once; 'abandoned' is no verdict on the server (client gone, bug). */
  #finishAttempt(outcome: 'ok' | 'failed' | 'abandoned', error: string | null, nowMs?: number): void {
    const server = this.#server;
    if (server === null) return;
    this.#server = null;
    const now = nowMs ?? performance.now();
    server.requestFinished(outcome !== 'failed', now - this.#attemptStartedAt, error, now);
    if (outcome === 'abandoned') this.#deps.passive.abandon(server);
    else this.#deps.passive.record(server, outcome === 'ok', error);
    // A slot freed on this server: the longest-waiting queued request may take it.
    if (this.#deps.queue.length > 0) this.#deps.queue.wake();
  }

  #respondWithError(code: LbErrorCode, message: string, serverId: string | null, extra?: Record<string, string | number>): void {
    const status = httpStatusOf(code);
    const body = JSON.stringify({ error: { code, message } });
    const res = this.#res;
    if (!res.headersSent && !res.destroyed) {
      const headers: Record<string, string | number> = {
        ...extra,
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      };
      if (serverId !== null) headers['x-lb-server'] = serverId;
      // A retry later may help for 503 (no server) as it does behind nginx or HAProxy.
      if (status === 503) headers['retry-after'] = 1;
      res.writeHead(status, headers);
      res.end(body);
      this.#bytesOut += body.length;
    }
    this.#finish(status, code);
  }

  #finish(status: number, error: LbErrorCode | null, nowMs?: number): void {
    if (this.#done) return;
    this.#done = true;
    const ctx = this.#ctx;
    this.#deps.finished({
      kind: 'http',
      method: ctx.method,
      path: ctx.path,
      clientIp: ctx.clientIp,
      server: this.#lastServer,
      status,
      attempts: this.#attempts,
      queued: this.#waited,
      durationMs: (nowMs ?? performance.now()) - this.#startedAt,
      bytesOut: this.#bytesOut,
      error,
    });
  }
}

function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  if (length !== undefined) return length !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

/** The client's headers minus hop-by-hop ones (and those its Connection header names), plus X-Forwarded-*. */
export function buildUpstreamHeaders(req: IncomingMessage, clientIp: string, proto: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  const connection = req.headers.connection;
  const named = connection !== undefined && connection !== 'keep-alive' && connection !== 'close' ? connectionTokens(connection) : null;
  let forwardedFor: string | null = null;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (named === null && !mayBeNamed(name)) {
      out.push(name, raw[i + 1]!);
      continue;
    }
    const lower = name.toLowerCase();
    // A Connection header may name hop-by-hop fields to drop, but never the request's own framing or Host.
    if (HOP_BY_HOP.has(lower) || (named !== null && named.has(lower) && !END_TO_END.has(lower))) continue;
    if (lower === 'x-forwarded-for') {
      forwardedFor = forwardedFor === null ? raw[i + 1]! : `${forwardedFor}, ${raw[i + 1]!}`;
      continue;
    }
    if (lower === 'x-forwarded-proto' || lower === 'x-forwarded-host') continue; // set below, not trusted from clients
    out.push(name, raw[i + 1]!);
  }
  out.push('x-forwarded-for', forwardedFor === null ? clientIp : `${forwardedFor}, ${clientIp}`);
  out.push('x-forwarded-proto', proto);
  const host = req.headers.host;
  if (host !== undefined) out.push('x-forwarded-host', host);
  return out;
}

/** The error body's message: names the server only when the operator asked for debug detail. */
export function upstreamFailureMessage(options: Pick<ProxyOptions, 'revealServerInErrors' | 'timeoutMs'>, server: Server, lbCode: LbErrorCode, code: string): string {
  const who = options.revealServerInErrors ? `server ${server.id}` : 'the server';
  if (lbCode === 'LB_UPSTREAM_TIMEOUT') return `${who} did not answer within ${options.timeoutMs} ms`;
  if (lbCode === 'LB_UPSTREAM_BAD_RESPONSE') return `${who} sent an answer that is not valid HTTP, or one that cannot be relayed such as an unsolicited 100 Continue`;
  return `${who} failed: ${failureName(code)}`;
}

/**
 * A 1xx before the final answer, passed on as nginx and HAProxy do: 103 Early Hints and 102 Processing
 * (Node writes both); other 1xx are dropped. Never to an HTTP/1.0 client, which cannot read them.
 */
function relayInformational(req: IncomingMessage, res: ServerResponse, statusCode: number, rawHeaders: Buffer[]): void {
  if (req.httpVersionMajor < 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor === 0) || res.headersSent) return;
  if (statusCode === 102) {
    res.writeProcessing();
    return;
  }
  if (statusCode !== 103) return;
  const hints: Record<string, string | string[]> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toString('latin1').toLowerCase();
    if (HOP_BY_HOP.has(name) || name === 'content-length') continue;
    const value = rawHeaders[i + 1]!.toString('latin1');
    const seen = hints[name];
    hints[name] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  try {
    res.writeEarlyHints(hints);
  } catch {
    // Node checks Link values strictly; hints are optional, the final answer still follows.
  }
}

/** The server's headers minus hop-by-hop ones, as the flat [name, value, ...] list writeHead takes as is. */
function buildResponseHeaders(rawHeaders: Buffer[], status: number, serverLabel: string | null, setCookie: string | null): string[] {
  const out: string[] = [];
  let named: Set<string> | null = null;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = latin1Of(rawHeaders[i]!);
    if (!mayBeNamed(name)) {
      out.push(name, latin1Of(rawHeaders[i + 1]!));
      continue;
    }
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      const value = latin1Of(rawHeaders[i + 1]!);
      if (value !== 'keep-alive' && value !== 'close') named = connectionTokens(value);
      continue;
    }
    if (HOP_BY_HOP.has(lower) || lower === 'x-lb-server') continue;
    // RFC 9110 §8.6: a 204 has no Content-Length (a 304's is the length of the 200 it stands for: kept).
    if (status === 204 && lower === 'content-length') continue;
    out.push(name, latin1Of(rawHeaders[i + 1]!));
  }
  if (named !== null) {
    for (let i = out.length - 2; i >= 0; i -= 2) if (named.has(out[i]!.toLowerCase())) out.splice(i, 2);
  }
  if (serverLabel !== null) out.push('x-lb-server', serverLabel);
  if (setCookie !== null) out.push('set-cookie', setCookie);
  return out;
}

/**
 * Answer header bytes seen recently, as strings, in a fixed table of 1 024 slots (at most 64 bytes each):
 * a server sends the same names and mostly the same values answer after answer, and turning bytes into a
 * string is a call into C++ each time, ten per answer. A slot is found by length and first and last byte,
 * and used only when every byte matches, so the result is exactly `toString('latin1')`'s, whatever a
 * server sends; a miss decodes and takes the slot.
 */
const LATIN1_SLOTS = 1024;
const LATIN1_MAX_BYTES = 64;
const latin1Table: (string | undefined)[] = new Array<string | undefined>(LATIN1_SLOTS).fill(undefined);

function latin1Of(bytes: Buffer): string {
  const length = bytes.length;
  if (length === 0 || length > LATIN1_MAX_BYTES) return bytes.toString('latin1');
  const slot = (length * 961 + bytes[0]! * 31 + bytes[length - 1]!) & (LATIN1_SLOTS - 1);
  const seen = latin1Table[slot];
  if (seen !== undefined && seen.length === length) {
    let i = 1;
    while (i < length && seen.charCodeAt(i) === bytes[i]) i++;
    if (i === length && seen.charCodeAt(0) === bytes[0]) return seen;
  }
  const text = bytes.toString('latin1');
  latin1Table[slot] = text;
  return text;
}

function connectionTokens(value: string): Set<string> {
  return new Set(value.split(',').map((t) => t.trim().toLowerCase()));
}

export function errorCodeOf(err: Error): string {
  // undici's parser could not read what the server sent (its llhttp code, when it has one, says where).
  if (err.name === 'HTTPParserError') return BAD_RESPONSE;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === 'UND_ERR_SOCKET') {
      // undici wraps the socket's own error; its code (ECONNRESET, EPIPE) says more.
      const causeCode = (err.cause as { code?: unknown } | undefined)?.code;
      if (typeof causeCode === 'string') return causeCode;
      // undici's parser gave up on what the server sent: not a reset, and the server did see the request.
      if (err.message === 'bad response' || err.message === 'bad upgrade') return BAD_RESPONSE;
    }
    return code;
  }
  return err.name || 'Error';
}

/**
 * A failure in words the operator reads in events, `lastError` and error bodies: system codes
 * (ECONNREFUSED, ECONNRESET...) are universal and stay; the upstream library's own codes do not leak.
 */
const FAILURE_NAMES: Record<string, string> = {
  UND_ERR_CONNECT_TIMEOUT: 'connect timeout',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'answer stalled',
  UND_ERR_SOCKET: 'connection closed',
  UND_ERR_CLOSED: 'connection closed',
  UND_ERR_HEADERS_OVERFLOW: 'answer headers too large',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'answer shorter than its Content-Length',
  UND_ERR_RESPONSE_EXCEEDED_MAX_SIZE: 'answer too large',
  [BAD_RESPONSE]: 'unreadable answer',
};

export function failureName(code: string): string {
  return FAILURE_NAMES[code] ?? (code.startsWith('UND_ERR_') ? 'upstream error' : code);
}

/** What a server's error code means for the client: 504 for timeouts, 502 otherwise. */
export function classify(code: string): LbErrorCode {
  if (TIMEOUT_ERRORS.has(code)) return 'LB_UPSTREAM_TIMEOUT';
  if (CONNECT_ERRORS.has(code)) return 'LB_UPSTREAM_CONNECT';
  if (code === BAD_RESPONSE) return 'LB_UPSTREAM_BAD_RESPONSE';
  return 'LB_UPSTREAM_ERROR';
}
