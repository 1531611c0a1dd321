/**
 * slow_start (nginx's, HAProxy's): a server that comes back (passes its health checks again, has its
 * circuit closed, is undrained or added at runtime) starts at a tenth of its weight and ramps linearly
 * to all of it over `durationMs`, so a cold cache or a JIT that is not warm yet is not flooded at once.
 * The effective weight is updated a few times a second while some server ramps (never per request), and
 * each update tells the pool, so algorithms that precompute (random's cumulative weights) rebuild.
 * Weight-aware algorithms (weighted, random) use it; the others do not look at weights.
 */
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';

const TICK_MS = 200;

export class SlowStart {
  readonly #pool: ServerPool;
  readonly #durationMs: number;
  readonly #nowMs: () => number;
  readonly #ramping = new Set<Server>();
  #timer: NodeJS.Timeout | null = null;

  constructor(pool: ServerPool, durationMs: number, nowMs: () => number = () => performance.now()) {
    this.#pool = pool;
    this.#durationMs = durationMs;
    this.#nowMs = nowMs;
    pool.on('server-removed', (server) => this.#ramping.delete(server));
  }

  /** The server just came back: ramp it (nothing when slow_start is off). */
  begin(server: Server): void {
    if (this.#durationMs <= 0) return;
    server.startRamp(this.#nowMs());
    this.#ramping.add(server);
    this.#pool.notifyChanged();
    this.#timer ??= setTimeout(this.#tick, TICK_MS);
  }

  /** One step of every ramp (the timer's; tests call it with a fake clock). */
  readonly #tick = (): void => {
    this.#timer = null;
    const now = this.#nowMs();
    for (const server of this.#ramping) if (!server.advanceRamp(now, this.#durationMs)) this.#ramping.delete(server);
    this.#pool.notifyChanged();
    if (this.#ramping.size > 0) this.#timer = setTimeout(this.#tick, TICK_MS);
  };

  step(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#tick();
  }

  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#ramping.clear();
  }
}
