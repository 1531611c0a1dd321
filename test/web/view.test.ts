/**
 * The web page's pure parts, without a browser: what it writes (view.ts), what its forms accept
 * (forms.ts), its chart columns (series.ts), and the rates and bounds it shares with the monitor and
 * the balancer (src/shared/). The DOM side is test/web/dashboard.test.ts, in Chromium.
 */
import { describe, expect, it } from 'vitest';
import { createLoadTestControl } from '../../src/loadtest/embedded.js';
import type { BalancerEvent, LoadTestStatus } from '../../src/shared/api-types.js';
import { LOAD_TEST_LIMITS, MAX_WEIGHT } from '../../src/shared/limits.js';
import { totalsRates } from '../../src/shared/rates.js';
import { checkAddServer, checkCustomTest, checkWeight } from '../../src/web/forms.js';
import { axisLabels, clockTime, latestOf, legendValue } from '../../src/web/chart-text.js';
import { ChartSeries, SERIES_LENGTH } from '../../src/web/series.js';
import { clusterSummary, eventLine, INSTANCE_COLUMNS, instanceCells, overviewText, SERVER_COLUMNS, serverCells, serverRequestRates, testProgress, testReport } from '../../src/web/view.js';
import { server, snapshot, worker } from '../monitor/fixtures.js';

describe('overview cards', () => {
  it('rates between two snapshots, as the monitor counts them', () => {
    const before = snapshot([server('a', { totalRequests: 100, totalFailures: 0 })]);
    const now = snapshot([server('a', { totalRequests: 140, totalFailures: 3, state: 'down' }), server('b')], { uptimeSeconds: 3725 });
    expect(overviewText(now, totalsRates(now.totals, before.totals, 2))).toEqual({
      algorithm: 'round_robin',
      servers: '1 / 2',
      rps: '20.0',
      errors: '7.5%',
      active: '0',
      total: '140',
      sessions: 'off',
      limited: 'off',
      uptime: '1h02m',
      workers: '1',
    });
  });

  it('the workers card counts the processes and says how many are restarting', () => {
    const rates = totalsRates(snapshot([]).totals, null, 0);
    expect(overviewText(snapshot([], { workers: [worker(1, 'up'), worker(2, 'up')] }), rates).workers).toBe('2');
    expect(overviewText(snapshot([], { workers: [worker(1, 'up'), worker(2, 'starting'), worker(3, 'up')] }), rates).workers).toBe('3 (1 starting)');
  });

  it('a counter that went down (restart or reset) reads as no traffic, not a negative rate', () => {
    const rates = totalsRates({ requests: 5, failures: 0 }, { requests: 900, failures: 40 }, 2);
    expect(rates).toEqual({ requestsPerSecond: 0, failuresPerSecond: 0, errorRate: 0 });
    expect(totalsRates({ requests: 5, failures: 0 }, null, 2)).toEqual(rates);
  });

  it('sessions and the rate limit show their counts only while on', () => {
    const on = snapshot([server('a')], { sessions: { mode: 'cookie', active: 7, capacity: 100, ttlSeconds: 60 } });
    on.limits.rateLimitPerSecond = 50;
    on.totals.rateLimited = 12;
    const text = overviewText(on, totalsRates(on.totals, null, 0));
    expect([text.sessions, text.limited]).toEqual(['7', '12 (50/s)']);
  });
});

