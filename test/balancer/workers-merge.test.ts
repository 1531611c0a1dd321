/**
 * The primary's views from its workers' reports (workers/merge.ts), without processes: counts add up,
 * percentiles come from the merged histograms (not an average of percentiles), the primary's decisions
 * (drain, health) stand, and a circuit open in any worker shows.
 */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../src/balancer/latency-histogram.js';
import { mergeHistory, mergeStats } from '../../src/balancer/workers/merge.js';
import type { WorkerReport } from '../../src/balancer/workers/messages.js';
import type { HistoryEntry, ServerSnapshot } from '../../src/shared/api-types.js';
import { server, snapshot } from '../monitor/fixtures.js';

function histogram(samplesMs: number[]): LatencyHistogram {
  const h = new LatencyHistogram();
  for (const ms of samplesMs) h.record(ms);
  return h;
}

function report(servers: ServerSnapshot[], latency: Record<string, number[]>, history: HistoryEntry[] = []): WorkerReport {
  return {
    pid: 1,
    rssBytes: 1,
    snapshot: snapshot(servers),
    history,
    latency: new Map(Object.entries(latency).map(([id, samples]) => [id, { total: histogram(samples).export(), recent: histogram(samples).export() }])),
    metrics: null,
  };
}

const entry = (time: string, path: string): HistoryEntry => ({ time, method: 'GET', path, server: 'a', status: 200, durationMs: 1, retries: 0, error: null });

describe('mergeStats', () => {
  it('sums counts and merges latency histograms: p99 of the whole, not the mean of the parts', () => {
    const primary = snapshot([server('a'), server('b')]);
    // Worker 1: 99 fast answers from a; worker 2: one very slow one. The whole's p99 is the 99th fastest.
    const fast = Array.from({ length: 99 }, () => 1);
    const w1 = report([server('a', { totalRequests: 99, totalSuccesses: 99, activeRequests: 2 }), server('b')], { a: fast, b: [] });
    const w2 = report([server('a', { totalRequests: 1, totalFailures: 1, activeRequests: 1, lastError: 'LB_UPSTREAM_TIMEOUT' }), server('b')], { a: [5000], b: [] });
    const merged = mergeStats(primary, [w1, w2], []);
    const a = merged.servers.find((s) => s.id === 'a')!;
    expect([a.totalRequests, a.totalSuccesses, a.totalFailures, a.activeRequests, a.errorRate, a.lastError]).toEqual([100, 99, 1, 3, 0.01, 'LB_UPSTREAM_TIMEOUT']);
    expect(a.p99ResponseTimeMs).toBeLessThan(1.2);
    expect(a.p50ResponseTimeMs).toBeLessThan(1.2);
    expect(a.avgResponseTimeMs).toBeCloseTo((99 + 5000) / 100, 1);
    expect(a.recentRequests).toBe(100);
    expect(merged.totals.requests).toBe(100);
    expect(merged.totals.failures).toBe(1);
    expect(merged.totals.errorRate).toBe(0.01);
  });

  it("keeps the primary's decisions: drained while any worker still has requests in flight is draining", () => {
    const primary = snapshot([server('a', { state: 'drained', enabled: false }), server('b', { state: 'down', healthy: false })]);
    const busy = mergeStats(primary, [report([server('a', { activeRequests: 1 }), server('b')], {}), report([server('a'), server('b')], {})], []);
    expect(busy.servers.map((s) => s.state)).toEqual(['draining', 'down']);
    const idle = mergeStats(primary, [report([server('a'), server('b')], {})], []);
    expect(idle.servers.map((s) => s.state)).toEqual(['drained', 'down']);
  });

  it('a circuit open in one worker makes the server ejected in the merged view', () => {
    const primary = snapshot([server('a')]);
    const merged = mergeStats(primary, [report([server('a')], {}), report([server('a', { circuit: 'open', circuitFailures: 3 })], {})], []);
    expect(merged.servers[0]).toMatchObject({ state: 'ejected', circuit: 'open', circuitFailures: 3 });
  });

  it('a server a worker does not know yet (added a moment ago) is listed with zero counts', () => {
    const primary = snapshot([server('a'), server('new')]);
    const merged = mergeStats(primary, [report([server('a', { totalRequests: 5 })], { a: [1, 1, 1, 1, 1] })], []);
    expect(merged.servers.map((s) => [s.id, s.totalRequests, s.state])).toEqual([
      ['a', 5, 'up'],
      ['new', 0, 'up'],
    ]);
  });

  it('histogram buckets from a report outside the histogram are ignored, not written past its end', () => {
    const h = new LatencyHistogram();
    h.absorb({ buckets: [[-1, 5], [256, 5], [1.5, 5], [10, 2]], count: 2, sumMs: 0.002, maxMs: 0.001 });
    expect(h.count).toBe(2);
    expect(h.percentileMs(99)).toBeGreaterThan(0);
  });
});

describe('mergeHistory', () => {
  it('the newest requests of all workers together, oldest first, at most the capacity', () => {
    const w1 = report([], {}, [entry('2026-11-30T10:00:00.001Z', '/1'), entry('2026-11-30T10:00:00.004Z', '/4')]);
    const w2 = report([], {}, [entry('2026-11-30T10:00:00.002Z', '/2'), entry('2026-11-30T10:00:00.003Z', '/3')]);
    expect(mergeHistory([w1, w2], 3).map((e) => e.path)).toEqual(['/2', '/3', '/4']);
  });
});
