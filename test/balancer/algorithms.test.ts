import { describe, expect, it } from 'vitest';
import { createAlgorithm, type AlgorithmOptions, type RequestContext } from '../../src/balancer/algorithms/index.js';
import { EXACT_SCAN_MAX } from '../../src/balancer/algorithms/least-response-time.js';
import { DEFAULT_CONFIG } from '../../src/balancer/config.js';
import { parseHashKey } from '../../src/balancer/hash-key.js';
import { Server } from '../../src/balancer/server.js';
import { ALGORITHM_NAMES, type AlgorithmName } from '../../src/shared/api-types.js';
import { seededRandom } from '../../src/shared/random.js';

const ctx = (overrides: Partial<RequestContext> = {}): RequestContext => ({
  clientIp: '127.0.0.1',
  method: 'GET',
  path: '/',
  headers: {},
  exclude: null,
  ...overrides,
});

const servers = (n: number, weights: number[] = []): Server[] =>
  Array.from({ length: n }, (_, i) => new Server({ host: '127.0.0.1', port: 3001 + i, name: String.fromCharCode(65 + i), weight: weights[i] ?? 1 }));

let now = 0;
const options = (overrides: Partial<AlgorithmOptions> = {}): AlgorithmOptions => ({
  random: seededRandom(7),
  nowMs: () => now,
  consistentHash: DEFAULT_CONFIG.consistentHash,
  hashKey: { kind: 'ip' },
  ...overrides,
});

function picker(name: AlgorithmName, pool: Server[], opts: Partial<AlgorithmOptions> = {}) {
  const algorithm = createAlgorithm(name, options(opts));
  algorithm.rebuild?.(pool);
  return (c: RequestContext = ctx()) => algorithm.pick(pool, c)?.id ?? 'none';
}

/** Puts requests in flight on the first servers, as the proxy would. */
const busy = (pool: Server[], counts: number[]): void => counts.forEach((n, i) => Array.from({ length: n }, () => pool[i]!.requestStarted()));

const sequence = (pick: (c?: RequestContext) => string, count: number, c?: (i: number) => RequestContext): string =>
  Array.from({ length: count }, (_, i) => pick(c?.(i))).join('');

