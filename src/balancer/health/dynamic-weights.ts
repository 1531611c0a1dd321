/**
 * Dynamic weights (the seeds' "dynamic weight adjustment based on response times"): every interval, each
 * server's effective weight is moved toward its configured weight scaled by how its latency (peak-EWMA,
 * as least_response_time sees it) compares with the fastest server's and by its recent error rate. Bounded: never below a tenth of the
 * configured weight nor above it; ramps: at most 20 points of the configured weight a step, never a
 * jump. A change of more than 10% is an event (`weight-adjusted`). Weight-aware algorithms (weighted,
 * random) use the result; the pool is told so precomputed tables rebuild.
 */
import type { BalancerEventType } from '../../shared/api-types.js';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';

/** Most a factor moves in one step. */
const MAX_STEP = 0.2;
/** A server this close to the fastest (and error-free) keeps its full weight. */
const NEAR_BEST = 0.9;
/** A change this large (relative) is reported. */
const EVENT_CHANGE = 0.1;

export type WeightEventSink = (type: BalancerEventType, server: Server, detail: string) => void;

export class DynamicWeights {
  readonly #pool: ServerPool;
  readonly #intervalMs: number;
  readonly #onEvent: WeightEventSink;
  readonly #nowMs: () => number;
  readonly #last = new Map<Server, { requests: number; failures: number }>();
  #timer: NodeJS.Timeout | null = null;

  constructor(pool: ServerPool, intervalMs: number, onEvent: WeightEventSink, nowMs: () => number = () => performance.now()) {
    this.#pool = pool;
    this.#intervalMs = intervalMs;
    this.#onEvent = onEvent;
    this.#nowMs = nowMs;
    pool.on('server-removed', (server) => this.#last.delete(server));
  }

  start(): void {
    this.#timer ??= setInterval(() => this.step(), this.#intervalMs);
  }

  /** One adjustment of every server (the timer's; tests call it with a fake clock). */
  step(): void {
    const now = this.#nowMs();
    // Peak-EWMA latency (least_response_time's estimate): it follows a change within a few answers.
    const measured = this.#pool.servers
      .map((server) => ({ server, latencyMs: server.peakEwma.valueAt(now), errors: this.#errorRate(server) }))
      .filter((m) => m.server.peakEwma.hasSamples && m.server.isAvailable());
    if (measured.length === 0) return;
    const fastest = Math.max(0.001, Math.min(...measured.map((m) => m.latencyMs)));
    let changed = false;
    for (const { server, latencyMs, errors } of measured) {
      const raw = Math.min(1, fastest / Math.max(0.001, latencyMs)) * (1 - errors);
      // Within 10% of the best counts as the best: equal servers keep equal weights, without churn.
      const target = raw >= NEAR_BEST ? 1 : raw;
      const before = server.dynamicFactor;
      const next = before + Math.max(-MAX_STEP, Math.min(MAX_STEP, target - before));
      if (Math.abs(next - before) < 1e-6) continue;
      const weightBefore = server.effectiveWeight;
      server.setDynamicFactor(next);
      changed = true;
      if (Math.abs(server.effectiveWeight - weightBefore) / weightBefore > EVENT_CHANGE) {
        this.#onEvent('weight-adjusted', server, `effective weight ${weightBefore.toFixed(2)} -> ${server.effectiveWeight.toFixed(2)} of ${server.weight} (latency ${latencyMs.toFixed(1)} ms, fastest ${fastest.toFixed(1)} ms, errors ${(errors * 100).toFixed(0)}%)`);
      }
    }
    if (changed) this.#pool.notifyChanged();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Failures among the requests finished since the last step. */
  #errorRate(server: Server): number {
    const last = this.#last.get(server) ?? { requests: 0, failures: 0 };
    const finished = server.totalSuccesses + server.totalFailures;
    const requests = finished - last.requests;
    const failures = server.totalFailures - last.failures;
    this.#last.set(server, { requests: finished, failures: server.totalFailures });
    return requests > 0 && failures > 0 ? Math.min(1, failures / requests) : 0;
  }
}
