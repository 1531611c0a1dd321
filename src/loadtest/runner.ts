/**
 * The load engine. Requests go out on undici's Pool through its core dispatch interface (one small
 * handler object per request, no promise or stream per request): measured on this machine class, undici
 * with p-limit reaches ~40k req/s where got manages ~2.9k, and the bare dispatch loop is faster still.
 *
 * Closed loop (default): `concurrency` virtual clients, each sending its next request when the last one
 * finished. Open loop (`rateRps`): requests are due on a fixed schedule whatever the server does; a due
 * request waits for a free client when all are busy, and its latency counts from when it was due, so a
 * stalled server cannot hide its latency (coordinated omission).
 *
 * Counts are exact: `issued` goes up once per request sent, and each one ends exactly once as completed,
 * failed or (after stop()) cancelled. Concurrency never exceeds `concurrency`: a request needs a free
 * virtual client to go out. Every table is bounded (servers tracked, timeline seconds, backlog).
 */
import { EventEmitter } from 'node:events';
import { Pool, type Dispatcher } from 'undici';
import { LatencyRecorder } from './histogram.js';

export interface LoadOptions {
  url: URL;
  /**
   * Several entry points (the instances of a cluster, `--url A --url B`): requests go to each in turn,
   * and the result counts them per entry point. Absent or one: `url` only.
   */
  entryPoints?: readonly URL[];
  /** Stop after this many requests... */
  requests: number | null;
  /** ...or after this long (ms). One of the two is set. */
  durationMs: number | null;
  concurrency: number;
  /** Open loop: requests per second on a fixed schedule; null = closed loop. */
  rateRps: number | null;
  method: string;
  /** Flat [name, value, ...]. */
  headers: string[];
  body: Buffer | null;
  timeoutMs: number;
  /** Paths (with query) to spread requests over, in turn; empty = the URL's own path. */
  paths: string[];
  /** Keep a cookie jar per virtual client and report clients that reached more than one server. */
  cookies: boolean;
  /** Count requests per server per second. */
  timeline: boolean;
  /** HTTPS: accept any certificate (self-signed test setups). */
  insecure: boolean;
}

export type ErrorKind = 'connect refused' | 'timeout' | 'reset' | 'dns' | 'tls' | 'other';

export interface ServerTally {
  requests: number;
  errors: number;
  latency: LatencyRecorder;
}

export interface TimelineSecond {
  second: number;
  servers: Map<string, number>;
  errors: number;
}

export interface RunResult {
  startedAt: Date;
  elapsedMs: number;
  issued: number;
  /** Requests answered (any status). */
  completed: number;
  /** Requests that got no answer (connect refused, timeout, reset...). */
  errored: number;
  cancelled: number;
  interrupted: boolean;
  statuses: Map<number, number>;
  errors: Map<ErrorKind, number>;
  /** One example message per error kind. */
  errorExamples: Map<ErrorKind, string>;
  bytesIn: number;
  latency: LatencyRecorder;
  servers: Map<string, ServerTally>;
  /** Responses that named no server (no x-lb-server header, no `server` in a JSON body). */
  unattributed: number;
  maxInFlight: number;
  timeline: TimelineSecond[] | null;
  stickiness: { clients: number; violations: number } | null;
  /** Per path, when --path spreads requests over several (at most MAX_PATHS_TRACKED, the rest as "(other)"). */
  paths: Map<string, PathTally> | null;
  /** Per entry point (its URL), when there are several. */
  entryPoints: Map<string, PathTally> | null;
}

export interface PathTally {
  requests: number;
  /** No answer, or an answer of 400 and above. */
  failures: number;
  latency: LatencyRecorder;
}

/** Each tracked path keeps a latency recorder (~110 KB): bounded. */
export const MAX_PATHS_TRACKED = 20;

export interface Progress {
  issued: number;
  done: number;
  errors: number;
  elapsedMs: number;
  /** Completions per second over the last progress period. */
  currentRps: number;
}

/** Distinct server names tracked one by one; more are pooled as "(other)". */
export const MAX_SERVERS_TRACKED = 100;
const MAX_TIMELINE_SECONDS = 3600;
const MAX_BACKLOG = 1_000_000;
/** JSON bodies read for a `server` field when the answer carries no x-lb-server header. */
const MAX_SNIFF_BYTES = 16 * 1024;
const OTHER = '(other)';

class VirtualClient {
  readonly id: number;
  jar: Map<string, string> | null;
  servers: Set<string> | null;

  constructor(id: number, cookies: boolean) {
    this.id = id;
    this.jar = cookies ? new Map() : null;
    this.servers = cookies ? new Set() : null;
  }
}

