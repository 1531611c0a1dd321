/**
 * Latency recording for the load generator: an HDR histogram (hdr-histogram-js; 3 significant digits
 * from 1 µs to 1 hour, ~95 ns a record, 95 KB) for exact percentiles, plus a coarse log-bucket count for
 * the text histogram. Values are recorded in whole microseconds and reported in milliseconds.
 */
import hdr from 'hdr-histogram-js';

export interface LatencySummary {
  count: number;
  minMs: number;
  meanMs: number;
  stdevMs: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
}

const MAX_US = 3_600_000_000;
/** 4 buckets per power of two of microseconds: plenty for a 10-line text histogram. */
const COARSE_PER_OCTAVE = 4;
const COARSE_BUCKETS = 32 * COARSE_PER_OCTAVE;

export class LatencyRecorder {
  readonly #hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: MAX_US, numberOfSignificantValueDigits: 3 });
  readonly #coarse = new Float64Array(COARSE_BUCKETS);

  record(ms: number): void {
    const us = Math.min(MAX_US, Math.max(1, Math.round(ms * 1000)));
    this.#hist.recordValue(us);
    this.#coarse[Math.min(COARSE_BUCKETS - 1, Math.floor(Math.log2(us) * COARSE_PER_OCTAVE))]! += 1;
  }

  get count(): number {
    return this.#hist.totalCount;
  }

  /** HDR reports a bucket's highest equivalent value, which can pass the largest value recorded: clamp. */
  percentileMs(percent: number): number {
    const h = this.#hist;
    return h.totalCount === 0 ? 0 : Math.min(h.getValueAtPercentile(percent), h.maxValue) / 1000;
  }

  summary(): LatencySummary {
    const h = this.#hist;
    if (h.totalCount === 0) return { count: 0, minMs: 0, meanMs: 0, stdevMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0 };
    return {
      count: h.totalCount,
      minMs: h.minNonZeroValue / 1000,
      meanMs: h.mean / 1000,
      stdevMs: h.stdDeviation / 1000,
      p50Ms: this.percentileMs(50),
      p90Ms: this.percentileMs(90),
      p99Ms: this.percentileMs(99),
      p999Ms: this.percentileMs(99.9),
      maxMs: h.maxValue / 1000,
    };
  }

  /** Non-empty coarse buckets as [upper bound ms, count], for the text histogram. */
  buckets(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    this.#coarse.forEach((count, i) => {
      if (count > 0) out.push([2 ** ((i + 1) / COARSE_PER_OCTAVE) / 1000, count]);
    });
    return out;
  }

  /** Frees the WebAssembly or typed-array memory at once instead of waiting for GC. */
  destroy(): void {
    this.#hist.destroy();
  }
}
