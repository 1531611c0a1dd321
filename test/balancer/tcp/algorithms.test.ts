/**
 * 1 000 concurrent connections through lb --mode tcp, held open together, spread per algorithm: the
 * algorithms pick per connection, and least_connections sees open connections.
 */
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { AlgorithmName } from '../../../src/shared/api-types.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { held, startTcpLb, startTcpServers } from './helpers.js';

const scope = closedAfterEach();
const CONNECTIONS = 1000;

const cases: Array<{ algorithm: AlgorithmName; weights?: number[]; expect: (counts: number[]) => void }> = [
  // Picks in order whatever the timing: exactly even.
  { algorithm: 'round_robin', expect: (c) => expect(c).toEqual([334, 333, 333]) },
  // 3:2:1, smooth weighted round robin (a b a c b a): 166 whole rounds, then a b a c.
  { algorithm: 'weighted', weights: [3, 2, 1], expect: (c) => expect(c).toEqual([500, 333, 167]) },
  // Open connections only grow here, so the least loaded is always one of the even counts.
  { algorithm: 'least_connections', expect: (c) => expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(1) },
  // Every connection comes from 127.0.0.1: keyed by client IP, all on one server.
  { algorithm: 'consistent_hash', expect: (c) => expect([...c].sort((a, b) => b - a)).toEqual([1000, 0, 0]) },
  // p2c takes the less loaded of two: far more even than random's binomial spread.
  { algorithm: 'p2c', expect: (c) => expect(Math.max(...c) - Math.min(...c)).toBeLessThanOrEqual(40) },
  // Connect time × (open connections + 1): held connections raise a server's cost, so none is left out.
  // Loose on purpose: on a loaded machine connect times differ by 10x between servers (47 of 1 000 seen).
  { algorithm: 'least_response_time', expect: (c) => c.forEach((n) => expect(n).toBeGreaterThan(10)) },
  { algorithm: 'random', expect: (c) => c.forEach((n) => expect(n).toBeGreaterThan(250)) },
];

describe('1 000 concurrent connections, spread per algorithm', () => {
  it.each(cases)('$algorithm', async ({ algorithm, weights, expect: check }) => {
    const servers = await startTcpServers(scope, 3);
    const lb = await startTcpLb(scope, servers.map((s, i) => ({ port: s.port, name: s.name, ...(weights ? { weight: weights[i] } : {}) })), { algorithm, maxConnections: 5000 });
    const sockets: Socket[] = [];
    scope.track({ close: async () => void sockets.forEach((s) => s.destroy()) });
    // Opened in waves of 100 (the listen backlog is not what is tested), all held open together.
    const names: string[] = [];
    for (let wave = 0; wave < CONNECTIONS / 100; wave++) {
      const opened = await Promise.all(Array.from({ length: 100 }, () => held(lb.port)));
      for (const o of opened) {
        sockets.push(o.socket);
        names.push(o.name);
      }
    }
    const counts = servers.map((s) => names.filter((n) => n === s.name).length);
    check(counts);
    const stats = lb.stats();
    expect(stats.totals.activeRequests).toBe(CONNECTIONS);
    expect(stats.servers.map((s) => s.activeRequests)).toEqual(counts);
    expect(servers.map((s) => s.openConnections)).toEqual(counts);
    for (const s of sockets) s.destroy();
    await waitFor('all closed', () => lb.stats().totals.activeRequests === 0);
    expect(lb.stats().totals.requests).toBe(CONNECTIONS);
  }, 60_000);
});