describe('servers table, events and tests', () => {
  it('a row in the order of the headers', () => {
    // Avg and P99 over the last minute (not the totals since start), then least_response_time's score.
    const s = server('a&ltb', { state: 'ejected', circuit: 'half_open', totalRequests: 40, totalFailures: 2, errorRate: 0.05, avgResponseTimeMs: 99, recentAvgResponseTimeMs: 4.25, recentP99ResponseTimeMs: Number.NaN, latencyScoreMs: 7, weight: 3, activeRequests: 1 });
    expect(serverCells(s, 12.345)).toEqual(['a&ltb', 'ejected', '1', '12.3', '40', '2', '5.0%', '4.3', '-', '7.0', '3', 'half_open']);
    expect(serverCells(s, null)[3]).toBe('-');
    expect(SERVER_COLUMNS.map((c) => c.header)).toEqual(['Server', 'State', 'Active', 'Req/s', 'Requests', 'Errors', 'Err %', 'Avg ms', 'P99 ms', 'Score', 'Weight', 'Circuit']);
  });

  it("each server's req/s between two polls: unknown (null) without an earlier one, 0 after a reset", () => {
    const before = [server('a', { totalRequests: 100 }), server('b', { totalRequests: 900 })];
    const now = [server('a', { totalRequests: 140 }), server('b', { totalRequests: 5 }), server('c', { totalRequests: 7 })];
    expect(serverRequestRates(now, before, 2)).toEqual(new Map([['a', 20], ['b', 0], ['c', null]]));
    expect(serverRequestRates(now, null, 0)).toEqual(new Map([['a', null], ['b', null], ['c', null]]));
  });

  it('an event line', () => {
    const e: BalancerEvent = { id: 1, time: '2026-11-23T12:34:56.789Z', type: 'server-down', server: 's1', detail: '3 failed checks', state: 'down' };
    expect(eventLine(e)).toBe('12:34:56  server-down s1: 3 failed checks');
    expect(eventLine({ ...e, type: 'counters-reset', server: null, detail: '' })).toBe('12:34:56  counters-reset');
  });

  it('a test in progress, then its report', () => {
    const running: LoadTestStatus = {
      running: true,
      spec: { kind: 'stress', concurrency: 20, durationSeconds: 30 },
      startedAt: null,
      progress: { done: 300, total: null, elapsedMs: 15_400, durationMs: 30_000, currentRps: 19.6, errors: 1 },
      summary: null,
      error: null,
    };
    expect(testProgress(running)).toEqual({ value: 15_400 / 30_000, text: 'stress: 15s/30s, 20 req/s, 1 errors' });
    expect(testReport(running)).toBeNull();
    const done: LoadTestStatus = {
      ...running,
      running: false,
      spec: { kind: 'load', concurrency: 5, requests: 50 },
      progress: { done: 50, total: 50, elapsedMs: 400, durationMs: null, currentRps: 125, errors: 0 },
      summary: {
        requests: { issued: 50, completed: 50, succeeded: 49, failed: 1, cancelled: 0 },
        errorRate: 0.02,
        throughputRps: 125,
        durationSeconds: 0.4,
        latencyMs: { meanMs: 1.5, p50Ms: 1.25, p90Ms: 2, p99Ms: 3, maxMs: 4 },
        servers: [{ id: 's1', requests: 50, share: 1, p99Ms: 3, errors: 1 }],
      },
    };
    expect(testProgress(done)).toEqual({ value: 1, text: '' });
    expect(testReport(done)).toEqual({
      head: 'load test: 50 requests in 0.40 s, 125.0 req/s, 49 succeeded, 1 failed (2.0%)',
      latency: 'latency mean 1.50 ms, p50 1.25, p90 2.00, p99 3.00, max 4.00 ms',
      headers: ['Server', 'Requests', 'Share', 'P99 ms', 'Errors'],
      rows: [['s1', '50', '100%', '3.00', '1']],
    });
  });
});

