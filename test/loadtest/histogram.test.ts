/** The text histogram as oha draws it: readable edges, modes kept apart, bars in proportion. */
import { describe, expect, it } from 'vitest';
import { LatencyRecorder, readableBuckets } from '../../src/loadtest/histogram.js';
import { histogramLines } from '../../src/loadtest/report.js';
import { seededRandom } from '../../src/shared/random.js';

function recorded(modes: Array<[centreMs: number, spreadMs: number, count: number]>): LatencyRecorder {
  const recorder = new LatencyRecorder();
  const random = seededRandom(3);
  for (const [centre, spread, count] of modes) for (let i = 0; i < count; i++) recorder.record(centre + random() * spread);
  return recorder;
}

describe('latency histogram', () => {
  it('keeps the demo\'s 100 ms and 200 ms servers on separate lines, with the empty line between them', () => {
    const recorder = recorded([
      [100.5, 3, 1000],
      [200.5, 4, 1000],
    ]);
    const buckets = readableBuckets(recorder.buckets());
    recorder.destroy();
    expect(buckets.map((b) => [b.upToMs, b.count])).toEqual([
      [150, 1000],
      [200, 0],
      [300, 1000],
    ]);
  });

  it('keeps three modes apart over four decades in at most 20 lines, and draws 6 requests as a thin mark', () => {
    const recorder = recorded([
      [1.1, 0.3, 2269],
      [100.5, 3, 500],
      [1500, 10, 6],
    ]);
    const buckets = readableBuckets(recorder.buckets());
    recorder.destroy();
    expect(buckets.length).toBeLessThanOrEqual(20);
    const full = buckets.filter((b) => b.count > 0);
    expect(full.map((b) => b.count)).toEqual([2269, 500, 6]);
    expect(full.map((b) => b.upToMs)).toEqual([1.5, 150, 2000]);
    const lines = histogramLines(buckets, 40);
    const barOf = (count: number) => /  ([█▏▎▍▌▋▊▉]*)\s+\d+$/.exec(lines.find((l) => l.endsWith(`  ${count}`))!)![1];
    expect(barOf(2269)).toBe('█'.repeat(40));
    // 500 / 2269 of 40 blocks is 70.5 eighths, drawn as 71: 8 full blocks and 7 eighths.
    expect(barOf(500)).toBe(`${'█'.repeat(8)}▉`);
    expect(barOf(6)).toBe('▏');
    // Empty lines between modes show no bar at all.
    expect(lines.filter((l) => / 0$/.test(l)).every((l) => !/[█▏▎▍▌▋▊▉]/.test(l))).toBe(true);
  });
});
