/**
 * Active health checks, split in three as Caddy does: `probe` checks one server once, `runRound` checks
 * every server once and applies rise/fall, and `start` schedules rounds. Tests call `runRound` directly.
 *
 * Probes use their own connection per server, so they never queue behind real traffic on a busy pool; a
 * probe that hangs fails at `timeoutMs`; a server whose previous probe is still running is skipped, so
 * checks of one server never overlap. Only real transitions are reported, as verdicts the control plane
 * applies (it also closes the circuit of a server that comes back up).
 */
import type { Dispatcher, Pool } from 'undici';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import { errorCodeOf, failureName } from '../proxy.js';
import { DEFAULT_KEEP_ALIVE_MS, upstreamPool, type UpstreamTls } from '../upstreams.js';
import { HealthState } from './health-state.js';

export interface HealthCheckConfig {
  enabled: boolean;
  /** tcp: a connect succeeds; http: GET `path`; null: tcp in tcp mode, http otherwise (see effectiveCheckType). */
  type: 'tcp' | 'http' | null;
  path: string;
  intervalMs: number;
  timeoutMs: number;
  /** Consecutive failures that take a server out (the seed's `retries`). */
  fall: number;
  /** Consecutive successes that bring it back. */
  rise: number;
  /** Status codes that pass, inclusive. Default 200-399 (HAProxy's 2xx and 3xx). */
  expectedStatus: { min: number; max: number };
  /** Servers start in rotation before their first check, as nginx and Traefik do. */
  startHealthy: boolean;
  /** With a store: live instances that must see a server down before it leaves rotation; 0 = own checks only. */
  quorum: number;
}

export interface ProbeResult {
  ok: boolean;
  /** `HTTP 200`, or the error code. */
  detail: string;
  durationMs: number;
}

const PROBE_HEADERS = ['user-agent', 'lb-health-check'];

/**
 * The most of an answer's body a probe reads. Its status is the verdict; past this the connection is
 * dropped rather than read to the end, so a server streaming without end (or a huge health page) costs
 * a probe no more than this, as HAProxy's check buffer (tune.chksize) bounds its checks.
 */
export const PROBE_BODY_LIMIT = 128 * 1024;

/**
 * One HTTP check, dispatched the way the proxy dispatches (a handler object, the answer's body discarded
 * as it arrives) rather than with undici's `request()`: see upstreamPool for why the shape matters.
 */
export function probe(config: HealthCheckConfig, pool: Dispatcher): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const handler = new ProbeHandler(config, performance.now(), resolve);
    pool.dispatch(
      { path: config.path, method: 'GET', headers: PROBE_HEADERS, body: null, headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs },
      handler,
    );
  });
}

/** undici dispatch handler for one probe: settles once, on the whole answer, an error or the deadline. */
class ProbeHandler implements Dispatcher.DispatchHandler {
  readonly #config: HealthCheckConfig;
  readonly #startedAt: number;
  readonly #resolve: (result: ProbeResult) => void;
  readonly #deadline: NodeJS.Timeout;
  #abort: ((err?: Error) => void) | null = null;
  #status = 0;
  #bodyBytes = 0;
  #settled = false;

  constructor(config: HealthCheckConfig, startedAt: number, resolve: (result: ProbeResult) => void) {
    this.#config = config;
    this.#startedAt = startedAt;
    this.#resolve = resolve;
    // undici's own timeouts start once the request is written; this one also covers a connect that hangs.
    this.#deadline = setTimeout(() => {
      this.#settle(false, this.#timeoutDetail());
      this.#abort?.();
    }, config.timeoutMs);
  }

  onConnect(abort: (err?: Error) => void): void {
    this.#abort = abort;
    if (this.#settled) abort();
  }

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.#status = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bodyBytes += chunk.length;
    if (this.#bodyBytes <= PROBE_BODY_LIMIT) return true;
    this.#settleOnStatus();
    this.#abort?.();
    return false;
  }

  onComplete(): void {
    this.#settleOnStatus();
  }

  #settleOnStatus(): void {
    const { min, max } = this.#config.expectedStatus;
    this.#settle(this.#status >= min && this.#status <= max, `HTTP ${this.#status}`);
  }

  onError(err: Error): void {
    const code = errorCodeOf(err);
    this.#settle(false, code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' ? this.#timeoutDetail() : failureName(code));
  }

  #timeoutDetail(): string {
    return `timeout after ${this.#config.timeoutMs} ms`;
  }

  #settle(ok: boolean, detail: string): void {
    if (this.#settled) return;
    this.#settled = true;
    clearTimeout(this.#deadline);
    this.#resolve({ ok, detail, durationMs: performance.now() - this.#startedAt });
  }
}

