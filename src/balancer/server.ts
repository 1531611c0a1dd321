/**
 * One backend Server: its address, the operator's decisions (weight, enabled, draining, max_conns), what
 * was observed (healthy from active checks, the circuit from passive ones), and its counters.
 * `isAvailable()` is the one question every algorithm asks.
 *
 * Counters refuse to lie: `requestStarted()` before forwarding, `requestFinished()` exactly once after;
 * an active count that would go below zero is a bug, counted in `counterUnderflows` instead of hidden.
 */
import type { HealthCheckSnapshot, ServerSnapshot, ServerState } from '../shared/api-types.js';
import { round } from '../shared/round.js';
import { CircuitBreaker, type BreakerSettings } from './health/circuit-breaker.js';
import { bucketOf, LatencyHistogram, WindowedLatency } from './latency-histogram.js';
import { PeakEwma } from './peak-ewma.js';

export interface ServerInit {
  host: string;
  port: number;
  /** Default 1. */
  weight?: number;
  /** Shown instead of host:port; must be unique in the pool. */
  name?: string;
  /** Most requests in flight to this server; 0 = no limit. Default: the balancer's max_conns. */
  maxConns?: number;
  /** Speak HTTPS to this server. */
  tls?: boolean;
  /** tcp mode: start each connection with a PROXY protocol header of this version (HAProxy's send-proxy). */
  sendProxy?: 'v1' | 'v2';
}

/** A server's id: its name, or `host:port` when it has none (the one rule; the pool and reloads use it). */
export function serverIdOf(init: Pick<ServerInit, 'name' | 'host' | 'port'>): string {
  return init.name ?? `${init.host}:${init.port}`;
}

export interface ServerDefaults {
  maxConns: number;
  breaker: BreakerSettings;
  startHealthy: boolean;
  /** Risky destinations the operator allowed as servers (`--allow-hosts`); see edge/server-address.ts. */
  allowHosts: readonly string[];
}

export const DEFAULT_SERVER_DEFAULTS: ServerDefaults = {
  maxConns: 0,
  breaker: { failThreshold: 3, openTimeMs: 5_000 },
  startHealthy: true,
  allowHosts: [],
};

/** Weight of the newest sample in the latency EWMA: ~10 samples dominate, so a change shows quickly. */
const EWMA_ALPHA = 0.2;
/** Where a slow-start ramp begins, as a share of the weight (it then grows linearly to all of it). */
const SLOW_START_FLOOR = 0.1;

/** What a failed request costs in the latency estimate: far slower than a healthy answer. */
const FAILURE_LATENCY_PENALTY_MS = 1000;

export class Server {
  readonly id: string;
  /** The configured name, null when the id is the address. */
  readonly name: string | null;
  readonly host: string;
  readonly port: number;
  readonly origin: string;
  /** tcp mode: the PROXY protocol version sent to this server first; null = none. */
  readonly sendProxy: 'v1' | 'v2' | null;
  readonly addedAt: Date;
  // State changes only through the methods below (the pool and the control plane call them); everyone
  // else reads the getters.
  #weight: number;
  #effectiveWeight: number;
  /** When the slow-start ramp began; null when not ramping. */
  #rampFrom: number | null = null;
  #rampFactor = 1;
  #dynamicFactor = 1;
  #maxConns: number;
  #enabled = true;
  #healthy: boolean;
  #draining = false;
  #activeRequests = 0;
  #totalRequests = 0;
  #totalSuccesses = 0;
  #totalFailures = 0;
  #ewmaLatencyMs = 0;
  #lastError: string | null = null;
  #counterUnderflows = 0;
  #healthChecksPassed = 0;
  #healthChecksFailed = 0;
  #healthCheck: HealthCheckSnapshot = { ok: null, detail: null, at: null, consecutiveFailures: 0, consecutiveSuccesses: 0 };
  readonly latency = new LatencyHistogram();
  /** The last minute only: what viewers show, so an old incident is forgotten. */
  readonly recentLatency = new WindowedLatency();
  /** Latency cost for least_response_time; fed by every finished request. */
  readonly peakEwma = new PeakEwma();
  /** Passive health; opened and closed by health/passive.ts, which applies the ejection cap. */
  readonly circuit: CircuitBreaker;