export class LoadRun extends EventEmitter<{ progress: [Progress] }> {
  readonly #o: LoadOptions;
  /** One pool per entry point (one in the usual case). */
  readonly #pools: Pool[];
  readonly #targets: URL[];
  readonly #idle: VirtualClient[];
  readonly #clients: VirtualClient[];
  readonly #backlog: number[] = [];
  readonly #result: RunResult;
  readonly #path: string;
  #startMs = 0;
  #deadlineMs = Infinity;
  #scheduled = 0;
  #inFlight = 0;
  #stopping = false;
  #finished = false;
  #ticker: NodeJS.Timeout | null = null;
  #progressTimer: NodeJS.Timeout | null = null;
  #lastProgress = { atMs: 0, done: 0 };
  #resolve: (result: RunResult) => void = () => undefined;
  readonly #abortAll = new Set<(err?: Error) => void>();

  constructor(options: LoadOptions) {
    super();
    this.#o = options;
    this.#targets = options.entryPoints !== undefined && options.entryPoints.length > 1 ? [...options.entryPoints] : [options.url];
    this.#pools = this.#targets.map(
      (target) =>
        new Pool(target.origin, {
          connections: options.concurrency,
          pipelining: 1,
          connectTimeout: options.timeoutMs,
          keepAliveTimeout: 30_000,
          ...(options.insecure ? { connect: { rejectUnauthorized: false } } : {}),
        }),
    );
    this.#clients = Array.from({ length: options.concurrency }, (_, i) => new VirtualClient(i, options.cookies));
    this.#idle = [...this.#clients].reverse();
    this.#path = `${options.url.pathname}${options.url.search}`;
    this.#result = {
      startedAt: new Date(),
      elapsedMs: 0,
      issued: 0,
      completed: 0,
      errored: 0,
      cancelled: 0,
      interrupted: false,
      statuses: new Map(),
      errors: new Map(),
      errorExamples: new Map(),
      bytesIn: 0,
      latency: new LatencyRecorder(),
      servers: new Map(),
      unattributed: 0,
      maxInFlight: 0,
      timeline: options.timeline ? [] : null,
      stickiness: null,
      paths: options.paths.length > 1 ? new Map() : null,
      entryPoints: this.#targets.length > 1 ? new Map(this.#targets.map((t) => [t.href, { requests: 0, failures: 0, latency: new LatencyRecorder() }])) : null,
    };
  }

  /** Runs to the request count or the duration; resolves with the raw result. */
  run(): Promise<RunResult> {
    const done = new Promise<RunResult>((resolve) => (this.#resolve = resolve));
    this.#startMs = performance.now();
    this.#result.startedAt = new Date();
    this.#lastProgress = { atMs: this.#startMs, done: 0 };
    if (this.#o.durationMs !== null) this.#deadlineMs = this.#startMs + this.#o.durationMs;
    this.#progressTimer = setInterval(() => this.#emitProgress(), 250);
    if (this.#o.rateRps !== null) {
      // Timers fire at best every ~1 ms: each tick sends every request that has come due since the last.
      this.#ticker = setInterval(() => this.#tick(), 1);
      this.#tick();
    } else {
      this.#pump();
    }
    return done;
  }

  /** Ctrl-C: send nothing more, give in-flight requests `graceMs` to finish, then cut them. */
  stop(graceMs = 1000): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#result.interrupted = true;
    this.#backlog.length = 0;
    this.#maybeFinish();
    if (!this.#finished) {
      setTimeout(() => {
        for (const abort of [...this.#abortAll]) abort(new Error('load test stopped'));
      }, graceMs).unref();
    }
  }

  #mayIssue(now: number): boolean {
    if (this.#stopping) return false;
    if (this.#o.requests !== null) return this.#scheduled < this.#o.requests;
    return now < this.#deadlineMs;
  }

  #tick(): void {
    const now = performance.now();
    const rate = this.#o.rateRps!;
    const due = Math.floor(((now - this.#startMs) * rate) / 1000) + 1;
    while (this.#scheduled < due && this.#mayIssue(this.#startMs + (this.#scheduled * 1000) / rate)) {
      const at = this.#startMs + (this.#scheduled * 1000) / rate;
      this.#scheduled += 1;
      if (this.#backlog.length < MAX_BACKLOG) this.#backlog.push(at);
    }
    this.#pump();
  }

  #pump(): void {
    while (this.#idle.length > 0) {
      let startAt: number;
      if (this.#o.rateRps !== null) {
        if (this.#backlog.length === 0) break;
        startAt = this.#backlog.shift()!;
      } else {
        const now = performance.now();
        if (!this.#mayIssue(now)) break;
        this.#scheduled += 1;
        startAt = now;
      }
      this.#send(this.#idle.pop()!, startAt);
    }
    this.#maybeFinish();
  }

  #send(client: VirtualClient, startAt: number): void {
    const r = this.#result;
    const index = r.issued;
    r.issued += 1;
    this.#inFlight += 1;
    if (this.#inFlight > r.maxInFlight) r.maxInFlight = this.#inFlight;
    const paths = this.#o.paths;
    let headers = this.#o.headers;
    if (client.jar !== null && client.jar.size > 0) {
      headers = [...headers, 'cookie', [...client.jar].map(([k, v]) => `${k}=${v}`).join('; ')];
    }
    const entry = index % this.#targets.length;
    const target = this.#targets[entry]!;
    const path = paths.length === 0 ? (entry === 0 ? this.#path : `${target.pathname}${target.search}`) : paths[index % paths.length]!;
    const handler = new Exchange(this, client, startAt, path, entry);
    this.#pools[entry]!.dispatch(
      {
        path,
        method: this.#o.method,
        headers,
        body: this.#o.body,
        headersTimeout: this.#o.timeoutMs,
        bodyTimeout: this.#o.timeoutMs,
      },
      handler,
    );
  }

  // ---- called by Exchange ----

  trackAbort(abort: (err?: Error) => void): void {
    this.#abortAll.add(abort);
  }

  finished(exchange: Exchange, status: number, server: string | null, bytes: number, error: Error | null): void {
    const r = this.#result;
    const now = performance.now();
    if (exchange.abort !== null) this.#abortAll.delete(exchange.abort);
    this.#inFlight -= 1;
    r.bytesIn += bytes;
    const latencyMs = now - exchange.startAt;
    let kind: ErrorKind | null = null;
    if (error !== null) {
      if (this.#stopping && /load test stopped/.test(error.message)) {
        r.cancelled += 1;
      } else {
        kind = classify(error);
        r.errored += 1;
        r.errors.set(kind, (r.errors.get(kind) ?? 0) + 1);
        if (!r.errorExamples.has(kind)) r.errorExamples.set(kind, describe(error));
        r.latency.record(latencyMs);
      }
    } else {
      r.completed += 1;
      r.statuses.set(status, (r.statuses.get(status) ?? 0) + 1);
      r.latency.record(latencyMs);
    }
    const failed = kind !== null || status >= 400;
    if (error === null || kind !== null) {
      this.#attribute(exchange.client, server, latencyMs, failed, now);
      if (r.paths !== null) this.#attributePath(r.paths, exchange.path, latencyMs, failed);
      if (r.entryPoints !== null) this.#attributePath(r.entryPoints, this.#targets[exchange.entry]!.href, latencyMs, failed);
    }
    this.#idle.push(exchange.client);
    if (this.#o.rateRps === null || this.#backlog.length > 0) this.#pump();
    else this.#maybeFinish();
  }

  #attributePath(paths: Map<string, PathTally>, path: string, latencyMs: number, failed: boolean): void {
    const key = paths.has(path) || paths.size < MAX_PATHS_TRACKED ? path : OTHER;
    let tally = paths.get(key);
    if (tally === undefined) {
      tally = { requests: 0, failures: 0, latency: new LatencyRecorder() };
      paths.set(key, tally);
    }
    tally.requests += 1;
    if (failed) tally.failures += 1;
    tally.latency.record(latencyMs);
  }

  #attribute(client: VirtualClient, server: string | null, latencyMs: number, failed: boolean, now: number): void {
    const r = this.#result;
    let name = server;
    if (name === null) {
      if (!failed) r.unattributed += 1;
    } else {
      if (!r.servers.has(name) && r.servers.size >= MAX_SERVERS_TRACKED) name = OTHER;
      let tally = r.servers.get(name);
      if (tally === undefined) {
        tally = { requests: 0, errors: 0, latency: new LatencyRecorder() };
        r.servers.set(name, tally);
      }
      tally.requests += 1;
      if (failed) tally.errors += 1;
      tally.latency.record(latencyMs);
      if (client.servers !== null && client.servers.size < MAX_SERVERS_TRACKED) client.servers.add(name);
    }
    if (r.timeline !== null) {
      const second = Math.floor((now - this.#startMs) / 1000);
      if (second < MAX_TIMELINE_SECONDS) {
        while (r.timeline.length <= second) r.timeline.push({ second: r.timeline.length, servers: new Map(), errors: 0 });
        const bucket = r.timeline[second]!;
        if (failed) bucket.errors += 1;
        if (name !== null) bucket.servers.set(name, (bucket.servers.get(name) ?? 0) + 1);
      }
    }
  }

  #maybeFinish(): void {
    if (this.#finished || this.#inFlight > 0) return;
    const now = performance.now();
    const moreToCome = this.#o.rateRps !== null ? this.#backlog.length > 0 || this.#mayIssue(now) : this.#mayIssue(now);
    if (moreToCome) {
      // Duration mode, closed loop with every client idle cannot happen; open loop waits for its next tick.
      return;
    }
    this.#finished = true;
    if (this.#ticker !== null) clearInterval(this.#ticker);
    if (this.#progressTimer !== null) clearInterval(this.#progressTimer);
    const r = this.#result;
    r.elapsedMs = now - this.#startMs;
    if (this.#o.cookies) {
      const used = this.#clients.filter((c) => c.servers!.size > 0);
      r.stickiness = { clients: used.length, violations: used.filter((c) => c.servers!.size > 1).length };
    }
    this.#emitProgress();
    for (const pool of this.#pools) void pool.destroy().catch(() => undefined);
    this.#resolve(r);
  }

  #emitProgress(): void {
    const now = performance.now();
    const r = this.#result;
    const done = r.completed + r.errored + r.cancelled;
    const seconds = (now - this.#lastProgress.atMs) / 1000;
    const currentRps = seconds > 0 ? (done - this.#lastProgress.done) / seconds : 0;
    this.#lastProgress = { atMs: now, done };
    this.emit('progress', { issued: r.issued, done, errors: r.errored, elapsedMs: now - this.#startMs, currentRps });
  }
}

/** undici's handler for one request: reads status, the x-lb-server header, cookies; counts body bytes. */
class Exchange implements Dispatcher.DispatchHandler {
  readonly client: VirtualClient;
  readonly startAt: number;
  readonly path: string;
  /** Which entry point it went to. */
  readonly entry: number;
  abort: ((err?: Error) => void) | null = null;
  readonly #run: LoadRun;
  #status = 0;
  #server: string | null = null;
  #bytes = 0;
  #sniff: Buffer[] | null = null;
  #done = false;

  constructor(run: LoadRun, client: VirtualClient, startAt: number, path: string, entry: number) {
    this.#run = run;
    this.client = client;
    this.startAt = startAt;
    this.path = path;
    this.entry = entry;
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abort = abort;
    this.#run.trackAbort(abort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    if (statusCode < 200) return true;
    this.#status = statusCode;
    let json = false;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (name.length === 11 && name.toString('latin1').toLowerCase() === 'x-lb-server') {
        this.#server = rawHeaders[i + 1]!.toString('latin1');
      } else if (name.length === 12 && name.toString('latin1').toLowerCase() === 'content-type') {
        json = rawHeaders[i + 1]!.toString('latin1').includes('json');
      } else if (this.client.jar !== null && name.length === 10 && name.toString('latin1').toLowerCase() === 'set-cookie') {
        const pair = rawHeaders[i + 1]!.toString('latin1').split(';', 1)[0]!;
        const eq = pair.indexOf('=');
        if (eq > 0) this.client.jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
      }
    }
    if (this.#server === null && json) this.#sniff = [];
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytes += chunk.length;
    if (this.#sniff !== null && this.#bytes <= MAX_SNIFF_BYTES) this.#sniff.push(chunk);
    return true;
  }

  onComplete(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#sniff !== null && this.#bytes <= MAX_SNIFF_BYTES) this.#server = serverFromJson(Buffer.concat(this.#sniff));
    this.#run.finished(this, this.#status, this.#server, this.#bytes, null);
  }

  onError(err: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#run.finished(this, this.#status, this.#server, this.#bytes, err);
  }
}

function serverFromJson(body: Buffer): string | null {
  try {
    const parsed: unknown = JSON.parse(body.toString('utf8'));
    if (parsed && typeof parsed === 'object' && 'server' in parsed && typeof parsed.server === 'string') return parsed.server;
  } catch {
    // Not JSON after all: no server name.
  }
  return null;
}

function codeOf(err: Error): string {
  const code = (err as { code?: unknown }).code;
  const cause = (err.cause as { code?: unknown } | undefined)?.code;
  return typeof cause === 'string' ? cause : typeof code === 'string' ? code : err.name;
}

export function classify(err: Error): ErrorKind {
  const code = codeOf(err);
  if (code === 'ECONNREFUSED') return 'connect refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  if (/TIMEOUT/.test(code) || code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET' || code === 'UND_ERR_CLOSED') return 'reset';
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) return 'tls';
  return 'other';
}

function describe(err: Error): string {
  return `${codeOf(err)}: ${err.message}`;
}
