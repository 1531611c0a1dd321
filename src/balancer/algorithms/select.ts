/**
 * Selection helpers shared by the randomised policies, written once: two distinct random eligible
 * servers (power of two choices), and the eligible list for the rare slow path.
 */
import type { Random } from '../../shared/random.js';
import type { Server } from '../server.js';
import { isEligible, type RequestContext } from './types.js';

/** Random draws before falling back to an O(n) scan: with most servers up, 4 draws almost always suffice. */
const FAST_DRAWS = 4;

export function eligibleServers(servers: readonly Server[], ctx: RequestContext): Server[] {
  return servers.filter((s) => isEligible(s, ctx));
}

/**
 * Two distinct eligible servers chosen uniformly at random, or one when only one is eligible, or none.
 * O(1) expected while most servers are available; O(n) when many are not.
 */
export function randomEligiblePair(servers: readonly Server[], ctx: RequestContext, random: Random): [Server, Server | undefined] | undefined {
  const n = servers.length;
  if (n === 0) return undefined;
  let first: Server | undefined;
  for (let i = 0; i < FAST_DRAWS && first === undefined; i++) {
    const s = servers[Math.floor(random() * n)]!;
    if (isEligible(s, ctx)) first = s;
  }
  if (first !== undefined) {
    for (let i = 0; i < FAST_DRAWS; i++) {
      const s = servers[Math.floor(random() * n)]!;
      if (s !== first && isEligible(s, ctx)) return [first, s];
    }
  }
  const eligible = eligibleServers(servers, ctx);
  if (eligible.length === 0) return undefined;
  if (eligible.length === 1) return [eligible[0]!, undefined];
  const a = Math.floor(random() * eligible.length);
  const b = (a + 1 + Math.floor(random() * (eligible.length - 1))) % eligible.length;
  return [eligible[a]!, eligible[b]!];
}