  get weight(): number {
    return this.#weight;
  }
  get maxConns(): number {
    return this.#maxConns;
  }
  /** The operator's decision: false while draining or disabled. */
  get enabled(): boolean {
    return this.#enabled;
  }
  /** What active health checks observed. */
  get healthy(): boolean {
    return this.#healthy;
  }
  get draining(): boolean {
    return this.#draining;
  }
  get activeRequests(): number {
    return this.#activeRequests;
  }
  get totalRequests(): number {
    return this.#totalRequests;
  }
  get totalSuccesses(): number {
    return this.#totalSuccesses;
  }
  get totalFailures(): number {
    return this.#totalFailures;
  }
  get ewmaLatencyMs(): number {
    return this.#ewmaLatencyMs;
  }
  get lastError(): string | null {
    return this.#lastError;
  }
  get counterUnderflows(): number {
    return this.#counterUnderflows;
  }
  get healthChecksPassed(): number {
    return this.#healthChecksPassed;
  }
  get healthChecksFailed(): number {
    return this.#healthChecksFailed;
  }
  /** The last active health check, for the stats. */
  get healthCheck(): Readonly<HealthCheckSnapshot> {
    return this.#healthCheck;
  }

  setWeight(weight: number): void {
    this.#weight = weight;
    this.#updateEffectiveWeight();
  }

  /**
   * The weight weight-aware algorithms use now: the configured one, or less while the server ramps up
   * after coming back (slow_start). Fractional, so even weight 1 can ramp.
   */
  get effectiveWeight(): number {
    return this.#effectiveWeight;
  }

  get isRamping(): boolean {
    return this.#rampFrom !== null;
  }

  /** Starts a slow-start ramp: from a tenth of the weight at `nowMs` to all of it `durationMs` later. */
  startRamp(nowMs: number): void {
    this.#rampFrom = nowMs;
    this.#rampFactor = SLOW_START_FLOOR;
    this.#updateEffectiveWeight();
  }

