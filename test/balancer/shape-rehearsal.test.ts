/**
 * The start-up rehearsal of connection shapes (shape-rehearsal.ts): its effect is on V8's optimised code
 * and is measured in bench/, not here. Here: it stays on loopback, ends on its own, leaves nothing open,
 * and neither reaches a configured server nor counts in the balancer's figures.
 */
import { describe, expect, it } from 'vitest';
import { rehearseConnectionShapes } from '../../src/balancer/shape-rehearsal.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';

const scope = closedAfterEach();

/** How many listening servers, sockets and timers the process holds open. */
const held = (): Record<string, number> => {
  const counts: Record<string, number> = { TCPServerWrap: 0, TCPSocketWrap: 0, Timeout: 0 };
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
};
const noMoreThan = (now: Record<string, number>, before: Record<string, number>): boolean => Object.keys(now).every((k) => (now[k] ?? 0) <= (before[k] ?? 0));

describe('connection-shape rehearsal', () => {
  it('ends on its own within its 2 s deadline and leaves no server, socket or timer open', async () => {
    const before = held();
    const started = performance.now();
    await rehearseConnectionShapes();
    expect(performance.now() - started).toBeLessThan(2000);
    // Sockets finish closing on the next turns of the loop.
    await waitFor('the rehearsal to let go of everything', () => noMoreThan(held(), before), 5000);
  });

  it('through lb serve: no configured server hears from it, and the figures start at zero', async () => {
    const [backend] = await scope.startServers(1);
    const lb = await scope.startLb([backend!]);
    expect(lb.stats().totals.requests).toBe(0);
    // close() waits for the rehearsal, so by then it has run to its end.
    await lb.close();
    expect(backend!.requestCount).toBe(0);
  });
});
