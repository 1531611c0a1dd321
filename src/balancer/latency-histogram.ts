/**
 * A fixed-size log-bucketed latency histogram: 8 buckets per power of two of microseconds (~9% wide),
 * 256 buckets from 1 µs to ~35 min. Recording is one Math.log2 and an array increment, so it can sit on
 * the proxy's hot path; memory is bounded whatever the traffic. Percentiles are accurate to a bucket.
 */

const BUCKETS_PER_OCTAVE = 8;
const BUCKET_COUNT = 256;

export class LatencyHistogram {
  #counts = new Float64Array(BUCKET_COUNT);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  record(durationMs: number): void {
    const us = durationMs * 1000;
    const index = us < 1 ? 0 : Math.min(BUCKET_COUNT - 1, Math.floor(Math.log2(us) * BUCKETS_PER_OCTAVE));
    this.#counts[index]! += 1;
    this.#count += 1;
    this.#sumMs += durationMs;
    if (durationMs > this.#maxMs) this.#maxMs = durationMs;
  }

  get count(): number {
    return this.#count;
  }

  get meanMs(): number {
    return this.#count === 0 ? 0 : this.#sumMs / this.#count;
  }

  get maxMs(): number {
    return this.#maxMs;
  }

  /** The value below which `percent` % of recordings fall (bucket midpoint, never above the max seen). */
  percentileMs(percent: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil((percent / 100) * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#maxMs, 2 ** ((i + 0.5) / BUCKETS_PER_OCTAVE) / 1000);
    }
    return this.#maxMs;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sumMs = 0;
    this.#maxMs = 0;
  }
}