  /** Moves the ramp on to `nowMs`; true while it still runs. */
  advanceRamp(nowMs: number, durationMs: number): boolean {
    if (this.#rampFrom === null) return false;
    const progress = durationMs <= 0 ? 1 : (nowMs - this.#rampFrom) / durationMs;
    if (progress >= 1) {
      this.#rampFrom = null;
      this.#rampFactor = 1;
    } else {
      this.#rampFactor = SLOW_START_FLOOR + (1 - SLOW_START_FLOOR) * Math.max(0, progress);
    }
    this.#updateEffectiveWeight();
    return this.#rampFrom !== null;
  }

  /** Dynamic weights' share of the configured weight, 0.1..1 (see health/dynamic-weights.ts). */
  get dynamicFactor(): number {
    return this.#dynamicFactor;
  }

  setDynamicFactor(factor: number): void {
    this.#dynamicFactor = Math.min(1, Math.max(SLOW_START_FLOOR, factor));
    this.#updateEffectiveWeight();
  }

  #updateEffectiveWeight(): void {
    this.#effectiveWeight = this.#weight * this.#rampFactor * this.#dynamicFactor;
  }

  setMaxConns(maxConns: number): void {
    this.#maxConns = maxConns;
  }

  /** Draining: the operator takes it out of rotation (in-flight requests finish); undrain puts it back. */
  setDraining(draining: boolean): void {
    this.#draining = draining;
    this.#enabled = !draining;
  }

  /** One active health check's result, and the rise/fall counters after it. */
  recordHealthCheck(ok: boolean, detail: string, consecutiveFailures: number, consecutiveSuccesses: number): void {
    if (ok) this.#healthChecksPassed += 1;
    else this.#healthChecksFailed += 1;
    this.#healthCheck = { ok, detail, at: new Date().toISOString(), consecutiveFailures, consecutiveSuccesses };
  }

  constructor(init: ServerInit, defaults: ServerDefaults = DEFAULT_SERVER_DEFAULTS, addedAt = new Date()) {
    this.host = init.host;
    this.port = init.port;
    this.#weight = init.weight ?? 1;
    this.#effectiveWeight = this.#weight;
    this.#maxConns = init.maxConns ?? defaults.maxConns;
    this.#healthy = defaults.startHealthy;
    this.circuit = new CircuitBreaker(defaults.breaker);
    const hostForUrl = init.host.includes(':') ? `[${init.host}]` : init.host;
    this.origin = `${init.tls === true ? 'https' : 'http'}://${hostForUrl}:${init.port}`;
    this.name = init.name ?? null;
    this.sendProxy = init.sendProxy ?? null;
    this.id = serverIdOf(init);
    this.addedAt = addedAt;
  }

  /** Enabled, healthy, not full, and its circuit lets a request through. */
  isAvailable(): boolean {
    return (
      this.#enabled &&
      this.#healthy &&
      !this.isFull() &&
      // Reading the clock only for an open circuit keeps the common case free of a clock call.
      (this.circuit.isClosed || this.circuit.allows(performance.now()))
    );
  }

  /** What active health checks concluded (rise/fall applied by the checker, the verdict applied by the control plane). */
  setHealthy(healthy: boolean): void {
    this.#healthy = healthy;
  }

  isFull(): boolean {
    return this.#maxConns > 0 && this.#activeRequests >= this.#maxConns;
  }

  get state(): ServerState {
    if (this.#draining) return this.#activeRequests > 0 ? 'draining' : 'drained';
    if (!this.#healthy) return 'down';
    return this.circuit.isClosed ? 'up' : 'ejected';
  }

  requestStarted(): void {
    this.#activeRequests += 1;
    this.#totalRequests += 1;
  }

  /** `ok` is false for connect errors, timeouts and 5xx answers: what counts against a server. */
  requestFinished(ok: boolean, durationMs: number, error: string | null, nowMs = performance.now()): void {
    if (this.#activeRequests <= 0) {
      this.#counterUnderflows += 1;
    } else {
      this.#activeRequests -= 1;
    }
    if (ok) {
      this.#totalSuccesses += 1;
    } else {
      this.#totalFailures += 1;
      this.#lastError = error;
    }
    // One bucket computation for both: this runs once per request.
    const bucket = bucketOf(durationMs);
    this.latency.record(durationMs, bucket);
    this.recentLatency.record(durationMs, nowMs, bucket);
    // A refused connection fails in a millisecond: counted as fast, it would pull least-latency traffic
    // onto a dead server. Failures count as a slow answer instead.
    this.peakEwma.observe(ok ? durationMs : Math.max(durationMs, FAILURE_LATENCY_PENALTY_MS), nowMs);
    this.#ewmaLatencyMs =
      this.latency.count === 1 ? durationMs : this.#ewmaLatencyMs + EWMA_ALPHA * (durationMs - this.#ewmaLatencyMs);
  }

  /**
   * tcp mode: a connection reached this server after `connectMs`. Its latency figures (and
   * least_response_time) follow connect time, measured when it is known rather than when the
   * connection ends, which may be hours later.
   */
  connectMeasured(connectMs: number, nowMs = performance.now()): void {
    const bucket = bucketOf(connectMs);
    this.latency.record(connectMs, bucket);
    this.recentLatency.record(connectMs, nowMs, bucket);
    this.peakEwma.observe(connectMs, nowMs);
    this.#ewmaLatencyMs = this.latency.count === 1 ? connectMs : this.#ewmaLatencyMs + EWMA_ALPHA * (connectMs - this.#ewmaLatencyMs);
  }

  /**
   * tcp mode: a connection to this server ended; `ok` false when it ended on an error of the server's
   * side, null for no verdict (the client left while the connect was still running).
   */
  connectionFinished(ok: boolean | null, error: string | null): void {
    if (this.#activeRequests <= 0) this.#counterUnderflows += 1;
    else this.#activeRequests -= 1;
    if (ok === null) return;
    if (ok) {
      this.#totalSuccesses += 1;
    } else {
      this.#totalFailures += 1;
      this.#lastError = error;
    }
  }

  resetCounters(): void {
    this.#totalRequests = 0;
    this.#totalSuccesses = 0;
    this.#totalFailures = 0;
    this.#ewmaLatencyMs = 0;
    this.#lastError = null;
    this.latency.reset();
    this.recentLatency.reset();
    this.peakEwma.reset();
  }

  snapshot(nowMs = performance.now()): ServerSnapshot {
    const recent = this.recentLatency.summary(nowMs);
    const finished = this.#totalSuccesses + this.#totalFailures;
    return {
      id: this.id,
      host: this.host,
      port: this.port,
      url: this.origin,
      weight: this.#weight,
      effectiveWeight: Math.round(this.#effectiveWeight * 100) / 100,
      state: this.state,
      enabled: this.#enabled,
      healthy: this.#healthy,
      activeRequests: this.#activeRequests,
      totalRequests: this.#totalRequests,
      totalSuccesses: this.#totalSuccesses,
      totalFailures: this.#totalFailures,
      errorRate: finished === 0 ? 0 : this.#totalFailures / finished,
      avgResponseTimeMs: round(this.latency.meanMs),
      p50ResponseTimeMs: round(this.latency.percentileMs(50)),
      p99ResponseTimeMs: round(this.latency.percentileMs(99)),
      recentRequests: recent.count,
      recentAvgResponseTimeMs: round(recent.meanMs),
      recentP99ResponseTimeMs: round(recent.p99Ms),
      latencyScoreMs: round(this.peakEwma.valueAt(nowMs) * (this.#activeRequests + 1)),
      ewmaLatencyMs: round(this.#ewmaLatencyMs),
      lastError: this.#lastError,
      addedAt: this.addedAt.toISOString(),
      circuit: this.circuit.stateAt(nowMs),
      circuitFailures: this.circuit.consecutiveFailures,
      maxConns: this.#maxConns,
      healthCheck: { ...this.#healthCheck },
      counterUnderflows: this.#counterUnderflows,
    };
  }
}