/** A server passed `rise` checks (healthy) or failed `fall` checks (not) in a row. */
export type HealthVerdictSink = (server: Server, healthy: boolean, detail: string) => void;

/** Checks one server once; the HTTP probe by default, tcp/health-probe.ts's connect probe in tcp mode. */
export type Prober = (server: Server, config: HealthCheckConfig) => Promise<ProbeResult>;

export class ActiveHealthChecker {
  readonly #pool: ServerPool;
  readonly #probe: Prober;
  readonly #config: HealthCheckConfig;
  readonly #onVerdict: HealthVerdictSink;
  readonly #tls: UpstreamTls;
  /** One connection per server, kept alive between checks, apart from the traffic pools. */
  readonly #pools = new Map<Server, Pool>();
  readonly #states = new Map<Server, HealthState>();
  readonly #inFlight = new Set<Server>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(pool: ServerPool, config: HealthCheckConfig, onVerdict: HealthVerdictSink, tls: UpstreamTls = { ca: null, rejectUnauthorized: true }, prober?: Prober) {
    this.#pool = pool;
    this.#probe = prober ?? ((server, c) => probe(c, this.#poolFor(server)));
    this.#config = config;
    this.#onVerdict = onVerdict;
    this.#tls = tls;
    pool.on('server-removed', this.#forget);
  }

  /** Checks every server once (those still being checked are skipped) and applies rise/fall. */
  async runRound(): Promise<void> {
    await Promise.all(this.#pool.servers.map((server) => this.#check(server)));
  }

  start(): void {
    if (this.#timer !== null || this.#closed) return;
    const tick = (): void => {
      void this.runRound();
      this.#timer = setTimeout(tick, this.#config.intervalMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A settings change replaces the checker: the old one must not stay subscribed to the pool.
    this.#pool.off('server-removed', this.#forget);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }

  readonly #forget = (server: Server): void => {
    this.#states.delete(server);
    this.#pools.get(server)?.destroy().catch(() => undefined);
    this.#pools.delete(server);
  };

  #poolFor(server: Server): Pool {
    let pool = this.#pools.get(server);
    if (pool === undefined) {
      pool = upstreamPool(server.origin, 1, this.#config.timeoutMs, this.#tls, Math.max(this.#config.intervalMs * 2, DEFAULT_KEEP_ALIVE_MS));
      this.#pools.set(server, pool);
    }
    return pool;
  }

  async #check(server: Server): Promise<void> {
    if (this.#inFlight.has(server) || this.#closed) return;
    this.#inFlight.add(server);
    try {
      const result = await this.#probe(server, this.#config);
      if (this.#closed || !this.#pool.servers.includes(server)) return;
      let state = this.#states.get(server);
      if (state === undefined) {
        state = new HealthState(this.#config.rise, this.#config.fall, server.healthy);
        this.#states.set(server, state);
      }
      const flipped = state.observe(result.ok);
      server.recordHealthCheck(result.ok, result.detail, state.consecutiveFailures, state.consecutiveSuccesses);
      if (flipped) {
        const detail = state.healthy
          ? `${this.#config.rise} checks passed (${result.detail})`
          : `${this.#config.fall} checks failed (last: ${result.detail})`;
        this.#onVerdict(server, state.healthy, detail);
      }
    } finally {
      this.#inFlight.delete(server);
    }
  }
}
