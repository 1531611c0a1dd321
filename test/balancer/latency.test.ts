/** Latency over the last minute: an incident is shown while it lasts and forgotten after it. */
import { describe, expect, it } from 'vitest';
import { WindowedLatency } from '../../src/balancer/latency-histogram.js';
import { Server } from '../../src/balancer/server.js';

describe('windowed latency', () => {
  it('forgets an incident once it is a minute old, slot by slot', () => {
    const window = new WindowedLatency(60_000, 6);
    for (let i = 0; i < 10; i++) window.record(1500, 1000);
    for (let t = 2000; t <= 50_000; t += 1000) window.record(5, t);
    expect(window.summary(50_000).p99Ms).toBeGreaterThan(1000);
    // At 65 s the slot holding second 1 has been reused: only the 5 ms answers remain.
    for (let t = 51_000; t <= 65_000; t += 1000) window.record(5, t);
    const recovered = window.summary(65_000);
    expect(recovered.p99Ms).toBeLessThan(6);
    expect(recovered.count).toBe(55);
    // After a long quiet spell nothing is left.
    expect(window.summary(10 * 60_000)).toEqual({ count: 0, meanMs: 0, p99Ms: 0 });
  });

  it('a server shows its old incident in the totals and not in the recent figures', () => {
    const server = new Server({ host: '127.0.0.1', port: 1 });
    for (let i = 0; i < 5; i++) {
      server.requestStarted();
      server.requestFinished(true, 1500, null, 0);
    }
    for (let t = 61_000; t < 61_100; t++) {
      server.requestStarted();
      server.requestFinished(true, 4, null, t);
    }
    const snapshot = server.snapshot(61_100);
    expect(snapshot.p99ResponseTimeMs).toBeGreaterThan(1000);
    expect(snapshot.recentP99ResponseTimeMs).toBeLessThan(5);
    expect(snapshot.recentRequests).toBe(100);
  });
});
