/**
 * Latency recording for the load generator: an HDR histogram (hdr-histogram-js; 3 significant digits
 * from 1 µs to 1 hour, ~95 ns a record, 95 KB) for exact percentiles, plus fine log buckets (64 per
 * octave, 1% wide) that the report regroups under readable edges (see `readableBuckets`). Values are
 * recorded in whole microseconds and reported in milliseconds.
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
/** 64 buckets per power of two of microseconds (1% wide, 16 KB): fine enough to regroup under 1-1.5-2-3-5-7 edges. */
const COARSE_PER_OCTAVE = 64;
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

/** Readable edges per decade: 1, 1.5, 2, 3, 5, 7 (x 10^k ms); 1, 2, 5 when that gives too many lines. */
const FINE_STEPS = [1, 1.5, 2, 3, 5, 7];
const COARSE_STEPS = [1, 2, 5];
const MAX_LINES = 20;

function edgesFor(minMs: number, maxMs: number, steps: readonly number[]): number[] {
  const edges: number[] = [];
  for (let exp = Math.floor(Math.log10(minMs)) - 1; exp <= Math.ceil(Math.log10(maxMs)) + 1; exp++) {
    for (const step of steps) edges.push(Number((step * 10 ** exp).toPrecision(3)));
  }
  // The first edge at or below min, every edge up to the first one at or above max.
  const first = edges.findLastIndex((e) => e <= minMs);
  const last = edges.findIndex((e) => e >= maxMs);
  return edges.slice(Math.max(0, first), last + 1);
}

/**
 * Fine buckets ([upper ms, count]) regrouped under readable edges over the observed range, as oha
 * does: empty buckets between two modes stay (that gap is what shows two server speeds apart), empty
 * ones before the first and after the last are dropped. `upToMs` is each line's upper edge.
 */
export function readableBuckets(fine: ReadonlyArray<readonly [number, number]>): Array<{ upToMs: number; count: number }> {
  if (fine.length === 0) return [];
  // A fine bucket's middle decides its line; its upper bound can sit just past an edge.
  const middle = (upper: number): number => upper / 2 ** (0.5 / COARSE_PER_OCTAVE);
  const minMs = middle(fine[0]![0]);
  const maxMs = middle(fine[fine.length - 1]![0]);
  let edges = edgesFor(minMs, maxMs, FINE_STEPS);
  if (edges.length - 1 > MAX_LINES) edges = edgesFor(minMs, maxMs, COARSE_STEPS);
  if (edges.length < 2) edges = [edges[0] ?? minMs, (edges[0] ?? minMs) * 1.5];
  const counts = new Array<number>(edges.length - 1).fill(0);
  for (const [upper, count] of fine) {
    const value = middle(upper);
    let i = edges.findIndex((e) => value <= e) - 1;
    if (i < 0) i = 0;
    if (i >= counts.length) i = counts.length - 1;
    counts[i]! += count;
  }
  const out = counts.map((count, i) => ({ upToMs: edges[i + 1]!, count }));
  const firstFull = out.findIndex((b) => b.count > 0);
  const lastFull = out.findLastIndex((b) => b.count > 0);
  return out.slice(firstFull, lastFull + 1);
}
