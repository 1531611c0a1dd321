import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { ALGORITHM_NAMES, type AlgorithmName } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closedAfterEach } from '../helpers/servers.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

async function get(path = '/', headers: Record<string, string> = {}): Promise<{ status: number; server: string; setCookie: string | null }> {
  const res = await fetch(`${lb!.url}${path}`, { headers });
  await res.arrayBuffer();
  return { status: res.status, server: res.headers.get('x-lb-server') ?? '', setCookie: res.headers.get('set-cookie') };
}

function tally(ids: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const id of ids) out[id] = (out[id] ?? 0) + 1;
  return out;
}

describe('every algorithm through lb serve with real test servers', () => {
  const expectations: Record<AlgorithmName, (counts: Record<string, number>) => void> = {
    round_robin: (c) => expect(c).toEqual({ s1: 20, s2: 20, s3: 20 }),
    least_connections: (c) => expect(c).toEqual({ s1: 20, s2: 20, s3: 20 }),
    weighted: (c) => expect(c).toEqual({ s1: 30, s2: 20, s3: 10 }),
    least_response_time: (c) => expect(Object.keys(c).sort()).toEqual(['s1', 's2', 's3']),
    // Keyed by client IP, and every request comes from 127.0.0.1: one client, one server, all 60 times.
    consistent_hash: (c) => expect(Object.values(c)).toEqual([60]),
    p2c: (c) => expect(Object.keys(c).sort()).toEqual(['s1', 's2', 's3']),
    random: (c) => expect(Object.keys(c).sort()).toEqual(['s1', 's2', 's3']),
  };

  it.each(ALGORITHM_NAMES)('%s', async (algorithm) => {
    backends = await scope.startServers(3);
    const weights = [3, 2, 1];
    lb = await scope.startLb([], {
      algorithm,
      file: backends.map((b, i) => ({ host: '127.0.0.1', port: b.port, name: b.name, weight: algorithm === 'weighted' ? weights[i] : 1 })),
    });
    const results = [];
    for (let i = 0; i < 60; i++) results.push(await get(`/item/${i}`));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expectations[algorithm](tally(results.map((r) => r.server)));
    expect(lb.stats().algorithm).toBe(algorithm);
  });

  it('consistent_hash keyed on a header keeps each user on one server', async () => {
    backends = await scope.startServers(4);
    lb = await scope.startLb(backends, { algorithm: 'consistent_hash', hashKey: 'header:x-user' });
    const homes = new Map<string, string>();
    for (let round = 0; round < 5; round++) {
      for (let u = 0; u < 40; u++) {
        const { server } = await get('/', { 'x-user': `user-${u}` });
        if (!homes.has(`user-${u}`)) homes.set(`user-${u}`, server);
        expect(server).toBe(homes.get(`user-${u}`));
      }
    }
    expect(new Set(homes.values()).size).toBe(4);
  });

  it('switches algorithm under load without failing a request', async () => {
    backends = await scope.startServers(3, { delayMs: 2 });
    lb = await scope.startLb(backends);
    const limit = pLimit(20);
    const statuses = await Promise.all(
      Array.from({ length: 700 }, (_, i) =>
        limit(async () => {
          if (i % 100 === 0) lb!.admin.setAlgorithm(ALGORITHM_NAMES[(i / 100) % ALGORITHM_NAMES.length]!);
          return (await get()).status;
        }),
      ),
    );
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    expect(lb.stats().totals).toMatchObject({ requests: 700, failures: 0 });
  });
});

describe('sticky sessions through lb serve', () => {
  it('keeps a cookie-bearing client on its server for 100 requests; after removal it moves once and stays', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { sticky: 'cookie' });
    const first = await get();
    expect(first.setCookie).toMatch(/^lb_session=[^;]+; Path=\/; Max-Age=1800; HttpOnly; SameSite=Lax$/);
    let cookie = first.setCookie!.split(';')[0]!;
    const home = first.server;
    for (let i = 0; i < 100; i++) {
      const r = await get('/', { cookie });
      expect([r.server, r.setCookie]).toEqual([home, null]);
    }
    lb.admin.removeServer(home);
    const moved = await get('/', { cookie });
    expect(moved.server).not.toBe(home);
    expect(moved.setCookie).not.toBeNull();
    cookie = moved.setCookie!.split(';')[0]!;
    for (let i = 0; i < 50; i++) {
      const r = await get('/', { cookie });
      expect([r.server, r.setCookie]).toEqual([moved.server, null]);
    }
    // Clients without a cookie still spread: round robin over the two left.
    const fresh = new Set<string>();
    for (let i = 0; i < 4; i++) fresh.add((await get()).server);
    expect(fresh.size).toBe(2);
    expect(lb.stats().sessions).toMatchObject({ mode: 'cookie', active: 5 });
  });

  it('ip mode keeps one client on one server', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { sticky: 'ip' });
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add((await get()).server);
    expect(seen.size).toBe(1);
    expect(lb.stats().sessions).toMatchObject({ mode: 'ip', active: 1 });
  });
});
