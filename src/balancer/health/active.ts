/**
 * Active health checks, split in three as Caddy does: a prober checks one server once (`probeHttp` in
 * http-probe.ts, or the tcp connect probe), `runRound` checks every server once and applies rise/fall, and
 * `start` schedules rounds. Tests call `runRound` directly.
 *
 * Each probe opens a connection of its own (http-probe.ts says why not through the traffic pools), so it
 * never queues behind real traffic; a probe that hangs fails at `timeoutMs`; a server whose previous
 * probe is still running is skipped, so checks of one server never overlap. Only real transitions are
 * reported, as verdicts the control plane applies (it also closes the circuit of a server that comes
 * back up).
 */
import { setMaxListeners } from 'node:events';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import type { UpstreamTls } from '../upstreams.js';
import { HealthState } from './health-state.js';
import { probeHttp } from './http-probe.js';

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

/** A server passed `rise` checks (healthy) or failed `fall` checks (not) in a row. */
export type HealthVerdictSink = (server: Server, healthy: boolean, detail: string) => void;

/**
 * Checks one server once; the HTTP probe by default, tcp/health-probe.ts's connect probe in tcp mode. A
 * check still running when `stop` aborts ends at once (its result is ignored).
 */
export type Prober = (server: Server, config: HealthCheckConfig, stop: AbortSignal) => Promise<ProbeResult>;

export class ActiveHealthChecker {
  readonly #pool: ServerPool;
  readonly #probe: Prober;
  readonly #config: HealthCheckConfig;
  readonly #onVerdict: HealthVerdictSink;
  readonly #states = new Map<Server, HealthState>();
  readonly #inFlight = new Set<Server>();
  readonly #stop = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(pool: ServerPool, config: HealthCheckConfig, onVerdict: HealthVerdictSink, tls: UpstreamTls = { ca: null, rejectUnauthorized: true }, prober?: Prober) {
    this.#pool = pool;
    this.#probe = prober ?? ((server, c, stop) => probeHttp(server, c, tls, stop));
    this.#config = config;
    this.#onVerdict = onVerdict;
    // Every server checked at once listens for the stop: as many listeners as servers, not a leak.
    setMaxListeners(0, this.#stop.signal);
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

  close(): void {
    this.#closed = true;
    // A settings change replaces the checker: the old one must not stay subscribed to the pool.
    this.#pool.off('server-removed', this.#forget);
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    // Checks in flight let go of their sockets and timers now, not at their deadline.
    this.#stop.abort();
  }

  readonly #forget = (server: Server): void => {
    this.#states.delete(server);
  };

  async #check(server: Server): Promise<void> {
    if (this.#inFlight.has(server) || this.#closed) return;
    this.#inFlight.add(server);
    try {
      const result = await this.#probe(server, this.#config, this.#stop.signal);
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
