/**
 * A retry budget, as Envoy's: retries may be at most `ratio` of the requests seen in the last
 * `windowMs` (default 20% over 10 s), plus a floor of `minRetries` so a quiet balancer can still retry.
 * Stops a retry storm from multiplying load on servers that are already failing. Bounded: ten one-second
 * buckets, whatever the traffic.
 */
const BUCKETS = 10;

export class RetryBudget {
  readonly #requests = new Float64Array(BUCKETS);
  readonly #retries = new Float64Array(BUCKETS);
  #bucketStartMs = 0;
  #current = 0;
  readonly #bucketMs: number;

  constructor(
    readonly ratio = 0.2,
    readonly minRetries = 10,
    windowMs = 10_000,
  ) {
    this.#bucketMs = windowMs / BUCKETS;
  }

  recordRequest(nowMs: number): void {
    this.#advance(nowMs);
    this.#requests[this.#current]! += 1;
  }

  /** Takes one retry from the budget if there is one left. */
  tryRetry(nowMs: number): boolean {
    this.#advance(nowMs);
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < BUCKETS; i++) {
      requests += this.#requests[i]!;
      retries += this.#retries[i]!;
    }
    if (retries >= Math.max(this.minRetries, this.ratio * requests)) return false;
    this.#retries[this.#current]! += 1;
    return true;
  }

  #advance(nowMs: number): void {
    if (this.#bucketStartMs === 0) this.#bucketStartMs = nowMs;
    let steps = Math.floor((nowMs - this.#bucketStartMs) / this.#bucketMs);
    if (steps <= 0) return;
    this.#bucketStartMs += steps * this.#bucketMs;
    steps = Math.min(steps, BUCKETS);
    for (let i = 0; i < steps; i++) {
      this.#current = (this.#current + 1) % BUCKETS;
      this.#requests[this.#current] = 0;
      this.#retries[this.#current] = 0;
    }
  }
}
