import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { type LoadtestFlags, toLoadOptions } from '../../src/loadtest/options.js';
import { summarize } from '../../src/loadtest/report.js';
import { LoadRun, type RunResult } from '../../src/loadtest/runner.js';
import { seededRandom } from '../../src/shared/random.js';
import { type TestServerHandle } from '../../src/testserver/server.js';
import { closedAfterEach, deadAddress } from '../helpers/servers.js';

let backends: TestServerHandle[] = [];
let lb: BalancerHandle | undefined;

const scope = closedAfterEach();

async function load(flags: LoadtestFlags): Promise<RunResult> {
  return new LoadRun(await toLoadOptions(flags)).run();
}

const describeRun = (r: RunResult) => summarize(r, { target: 'x', method: 'GET', concurrency: 1, rateRps: null }, null);

describe('exact counts and bounded concurrency', () => {
  it.each([
    [1, 1],
    [10, 3],
    [100, 7],
    [1000, 50],
  ])('%i requests at concurrency %i: every one sent once and answered, never more in flight than allowed', async (requests, concurrent) => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 5 })];
    const result = await load({ url: backends[0]!.url, requests, concurrent });
    expect([result.issued, result.completed, result.errored, result.cancelled]).toEqual([requests, requests, 0, 0]);
    expect(backends[0]!.requestCount).toBe(requests);
    expect(result.statuses.get(200)).toBe(requests);
    // With a 5 ms server every client is busy at once: the limit is reached, never passed.
    expect(result.maxInFlight).toBe(Math.min(requests, concurrent));
  });

  it('stops at the duration and drains what is in flight', async () => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 20 })];
    const result = await load({ url: backends[0]!.url, duration: '500ms', concurrent: 4 });
    expect(result.elapsedMs).toBeGreaterThanOrEqual(500);
    expect(result.issued).toBe(result.completed);
    expect(backends[0]!.requestCount).toBe(result.issued);
  });
});

describe('latency', () => {
  it('reflects a known server delay: a 50 ms server gives p50 >= 50 ms', async () => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 50 })];
    const summary = describeRun(await load({ url: backends[0]!.url, requests: 40, concurrent: 4 }));
    expect(summary.latencyMs.p50Ms).toBeGreaterThanOrEqual(50);
    expect(summary.latencyMs.minMs).toBeGreaterThanOrEqual(50);
    expect(summary.latencyMs.maxMs).toBeGreaterThanOrEqual(summary.latencyMs.p99Ms);
  });

  it('open loop holds --rate within 5% over 5 s', async () => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 2 })];
    const result = await load({ url: backends[0]!.url, rate: 200, duration: '5s', concurrent: 20, timeline: true });
    expect(result.issued).toBe(1000);
    const rate = result.completed / 5;
    console.log(`--rate 200 for 5 s: ${result.completed} requests, ${rate.toFixed(1)} req/s over the schedule, per second ${result.timeline!.map((t) => [...t.servers.values(), 0].reduce((a, b) => a + b)).join(' ')}`);
    expect(Math.abs(rate - 200) / 200).toBeLessThan(0.05);
  });

  it('open loop counts latency from the scheduled time when the server stalls (coordinated omission)', async () => {
    // One client, a 100 ms server, 50 requests due per second: requests queue behind each other, and
    // their latency must grow with the queue, not stay at the 100 ms a closed loop would report.
    backends = [await scope.startTestServer({ port: 0, delayMs: 100 })];
    const summary = describeRun(await load({ url: backends[0]!.url, rate: 50, requests: 20, concurrent: 1 }));
    expect(summary.latencyMs.maxMs).toBeGreaterThan(1000);
    expect(summary.latencyMs.minMs).toBeGreaterThanOrEqual(100);
  });
});

describe('distribution across servers', () => {
  it('is exact through lb serve round robin', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { algorithm: 'round_robin' });
    const summary = describeRun(await load({ url: lb.url, requests: 300, concurrent: 8 }));
    expect(summary.servers.map((s) => [s.id, s.requests, s.share])).toEqual([
      ['s1', 100, 1 / 3],
      ['s2', 100, 1 / 3],
      ['s3', 100, 1 / 3],
    ]);
    expect(summary.fairness).toEqual({ maxMinRatio: 1, jainIndex: 1, againstWeights: false });
  });

  it('reads the server from a JSON body when there is no x-lb-server header', async () => {
    backends = [await scope.startTestServer({ port: 0, name: 'direct' })];
    const summary = describeRun(await load({ url: backends[0]!.url, requests: 10, concurrent: 2 }));
    expect(summary.servers.map((s) => [s.id, s.requests])).toEqual([['direct', 10]]);
  });

  it('with --cookies: no stickiness violation behind sticky sessions, violations without them', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { sticky: 'cookie' });
    const sticky = await load({ url: lb.url, requests: 200, concurrent: 10, cookies: true });
    expect(sticky.stickiness).toEqual({ clients: 10, violations: 0 });
    await lb.close();
    lb = await scope.startLb(backends);
    const loose = await load({ url: lb.url, requests: 200, concurrent: 10, cookies: true });
    expect(loose.stickiness!.violations).toBe(10);
  });
});

describe('error classes', () => {
  it('counts HTTP statuses from an --error-rate server', async () => {
    backends = [await scope.startTestServer({ port: 0, errorRate: 0.5, random: seededRandom(11) })];
    const summary = describeRun(await load({ url: backends[0]!.url, requests: 200, concurrent: 5 }));
    const fiveHundreds = summary.failures.byStatus['500']!;
    expect(fiveHundreds).toBeGreaterThan(60);
    expect(fiveHundreds).toBeLessThan(140);
    expect(summary.statuses).toEqual({ '200': 200 - fiveHundreds, '500': fiveHundreds });
    expect(summary.requests).toMatchObject({ issued: 200, succeeded: 200 - fiveHundreds, failed: fiveHundreds });
  });

  it('classifies connect refused, timeout and reset', async () => {
    const dead = await deadAddress();
    const refused = await load({ url: `http://127.0.0.1:${dead.port}/`, requests: 5, concurrent: 2 });
    expect(Object.fromEntries(refused.errors)).toEqual({ 'connect refused': 5 });

    backends = [await scope.startTestServer({ port: 0, delayMs: 2000 })];
    const slow = await load({ url: backends[0]!.url, requests: 3, concurrent: 3, timeout: 0.1 });
    expect(Object.fromEntries(slow.errors)).toEqual({ timeout: 3 });

    const resetting = createServer((req) => req.socket.destroy());
    resetting.listen(0, '127.0.0.1');
    await once(resetting, 'listening');
    scope.track({ close: async () => void resetting.close() });
    const reset = await load({ url: `http://127.0.0.1:${(resetting.address() as AddressInfo).port}/`, requests: 4, concurrent: 1 });
    expect(Object.fromEntries(reset.errors)).toEqual({ reset: 4 });
    expect(reset.issued).toBe(4);
  });
});