describe("forms check with the balancer's own bounds", () => {
  it.each([
    [['127.0.0.1', '3004', ''], { ok: true, value: { host: '127.0.0.1', port: 3004 } }],
    [[' api.local ', '80', '7'], { ok: true, value: { host: 'api.local', port: 80, weight: 7 } }],
    [['', '3004', ''], { ok: false, problem: 'host must be a host name or IP address' }],
    [['http://x', '3004', ''], { ok: false, problem: 'host must be a host name or IP address' }],
    [['127.0.0.1', 'not a port', ''], { ok: false, problem: 'port must be an integer 1-65535' }],
    [['127.0.0.1', '65536', ''], { ok: false, problem: 'port must be an integer 1-65535' }],
    [['127.0.0.1', '3004', String(MAX_WEIGHT)], { ok: true, value: { host: '127.0.0.1', port: 3004, weight: MAX_WEIGHT } }],
    [['127.0.0.1', '3004', String(MAX_WEIGHT + 1)], { ok: false, problem: `weight must be an integer 1-${MAX_WEIGHT}` }],
  ])('add server %j', ([host, port, weight], expected) => {
    expect(checkAddServer(host!, port!, weight!)).toEqual(expected);
  });

  it('a weight in a row, and the custom test', () => {
    expect([checkWeight(' 5 '), checkWeight('0'), checkWeight('1.5')]).toEqual([
      { ok: true, value: 5 },
      { ok: false, problem: 'weight must be an integer 1-1000' },
      { ok: false, problem: 'weight must be an integer 1-1000' },
    ]);
    expect(checkCustomTest('200', '10')).toEqual({ ok: true, value: { kind: 'custom', requests: 200, concurrency: 10 } });
    expect(checkCustomTest('10001', '10')).toEqual({ ok: false, problem: 'requests must be an integer 1-10000' });
    expect(checkCustomTest('200', '101')).toEqual({ ok: false, problem: 'concurrency must be an integer 1-100' });
  });

  // The page checks and the runner refuses with the same bounds (src/shared/limits.ts).
  it('the built-in tests refuse exactly past the limits the page checks', () => {
    const control = createLoadTestControl('http://127.0.0.1:1/');
    const refusal = (spec: Parameters<typeof control.start>[0]): string => {
      try {
        control.start(spec);
      } catch (err) {
        return (err as Error).message;
      }
      control.stop();
      return 'started';
    };
    expect(refusal({ kind: 'custom', requests: LOAD_TEST_LIMITS.requests + 1 })).toContain(`must be an integer 1-${LOAD_TEST_LIMITS.requests},`);
    expect(refusal({ kind: 'custom', concurrency: LOAD_TEST_LIMITS.concurrency + 1 })).toContain(`must be an integer 1-${LOAD_TEST_LIMITS.concurrency},`);
    expect(refusal({ kind: 'stress', durationSeconds: LOAD_TEST_LIMITS.durationSeconds + 1 })).toContain(`must be an integer 1-${LOAD_TEST_LIMITS.durationSeconds},`);
    control.close();
  });
});

describe('chart columns', () => {
  it('line up with the time column: a late server starts with gaps, a removed one goes', () => {
    const series = new ChartSeries();
    const rates = { requestsPerSecond: 5, failuresPerSecond: 1, errorRate: 0.2 };
    series.add(1000, rates, [server('a', { ewmaLatencyMs: 3 })], new Map([['a', null]]));
    series.add(3000, rates, [server('a', { ewmaLatencyMs: 4 }), server('b', { ewmaLatencyMs: 9, activeRequests: 2 })], new Map([['a', 6], ['b', null]]));
    expect(series.times).toEqual([1, 3]);
    expect(series.latency()).toEqual({ names: ['a', 'b'], columns: [[3, 4], [null, 9]] });
    expect(series.active()).toEqual({ names: ['a', 'b'], columns: [[0, 0], [null, 2]] });
    expect(series.serverRequests()).toEqual({ names: ['a', 'b'], columns: [[null, 6], [null, null]] });
    series.add(5000, rates, [server('b', { ewmaLatencyMs: 8 })], new Map([['b', 1.5]]));
    expect(series.latency()).toEqual({ names: ['b'], columns: [[null, 9, 8]] });
    expect(series.serverRequests()).toEqual({ names: ['b'], columns: [[null, null, 1.5]] });
    expect(series.traffic()).toEqual({ names: ['req/s', 'errors/s'], columns: [[5, 5, 5], [1, 1, 1]] });
  });

  it(`keep the last ${SERIES_LENGTH} samples`, () => {
    const series = new ChartSeries();
    for (let i = 0; i < SERIES_LENGTH + 5; i++) series.add(i * 1000, { requestsPerSecond: i, failuresPerSecond: 0, errorRate: 0 }, [server('a')], new Map([['a', i]]));
    expect(series.times).toHaveLength(SERIES_LENGTH);
    expect(series.times[0]).toBe(5);
    expect(series.latency().columns[0]).toHaveLength(SERIES_LENGTH);
    expect(series.serverRequests().columns[0]).toEqual(Array.from({ length: SERIES_LENGTH }, (_, i) => i + 5));
  });
});

