/**
 * A fixed-size log-bucketed latency histogram: 8 buckets per power of two of microseconds (~9% wide),
 * 256 buckets from 1 µs to ~35 min. Recording is one Math.log2 and an array increment, so it can sit on
 * the proxy's hot path; memory is bounded whatever the traffic. Percentiles are accurate to a bucket.
 */

const BUCKETS_PER_OCTAVE = 8;
const BUCKET_COUNT = 256;

/** The bucket a duration falls in; computed once when one answer goes into several histograms. */
export function bucketOf(durationMs: number): number {
  const us = durationMs * 1000;
  return us < 1 ? 0 : Math.min(BUCKET_COUNT - 1, Math.floor(Math.log2(us) * BUCKETS_PER_OCTAVE));
}

/** A histogram as plain data: [bucket, count] pairs of the non-empty buckets. */
export interface HistogramData {
  buckets: [number, number][];
  count: number;
  sumMs: number;
  maxMs: number;
}

export class LatencyHistogram {
  // 32-bit counts: 1 KiB a histogram (a server keeps seven: totals and six windows of 10 s).
  #counts = new Uint32Array(BUCKET_COUNT);
  #count = 0;
  #sumMs = 0;
  #maxMs = 0;

  record(durationMs: number, bucket = bucketOf(durationMs)): void {
    this.#counts[bucket]! += 1;
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

  /**
   * The value below which `percent` % of recordings fall: the bucket's upper edge, never above the max
   * seen (a midpoint could read below every sample in the bucket, a p99 under the mean).
   */
  percentileMs(percent: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.ceil((percent / 100) * this.#count);
    let seen = 0;
    for (let i = 0; i < BUCKET_COUNT; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#maxMs, 2 ** ((i + 1) / BUCKETS_PER_OCTAVE) / 1000);
    }
    return this.#maxMs;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#count = 0;
    this.#sumMs = 0;
    this.#maxMs = 0;
  }

  /** Plain data for another process (the non-empty buckets only): `absorb` adds it back. */
  export(): HistogramData {
    const buckets: [number, number][] = [];
    for (let i = 0; i < BUCKET_COUNT; i++) if (this.#counts[i]! > 0) buckets.push([i, this.#counts[i]!]);
    return { buckets, count: this.#count, sumMs: this.#sumMs, maxMs: this.#maxMs };
  }

  /** Adds another process's recordings (`export()`); buckets out of range are ignored, not trusted. */
  absorb(data: HistogramData): void {
    for (const [i, n] of data.buckets) if (Number.isInteger(i) && i >= 0 && i < BUCKET_COUNT) this.#counts[i]! += n;
    this.#count += data.count;
    this.#sumMs += data.sumMs;
    if (data.maxMs > this.#maxMs) this.#maxMs = data.maxMs;
  }

  /** Adds this histogram's recordings into `other` (windows merge their slots this way). */
  addTo(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKET_COUNT; i++) other.#counts[i]! += this.#counts[i]!;
    other.#count += this.#count;
    other.#sumMs += this.#sumMs;
    if (this.#maxMs > other.#maxMs) other.#maxMs = this.#maxMs;
  }
}

/**
 * Latency over the last `windowMs` (default 60 s) in `slots` rotating histograms (10 s each): what the
 * monitor's and the page's Avg and P99 columns show, so a server that recovered stops showing an old
 * incident within a minute. A slot is cleared when the clock passes it; recording stays O(1).
 */
export class WindowedLatency {
  readonly #slots: LatencyHistogram[];
  readonly #slotMs: number;
  #current = 0;
  #currentStartMs = Number.NEGATIVE_INFINITY;

  constructor(windowMs = 60_000, slots = 6) {
    this.#slots = Array.from({ length: slots }, () => new LatencyHistogram());
    this.#slotMs = windowMs / slots;
  }

  record(durationMs: number, nowMs: number, bucket = bucketOf(durationMs)): void {
    this.#advance(nowMs);
    this.#slots[this.#current]!.record(durationMs, bucket);
  }

  /** Count, mean and p99 over the window ending at `nowMs`. */
  summary(nowMs: number): { count: number; meanMs: number; p99Ms: number } {
    const merged = this.merged(nowMs);
    return { count: merged.count, meanMs: merged.meanMs, p99Ms: merged.percentileMs(99) };
  }

  /** The whole window ending at `nowMs` as one histogram. */
  merged(nowMs: number): LatencyHistogram {
    this.#advance(nowMs);
    const merged = new LatencyHistogram();
    for (const slot of this.#slots) slot.addTo(merged);
    return merged;
  }

  reset(): void {
    for (const slot of this.#slots) slot.reset();
  }

  /** Moves to the slot `nowMs` falls in, clearing every slot the clock has passed (all of them after a long pause). */
  #advance(nowMs: number): void {
    const elapsed = nowMs - this.#currentStartMs;
    if (elapsed < this.#slotMs) return;
    const steps = Number.isFinite(elapsed) ? Math.min(this.#slots.length, Math.floor(elapsed / this.#slotMs)) : this.#slots.length;
    for (let i = 0; i < steps; i++) {
      this.#current = (this.#current + 1) % this.#slots.length;
      this.#slots[this.#current]!.reset();
    }
    this.#currentStartMs = Number.isFinite(elapsed) && steps < this.#slots.length ? this.#currentStartMs + steps * this.#slotMs : nowMs;
  }
}
