import { describe, expect, it } from 'vitest';
import { createAlgorithm, type RequestContext } from '../../src/balancer/algorithms/index.js';
import { Server } from '../../src/balancer/server.js';
import { ALGORITHM_NAMES } from '../../src/shared/api-types.js';

const ctx = (exclude: Server[] | null = null): RequestContext => ({
  clientIp: '127.0.0.1',
  method: 'GET',
  path: '/',
  exclude: exclude === null ? null : new Set(exclude),
});

const servers = (n: number): Server[] => Array.from({ length: n }, (_, i) => new Server({ host: '127.0.0.1', port: 3001 + i }));

const picks = (name: (typeof ALGORITHM_NAMES)[number], pool: Server[], count: number, c = ctx()): string[] => {
  const algorithm = createAlgorithm(name);
  algorithm.rebuild?.(pool);
  return Array.from({ length: count }, () => algorithm.pick(pool, c)?.port.toString() ?? 'none');
};

describe.each(ALGORITHM_NAMES)('contract: %s', (name) => {
  it('picks nothing from an empty pool', () => {
    expect(picks(name, [], 3)).toEqual(['none', 'none', 'none']);
  });

  it('never picks a disabled, unhealthy or excluded server', () => {
    const pool = servers(4);
    pool[0]!.enabled = false;
    pool[1]!.healthy = false;
    const result = picks(name, pool, 50, ctx([pool[2]!]));
    expect(new Set(result)).toEqual(new Set(['3004']));
  });

  it('picks nothing when no server is available', () => {
    const pool = servers(2);
    for (const s of pool) s.healthy = false;
    expect(picks(name, pool, 2)).toEqual(['none', 'none']);
  });
});

describe('round_robin', () => {
  it('cycles in configured order', () => {
    expect(picks('round_robin', servers(3), 7)).toEqual(['3001', '3002', '3003', '3001', '3002', '3003', '3001']);
  });

  it('skips a down server without shifting the order of the others', () => {
    const pool = servers(3);
    pool[1]!.healthy = false;
    expect(picks('round_robin', pool, 4)).toEqual(['3001', '3003', '3001', '3003']);
  });
});

describe('least_connections', () => {
  it('picks the server with the fewest active requests', () => {
    const pool = servers(3);
    pool[0]!.activeRequests = 5;
    pool[1]!.activeRequests = 1;
    pool[2]!.activeRequests = 3;
    expect(picks('least_connections', pool, 3)).toEqual(['3002', '3002', '3002']);
  });

  it('rotates fairly among ties instead of always taking the first', () => {
    const result = picks('least_connections', servers(3), 300);
    const counts = new Map<string, number>();
    for (const p of result) counts.set(p, (counts.get(p) ?? 0) + 1);
    expect([...counts.values()]).toEqual([100, 100, 100]);
  });
});
