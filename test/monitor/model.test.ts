import { describe, expect, it } from 'vitest';
import { MonitorModel, SERIES_LENGTH, parseServerInput } from '../../src/monitor/model.js';
import { server, snapshot } from './fixtures.js';

describe('MonitorModel', () => {
  it('computes req/s and recent error rate from counter deltas', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a', { totalRequests: 100, totalSuccesses: 100 }), server('b', { totalRequests: 50, totalSuccesses: 50 })]), 1000);
    expect(model.totalRps).toBe(0);
    model.applySnapshot(
      snapshot([
        server('a', { totalRequests: 300, totalSuccesses: 290, totalFailures: 10 }),
        server('b', { totalRequests: 50, totalSuccesses: 50 }),
      ]),
      3000,
    );
    expect(model.rates.get('a')).toMatchObject({ rps: 100, recentErrorRate: 0.05, series: [0, 100] });
    expect(model.rates.get('b')).toMatchObject({ rps: 0, series: [0, 0] });
    expect(model.totalRps).toBe(100);
    expect(model.errorsPerSecond).toBe(5);
    expect(model.recentErrorRate).toBe(0.05);
    expect(model.status).toBe('live');
  });

  it('treats a counter that went down (restart or reset) as zero, never negative', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a', { totalRequests: 500 })], { uptimeSeconds: 100 }), 0);
    model.applySnapshot(snapshot([server('a', { totalRequests: 20 })], { uptimeSeconds: 1 }), 1000);
    expect(model.rates.get('a')!.rps).toBe(0);
    expect(model.totalRps).toBe(0);
    expect(model.log.map((l) => l.text)).toContain('balancer restarted: counters start again');
  });

  it('keeps every series bounded', () => {
    const model = new MonitorModel(0);
    for (let i = 0; i < SERIES_LENGTH * 3; i++) model.applySnapshot(snapshot([server('a', { totalRequests: i * 10 })]), i * 1000);
    expect(model.rates.get('a')!.series).toHaveLength(SERIES_LENGTH);
    expect(model.totalSeries).toHaveLength(SERIES_LENGTH);
  });

  it('logs the balancer\'s events as they happened, warnings for lost servers, even a flap between two polls', () => {
    const model = new MonitorModel(0);
    const at = (s: number) => new Date(Date.UTC(2026, 10, 24, 8, 0, s)).toISOString();
    model.applyEvents([
      { id: 1, time: at(1), type: 'algorithm-switched', server: null, detail: 'round_robin -> least_connections', state: null },
      { id: 2, time: at(2), type: 'server-down', server: 'a', detail: '3 checks failed (last: HTTP 503)', state: 'down' },
      { id: 3, time: at(3), type: 'server-up', server: 'a', detail: '2 checks passed (HTTP 200)', state: 'up' },
      { id: 4, time: at(4), type: 'weight-changed', server: 'a', detail: '1 -> 5', state: 'up' },
    ]);
    expect(model.log.map((l) => [l.atMs - Date.parse(at(0)), l.level, l.text])).toEqual([
      [1000, 'info', 'balancer: algorithm-switched (round_robin -> least_connections)'],
      [2000, 'warn', 'a: server-down (3 checks failed (last: HTTP 503))'],
      [3000, 'info', 'a: server-up (2 checks passed (HTTP 200))'],
      [4000, 'info', 'a: weight-changed (1 -> 5)'],
    ]);
  });

  it('no longer invents log lines from snapshot differences', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a'), server('b')]), 0);
    model.applySnapshot(snapshot([server('a', { state: 'down', weight: 3 })], { algorithm: 'p2c' }), 1000);
    expect(model.log).toEqual([]);
  });

  it('goes stale on a failed poll, disconnected after a while, and live again on the next snapshot', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a')]), 0);
    model.applyError('cannot reach http://127.0.0.1:8081/lb/stats: connection refused', 1000);
    model.applyError('cannot reach http://127.0.0.1:8081/lb/stats: connection refused', 2000);
    expect([model.status, model.statusSinceMs]).toEqual(['stale', 1000]);
    model.markDisconnectedAfter(5000, 4000);
    expect(model.status).toBe('stale');
    model.markDisconnectedAfter(5000, 5000);
    expect(model.status).toBe('disconnected');
    model.applySnapshot(snapshot([server('a')]), 9000);
    expect(model.status).toBe('live');
    // The repeated error is logged once; the reconnection once.
    expect(model.log.map((l) => l.text)).toEqual([
      'monitor: cannot reach http://127.0.0.1:8081/lb/stats: connection refused',
      'connected again to http://127.0.0.1:8080',
    ]);
  });

  it('is disconnected at once when the first poll fails', () => {
    const model = new MonitorModel(0);
    model.applyError('cannot reach x: connection refused', 10);
    expect(model.status).toBe('disconnected');
  });
});

describe('parseServerInput', () => {
  it.each([
    ['localhost:3004', { host: 'localhost', port: 3004 }],
    ['10.0.0.5:8080:3', { host: '10.0.0.5', port: 8080, weight: 3 }],
    [' [::1]:3001 ', { host: '::1', port: 3001 }],
    ['localhost', { error: 'expected host:port or host:port:weight, got "localhost"' }],
    ['localhost:99999', { error: 'port must be 1-65535, got 99999' }],
    ['localhost:3001:0', { error: 'weight must be 1-1000, got 0' }],
    ['http://x:1', { error: 'expected host:port or host:port:weight, got "http://x:1"' }],
  ])('%s', (input, expected) => {
    expect(parseServerInput(input)).toEqual(expected);
  });
});
