import { describe, expect, it } from 'vitest';
import { createAlgorithm, type RequestContext } from '../../src/balancer/algorithms/index.js';
import { DEFAULT_CONFIG, type StickyConfig } from '../../src/balancer/config.js';
import { Server } from '../../src/balancer/server.js';
import { StickySessions } from '../../src/balancer/sticky.js';
import { seededRandom } from '../../src/shared/random.js';

let now = 0;
const config = (overrides: Partial<StickyConfig> = {}): StickyConfig => ({ ...DEFAULT_CONFIG.sticky, mode: 'cookie', secret: 'test-secret', ...overrides });
const servers = (n: number) => Array.from({ length: n }, (_, i) => new Server({ host: '10.0.0.1', port: 3001 + i }));
const ctx = (cookie?: string, clientIp = '127.0.0.1'): RequestContext => ({ clientIp, method: 'GET', path: '/', headers: cookie ? { cookie } : {}, exclude: null });
const fallback = () => createAlgorithm('round_robin', { random: seededRandom(1), nowMs: () => now, consistentHash: DEFAULT_CONFIG.consistentHash, hashKey: { kind: 'ip' } });
const cookieOf = (setCookie: string | null) => setCookie?.split(';')[0];

describe('sticky cookie', () => {
  it('sets an HttpOnly, SameSite=Lax cookie that names no address, and follows it', () => {
    const pool = servers(3);
    const sticky = new StickySessions(config({ ttlMs: 60_000 }), () => now);
    const rr = fallback();
    const first = sticky.route(pool, ctx(), rr);
    expect(first.server?.id).toBe('10.0.0.1:3001');
    expect(first.setCookie).toMatch(/^lb_session=[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}; Path=\/; Max-Age=60; HttpOnly; SameSite=Lax$/);
    expect(first.setCookie).not.toContain('10.0.0.1');
    expect(first.setCookie).not.toContain('3001');
    for (let i = 0; i < 10; i++) {
      const again = sticky.route(pool, ctx(cookieOf(first.setCookie)), rr);
      expect(again).toEqual({ server: pool[0], setCookie: null });
    }
  });

  it('re-routes and re-sets the cookie when its server is unavailable, keeping the session id', () => {
    const pool = servers(3);
    const sticky = new StickySessions(config(), () => now);
    const rr = fallback();
    const cookie = cookieOf(sticky.route(pool, ctx(), rr).setCookie)!;
    pool[0]!.setHealthy(false);
    const moved = sticky.route(pool, ctx(cookie), rr);
    expect(moved.server).not.toBe(pool[0]);
    expect(cookieOf(moved.setCookie)!.split('.')[0]).toBe(cookie.split('.')[0]);
    expect(sticky.stats().active).toBe(1);
  });

  it('ignores forged or foreign cookies', () => {
    const pool = servers(2);
    const rr = fallback();
    const other = new StickySessions(config({ secret: 'other-secret' }), () => now);
    const foreign = cookieOf(other.route(pool, ctx(), rr).setCookie)!;
    const sticky = new StickySessions(config(), () => now);
    for (const cookie of [foreign, 'lb_session=xxxxxxxxxxxxxxxx.10.0.0.1:3002', 'lb_session=garbage', 'lb_session=']) {
      expect(sticky.route(pool, ctx(cookie), rr).setCookie).not.toBeNull();
    }
  });

  it('counts sessions within the idle timeout and bounds the table', () => {
    now = 0;
    const pool = servers(2);
    const sticky = new StickySessions(config({ ttlMs: 1000, maxSessions: 50 }), () => now);
    const rr = fallback();
    for (let i = 0; i < 30; i++) sticky.route(pool, ctx(), rr);
    expect(sticky.stats().active).toBe(30);
    now = 500;
    for (let i = 0; i < 40; i++) sticky.route(pool, ctx(), rr);
    expect(sticky.stats()).toMatchObject({ active: 50, capacity: 50 });
    // 70 sessions seen, 50 kept: the 20 least recently seen went first.
    now = 1200; // the 10 remaining from the first wave are idle past the TTL; the 40 from the second are not
    expect(sticky.stats().active).toBe(40);
    now = 1600;
    expect(sticky.stats().active).toBe(0);
  });
});

describe('sticky ip', () => {
  it('keeps each client address on one server and moves only the clients of a removed one', () => {
    const pool = servers(4);
    const sticky = new StickySessions(config({ mode: 'ip' }), () => now);
    const rr = fallback();
    const ips = Array.from({ length: 400 }, (_, i) => `192.0.2.${i % 256}-${i}`);
    const before = ips.map((ip) => sticky.route(pool, ctx(undefined, ip), rr).server!.id);
    expect(ips.map((ip) => sticky.route(pool, ctx(undefined, ip), rr).server!.id)).toEqual(before);
    const fewer = pool.filter((_, i) => i !== 2);
    const after = ips.map((ip) => sticky.route(fewer, ctx(undefined, ip), rr).server!.id);
    expect(ips.every((_, i) => before[i] === pool[2]!.id || before[i] === after[i])).toBe(true);
    expect(new Set(before).size).toBe(4);
  });
});
