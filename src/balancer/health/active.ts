/**
 * Active health checks, split in three as Caddy does: `probe` checks one server once, `runRound` checks
 * every server once and applies rise/fall, and `start` schedules rounds. Tests call `runRound` directly.
 *
 * Probes use their own undici Agent, so they never queue behind real traffic on a busy pool; a probe that
 * hangs fails at `timeoutMs`; a server whose previous probe is still running is skipped, so checks of one
 * server never overlap. Only real transitions are reported, as verdicts the control plane applies (it
 * also closes the circuit of a server that comes back up).
 */
import { Agent, request } from 'undici';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import { connectOptions, type UpstreamTls } from '../upstreams.js';
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

export async function probe(server: Server, config: HealthCheckConfig, dispatcher: Agent): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const res = await request(`${server.origin}${config.path}`, {
      method: 'GET',
      dispatcher,
      headers: { 'user-agent': 'lb-health-check' },
      headersTimeout: config.timeoutMs,
      bodyTimeout: config.timeoutMs,
      signal: AbortSignal.timeout(config.timeoutMs),
    });
    await res.body.dump();
    const ok = res.statusCode >= config.expectedStatus.min && res.statusCode <= config.expectedStatus.max;
    return { ok, detail: `HTTP ${res.statusCode}`, durationMs: performance.now() - started };
  } catch (err) {
    const e = err as { code?: string; name?: string };
    const detail = e.name === 'TimeoutError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' ? `timeout after ${config.timeoutMs} ms` : (e.code ?? e.name ?? 'error');
    return { ok: false, detail, durationMs: performance.now() - started };
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
  readonly #agent: Agent;
  readonly #states = new Map<Server, HealthState>();
  readonly #inFlight = new Set<Server>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(pool: ServerPool, config: HealthCheckConfig, onVerdict: HealthVerdictSink, tls: UpstreamTls = { ca: null, rejectUnauthorized: true }, prober?: Prober) {
    this.#pool = pool;
    this.#probe = prober ?? ((server, c) => probe(server, c, this.#agent));
    this.#config = config;
    this.#onVerdict = onVerdict;
    // One connection per server, kept alive between checks, apart from the traffic pools.
    this.#agent = new Agent({ connections: 1, keepAliveTimeout: Math.max(config.intervalMs * 2, 4000), connect: connectOptions(config.timeoutMs, tls) });
    pool.on('server-removed', (server) => this.#states.delete(server));
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
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#agent.destroy().catch(() => undefined);
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
