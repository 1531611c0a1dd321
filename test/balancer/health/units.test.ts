import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG } from '../../../src/balancer/config.js';
import { CircuitBreaker } from '../../../src/balancer/health/circuit-breaker.js';
import { HealthState } from '../../../src/balancer/health/health-state.js';
import { PassiveHealth } from '../../../src/balancer/health/passive.js';
import { ServerPool } from '../../../src/balancer/pool.js';
import { RetryBudget } from '../../../src/balancer/retry-budget.js';

describe('HealthState (rise/fall)', () => {
  it('flips down after `fall` failures in a row and up after `rise` passes in a row', () => {
    const state = new HealthState(2, 3);
    const flips = [false, true, false, false, false, true, false, true, true].map((ok) => state.observe(ok));
    // ok fails: 1 (reset by the pass), then 3 in a row -> down; pass, fail (reset), pass, pass -> up
    expect(flips).toEqual([false, false, false, false, true, false, false, false, true]);
    expect(state.healthy).toBe(true);
  });

  it('can start unhealthy and needs `rise` passes to come up', () => {
    const state = new HealthState(2, 3, false);
    expect([state.observe(true), state.observe(true)]).toEqual([false, true]);
  });
});

describe('CircuitBreaker (fake clock)', () => {
  const always = () => true;

  it('opens after fail_threshold consecutive failures, and a success in between resets the count', () => {
    const breaker = new CircuitBreaker({ failThreshold: 3, openTimeMs: 5000 });
    expect([false, false, true, false, false].map((ok) => breaker.record(ok, 0, always))).toEqual([null, null, null, null, null]);
    expect(breaker.record(false, 10, always)).toBe('opened');
    expect(breaker.stateAt(10)).toBe('open');
    expect(breaker.allows(4999 + 10)).toBe(false);
  });

  it('lets exactly one trial through after open_time; success closes', () => {
    const breaker = new CircuitBreaker({ failThreshold: 1, openTimeMs: 5000 });
    breaker.record(false, 0, always);
    expect(breaker.stateAt(5000)).toBe('half_open');
    expect(breaker.allows(5000)).toBe(true);
    expect(breaker.requestStarted(5000)).toBe('half-opened');
    expect(breaker.allows(5001)).toBe(false);
    expect(breaker.record(true, 5100, always)).toBe('closed');
    expect([breaker.stateAt(5100), breaker.allows(5100)]).toEqual(['closed', true]);
  });

  it('re-opens for another open_time when the trial fails', () => {
    const breaker = new CircuitBreaker({ failThreshold: 1, openTimeMs: 1000 });
    breaker.record(false, 0, always);
    breaker.requestStarted(1000);
    expect(breaker.record(false, 1200, always)).toBe('opened');
    expect(breaker.allows(2199)).toBe(false);
    expect(breaker.allows(2200)).toBe(true);
  });

  it('stays closed when the guard refuses, and frees the trial slot when a trial is abandoned', () => {
    const breaker = new CircuitBreaker({ failThreshold: 2, openTimeMs: 1000 });
    breaker.record(false, 0, () => false);
    expect(breaker.record(false, 0, () => false)).toBeNull();
    expect(breaker.stateAt(0)).toBe('closed');
    expect(breaker.record(false, 0, always)).toBe('opened');
    breaker.requestStarted(1000);
    expect(breaker.allows(1000)).toBe(false);
    breaker.abandon();
    expect(breaker.allows(1000)).toBe(true);
  });
});

describe('RetryBudget (fake clock)', () => {
  it('allows retries up to max(min, ratio x requests) in the window, and refills as the window slides', () => {
    const budget = new RetryBudget(0.2, 3, 10_000);
    for (let i = 0; i < 100; i++) budget.recordRequest(1000);
    const granted = Array.from({ length: 30 }, () => budget.tryRetry(1000)).filter(Boolean).length;
    expect(granted).toBe(20);
    // 11 s later the old second has left the window: the floor of 3 applies to a quiet balancer.
    expect(Array.from({ length: 5 }, () => budget.tryRetry(12_000)).filter(Boolean).length).toBe(3);
  });
});

describe('PassiveHealth ejection cap', () => {
  const config = DEFAULT_CONFIG.circuitBreaker;
  const fail = (passive: PassiveHealth, pool: ServerPool) => {
    for (let round = 0; round < 3; round++) for (const s of pool.servers) passive.record(s, false, 'HTTP 500');
  };

  it('ejects at most max_ejection_percent of the pool when every server fails', () => {
    const pool = new ServerPool(Array.from({ length: 4 }, (_, i) => ({ host: '127.0.0.1', port: 3001 + i })));
    const events: string[] = [];
    const passive = new PassiveHealth(pool, config, (type, server) => events.push(`${type} ${server.port}`), () => 0);
    fail(passive, pool);
    expect(pool.servers.map((s) => s.state)).toEqual(['ejected', 'ejected', 'up', 'up']);
    expect(events).toEqual(['circuit-open 3001', 'circuit-open 3002', 'ejection-refused 3003', 'ejection-refused 3004']);
  });

  it('never ejects the last available server', () => {
    const pool = new ServerPool([{ host: '127.0.0.1', port: 3001 }]);
    const passive = new PassiveHealth(pool, { ...config, maxEjectionPercent: 100 }, () => undefined, () => 0);
    fail(passive, pool);
    expect(pool.servers[0]!.state).toBe('up');
  });

  it('does nothing when the breaker is disabled', () => {
    const pool = new ServerPool([{ host: '127.0.0.1', port: 3001 }, { host: '127.0.0.1', port: 3002 }]);
    const passive = new PassiveHealth(pool, { ...config, enabled: false }, () => undefined, () => 0);
    fail(passive, pool);
    expect(pool.servers.map((s) => s.state)).toEqual(['up', 'up']);
  });
});