function counts(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

describe.each(ALGORITHM_NAMES)('contract: %s', (name) => {
  it('picks nothing from an empty pool', () => {
    expect(sequence(picker(name, []), 3)).toBe('nonenonenone');
  });

  it('never picks a disabled, unhealthy or excluded server', () => {
    const pool = servers(4);
    pool[0]!.setDraining(true);
    pool[1]!.setHealthy(false);
    const pick = picker(name, pool);
    const seen = new Set(Array.from({ length: 200 }, (_, i) => pick(ctx({ exclude: new Set([pool[2]!]), clientIp: `10.0.0.${i}` }))));
    expect(seen).toEqual(new Set(['D']));
  });

  it('never picks a server whose circuit is open or that is at max_conns', () => {
    const pool = servers(3);
    // Three failures open A's circuit (the breaker's default threshold); B holds its one allowed request.
    for (let i = 0; i < 3; i++) pool[0]!.circuit.record(false, performance.now(), () => true);
    pool[1]!.setMaxConns(1);
    pool[1]!.requestStarted();
    expect([pool[0]!.circuit.isClosed, pool[1]!.isFull()]).toEqual([false, true]);
    const pick = picker(name, pool);
    expect(new Set(Array.from({ length: 100 }, (_, i) => pick(ctx({ clientIp: `10.0.3.${i}` }))))).toEqual(new Set(['C']));
  });

  it('always picks the only available server', () => {
    const pool = servers(3);
    pool[0]!.setHealthy(false);
    pool[2]!.setDraining(true);
    const pick = picker(name, pool);
    expect(new Set(Array.from({ length: 50 }, (_, i) => pick(ctx({ clientIp: `10.0.1.${i}` }))))).toEqual(new Set(['B']));
  });

  it('picks nothing when no server is available', () => {
    const pool = servers(2);
    for (const s of pool) s.setHealthy(false);
    expect(sequence(picker(name, pool), 2)).toBe('nonenone');
  });

  it('has no side effect on server counters', () => {
    const pool = servers(3);
    const pick = picker(name, pool);
    for (let i = 0; i < 20; i++) pick(ctx({ clientIp: `10.0.2.${i}` }));
    expect(pool.map((s) => [s.activeRequests, s.totalRequests])).toEqual([[0, 0], [0, 0], [0, 0]]);
  });
});

describe('exact sequences of the deterministic policies', () => {
  const cases: Array<[string, AlgorithmName, number[], (pool: Server[]) => void, number, string]> = [
    ['round robin cycles in order', 'round_robin', [1, 1, 1], () => {}, 7, 'ABCABCA'],
    ['round robin skips a down server, keeping the order of the others', 'round_robin', [1, 1, 1], (p) => (p[1]!.setHealthy(false)), 6, 'ACACAC'],
    ['weighted 3:2:1 interleaves (nginx smooth WRR)', 'weighted', [3, 2, 1], () => {}, 12, 'ABACBAABACBA'],
    ['weighted 5:1:1 as in nginx\'s commit message', 'weighted', [5, 1, 1], () => {}, 7, 'AABACAA'],
    ['weighted skips a down server', 'weighted', [3, 2, 1], (p) => (p[0]!.setHealthy(false)), 6, 'BCBBCB'],
    ['least connections takes the least busy', 'least_connections', [1, 1, 1], (p) => busy(p, [5, 1, 3]), 3, 'BBB'],
    ['least connections rotates among ties', 'least_connections', [1, 1, 1], () => {}, 6, 'ABCABC'],
  ];

  it.each(cases)('%s', (_name, algorithm, weights, setup, count, expected) => {
    const pool = servers(weights.length, weights);
    setup(pool);
    expect(sequence(picker(algorithm, pool), count)).toBe(expected);
  });

  it('weighted: every window of sum(weights) picks holds each server exactly weight times', () => {
    const pool = servers(4, [5, 3, 1, 7]);
    const picks = sequence(picker('weighted', pool), 16 * 50);
    for (let w = 0; w < 50; w++) {
      expect(counts([...picks.slice(w * 16, w * 16 + 16)])).toEqual({ A: 5, B: 3, C: 1, D: 7 });
    }
  });

  it('weighted: a weight change applies from the next window', () => {
    const pool = servers(2, [1, 1]);
    const pick = picker('weighted', pool);
    expect(sequence(pick, 4)).toBe('ABAB');
    pool[0]!.setWeight(3);
    expect(counts([...sequence(pick, 40)])).toEqual({ A: 30, B: 10 });
  });
});

describe('distributions (seeded, with bands)', () => {
  it('random follows the weights: weight 8 of 10 gets 7 000-9 000 of 10 000 picks', () => {
    const pick = picker('random', servers(3, [8, 1, 1]));
    const c = counts(Array.from({ length: 10_000 }, () => pick()));
    expect(c.A).toBeGreaterThanOrEqual(7000);
    expect(c.A).toBeLessThanOrEqual(9000);
    expect(c.B! + c.C!).toBe(10_000 - c.A!);
  });

  it('p2c spreads evenly over idle servers and prefers the less busy of two', () => {
    const pool = servers(4);
    const pick = picker('p2c', pool);
    const c = counts(Array.from({ length: 8000 }, () => pick()));
    for (const id of ['A', 'B', 'C', 'D']) expect(c[id]).toBeGreaterThan(1600);
    busy(pool, [10]);
    const picked = counts(Array.from({ length: 4000 }, () => pick()));
    // A is picked only when both random choices are A, which p2c never draws: never.
    expect(picked.A ?? 0).toBe(0);
  });

  it('least_response_time measures unmeasured servers first, then sends all but the starvation probes to the fastest', () => {
    const pool = servers(3);
    const pick = picker('least_response_time', pool);
    expect(new Set([pick(), pick(), pick()])).toEqual(new Set(['A', 'B', 'C']));
    now = 1000;
    pool[0]!.requestFinished(true, 5, null, now);
    pool[1]!.requestFinished(true, 50, null, now);
    pool[2]!.requestFinished(true, 200, null, now);
    const c = counts(Array.from({ length: 2400 }, () => pick()));
    // Every server is scored: B and C get only the probe each is owed after 8 x 3 picks without one.
    expect(c.B).toBe(c.C);
    expect(c.B).toBeGreaterThan(2400 / 30);
    expect(c.B).toBeLessThan(2400 / 24);
    expect(c.A).toBe(2400 - c.B! - c.C!);
  });

  it('least_response_time scores every server of a small pool: cost is latency x (in flight + 1), exactly', () => {
    now = 0;
    const pool = servers(3);
    const pick = picker('least_response_time', pool);
    pool.forEach((s, i) => s.requestFinished(true, [5, 50, 200][i]!, null, now));
    pick();
    pick();
    pick();
    expect(pick()).toBe('A');
    // A with 9 in flight costs 5 x 10 = 50, as much as idle B: a tie, and each gets picks (the scan starts
    // one server further each pick, the first of the cheapest wins).
    busy(pool, [9]);
    expect(new Set([pick(), pick(), pick()])).toEqual(new Set(['A', 'B']));
    // One more on A (55 > 50): B, until B is as busy; C (200) only past A at 39 in flight.
    busy(pool, [1]);
    expect([pick(), pick(), pick()]).toEqual(['B', 'B', 'B']);
  });

  it(`least_response_time over more than ${EXACT_SCAN_MAX} servers draws two at random (O(1) a pick), so the cheapest is not always chosen`, () => {
    now = 0;
    const pool = servers(EXACT_SCAN_MAX + 8);
    const pick = picker('least_response_time', pool);
    pool.forEach((s, i) => s.requestFinished(true, 10 + i, null, now));
    for (let i = 0; i < pool.length; i++) pick();
    const c = counts(Array.from({ length: 4000 }, () => pick()));
    // Scoring all would send nearly everything to A; two random candidates send it ~2/n of the picks.
    expect(c.A ?? 0).toBeLessThan(400);
    expect(Object.keys(c).length).toBeGreaterThan(pool.length / 2);
  });

  it('least_response_time never starves a server that was slow once (traefik#12306)', () => {
    // Five identical servers; E answers its first few requests slowly, then like the others. Every
    // request takes 10 ms of fake time and completes before the next, as in the Traefik report.
    now = 0;
    const pool = servers(5);
    const pick = picker('least_response_time', pool);
    const picks: string[] = [];
    let slowLeft = 3;
    for (let i = 0; i < 1500; i++) {
      const id = pick();
      picks.push(id);
      const server = pool.find((s) => s.id === id)!;
      const latency = id === 'E' && slowLeft-- > 0 ? 2000 : 10;
      now += 10;
      server.requestFinished(true, latency, null, now);
    }
    const c = counts(picks);
    // Fair share is 300; Traefik's leasttime gave the slow-once server 5.
    expect(c.E).toBeGreaterThan(150);
  });
});

describe('consistent_hash', () => {
  const keys = (n: number) => Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const mapKeys = (pool: Server[], ks: string[], opts: Partial<AlgorithmOptions> = {}) => {
    const pick = picker('consistent_hash', pool, opts);
    return ks.map((k) => pick(ctx({ clientIp: k })));
  };

  it('maps the same key to the same server, pinned for a few keys', () => {
    const pool = servers(3);
    const first = mapKeys(pool, keys(6));
    expect(mapKeys(pool, keys(6))).toEqual(first);
    expect(first).toMatchInlineSnapshot(`
      [
        "C",
        "A",
        "B",
        "C",
        "C",
        "C",
      ]
    `);
  });

  it.each(['fnv1a', 'djb2', 'md5', 'sha1'] as const)('removing one of 5 servers moves only its keys (%s)', (hashFunction) => {
    const pool = servers(5);
    const ks = keys(10_000);
    const before = mapKeys(pool, ks, { consistentHash: { virtualNodes: 160, hashFunction } });
    const after = mapKeys(pool.filter((s) => s.id !== 'C'), ks, { consistentHash: { virtualNodes: 160, hashFunction } });
    const moved = ks.filter((_, i) => before[i] !== after[i]);
    expect(moved.length).toBe(before.filter((id) => id === 'C').length);
    expect(ks.every((_, i) => before[i] === 'C' || before[i] === after[i])).toBe(true);
  });

  it('adding a server moves keys only to it, about 1/(N+1) of them', () => {
    const pool = servers(5);
    const ks = keys(10_000);
    const before = mapKeys(pool.slice(0, 4), ks);
    const after = mapKeys(pool, ks);
    const moved = ks.filter((_, i) => before[i] !== after[i]);
    expect(moved.every((_, i) => after[ks.indexOf(moved[i]!)] === 'E')).toBe(true);
    expect(moved.length).toBeGreaterThan(1500);
    expect(moved.length).toBeLessThan(2500);
  });

  it('walks past an unavailable server and gives its keys back when it returns', () => {
    const pool = servers(4);
    const ks = keys(2000);
    const pick = picker('consistent_hash', pool);
    const before = ks.map((k) => pick(ctx({ clientIp: k })));
    pool[1]!.setHealthy(false);
    const during = ks.map((k) => pick(ctx({ clientIp: k })));
    expect(during.includes('B')).toBe(false);
    expect(ks.every((_, i) => before[i] === 'B' || before[i] === during[i])).toBe(true);
    pool[1]!.setHealthy(true);
    expect(ks.map((k) => pick(ctx({ clientIp: k })))).toEqual(before);
  });

  it('spreads 100 000 keys over 10 servers, each within the statistical band (bench/hash-spread.mjs prints the figures)', () => {
    const pool = Array.from({ length: 10 }, (_, i) => new Server({ host: `10.0.0.${i + 1}`, port: 8080 }));
    const ks = keys(100_000);
    for (const [hashFunction, virtualNodes] of [['fnv1a', 160], ['md5', 160], ['fnv1a', 1000]] as const) {
      const c = Object.values(counts(mapKeys(pool, ks, { consistentHash: { virtualNodes, hashFunction } })));
      const worst = Math.max(...c.map((n) => Math.abs(n - 10_000) / 10_000));
      // 160 independent points per server leave each share a relative spread of 1/sqrt(160) = 7.9%
      // (a Gamma(160) sum of arcs), so the worst of ten is ~12-16%: ±20% is the honest band there.
      expect(worst).toBeLessThan(virtualNodes >= 1000 ? 0.1 : 0.2);
    }
  });

  it.each([
    ['header:x-user', { headers: { 'x-user': 'alice' } }, { headers: { 'x-user': 'alice' }, clientIp: '10.9.9.9' }],
    ['cookie:uid', { headers: { cookie: 'a=1; uid=42' } }, { headers: { cookie: 'uid=42' }, clientIp: '10.9.9.9' }],
    ['path', { path: '/users/7?x=1' }, { path: '/users/7?x=2', clientIp: '10.9.9.9' }],
    ['query:id', { path: '/a?id=77' }, { path: '/b?x=1&id=77', clientIp: '10.9.9.9' }],
  ])('keys on %s, whatever the client IP', (spec, a, b) => {
    const pool = servers(8);
    const pick = picker('consistent_hash', pool, { hashKey: parseHashKey(spec, '--hash-key') });
    const first = pick(ctx(a as Partial<RequestContext>));
    for (let i = 0; i < 20; i++) expect(pick(ctx({ ...(b as Partial<RequestContext>), clientIp: `10.8.0.${i}` }))).toBe(first);
  });

  it('rejects a bad hash key spec', () => {
    expect(() => parseHashKey('header:', '--hash-key')).toThrow('--hash-key: must be ip, path, header:NAME, cookie:NAME or query:NAME, got "header:"');
  });
});