describe('chart texts', () => {
  // Regression: uPlot's default wrote 20000 as "20,000" into a 50 px axis, which showed "0,000".
  it.each([
    [[0, 5000, 10_000, 15_000, 20_000], 5000, ['0', '5k', '10k', '15k', '20k']],
    [[0, 500, 1000, 1500], 500, ['0', '0.5k', '1k', '1.5k']],
    [[0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000], 250_000, ['0', '0.25M', '0.5M', '0.75M', '1M', '1.25M']],
    [[2e9, 4e9], 2e9, ['2G', '4G']],
    [[0, 50, 100, 150], 50, ['0', '50', '100', '150']],
    [[0, 0.5, 1, 1.5], 0.5, ['0', '0.5', '1', '1.5']],
    [[0.1, 0.2, 0.30000000000000004], 0.1, ['0.1', '0.2', '0.3']],
    [[0, 0.25, 0.5], 0.25, ['0', '0.25', '0.5']],
  ])('axis ticks %j read %j', (ticks, step, labels) => {
    expect(axisLabels(ticks, step)).toEqual(labels);
  });

  it('no label is longer than 5 characters, from 1 to 2 000 000 000 000', () => {
    for (let magnitude = 1; magnitude <= 1e11; magnitude *= 10) {
      for (const step of [1, 2, 2.5, 5]) {
        const ticks = [0, 1, 2, 3, 4].map((i) => i * step * magnitude);
        for (const label of axisLabels(ticks, step * magnitude)) expect(label.length, `${label} (step ${step * magnitude})`).toBeLessThanOrEqual(5);
      }
    }
  });

  it('legend values: the newest sample while nothing is hovered, compact, "-" for none', () => {
    expect([legendValue(143.66), legendValue(3), legendValue(20_000), legendValue(12_345.6), legendValue(2_500_000)]).toEqual(['143.7', '3', '20k', '12.3k', '2.5M']);
    expect([legendValue(null), legendValue(undefined), legendValue(Number.NaN)]).toEqual(['-', '-', '-']);
    expect([latestOf([1, 2, null]), latestOf([null, null]), latestOf([])]).toEqual([2, null, null]);
    const noon = new Date(2026, 10, 23, 12, 5, 9).getTime() / 1000;
    expect([clockTime(noon), clockTime(null)]).toEqual(['12:05:09', '-']);
  });
});

describe('the instances panel (lb serve --store)', () => {
  const instance = { id: 'vm-1-aa', self: true, url: 'http://127.0.0.1:8080', adminUrl: 'http://127.0.0.1:8081', version: '0.1.0', uptimeSeconds: 65, configVersion: '7', requests: 120, failures: 3, activeRequests: 1, requestsPerSecond: 12.25, serversDown: ['s2', 's3'] };
  it('one cell per column, this instance named so, the servers its checks see down', () => {
    expect(INSTANCE_COLUMNS.map((c) => c.header)).toEqual(['Instance', 'Traffic URL', 'Admin URL', 'Req/s', 'Requests', 'Errors', 'Config', 'Uptime', 'Sees down']);
    expect(instanceCells(instance)).toEqual(['vm-1-aa (this one)', 'http://127.0.0.1:8080', 'http://127.0.0.1:8081', '12.3', '120', '3', '7', '1m05s', 's2, s3']);
    expect(instanceCells({ ...instance, self: false, serversDown: [] })[8]).toBe('-');
  });

  it('the summary line says how many instances, their req/s together, and when the store is away', () => {
    const cluster = { cluster: 'prod', connected: true, quorum: 0, seenUp: {}, instances: [instance], totals: { instances: 1, requests: 120, failures: 3, activeRequests: 1, requestsPerSecond: 12.25 } };
    expect(clusterSummary(cluster)).toBe('cluster prod · 1 instance · 12.3 req/s together · store connected');
    expect(clusterSummary({ ...cluster, connected: false, totals: { ...cluster.totals, instances: 2 } })).toBe('cluster prod · 2 instances · 12.3 req/s together · store unreachable: changes refused, serving on the last state');
  });
});
