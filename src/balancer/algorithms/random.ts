/**
 * random: a server at random, in proportion to its weight. Cumulative weights are built on change, so a
 * pick is one random number and a binary search; if the drawn server is not eligible, the pick falls
 * back to a weighted draw over the eligible ones (O(n), only while some servers are down).
 */
import type { Random } from '../../shared/random.js';
import type { Server } from '../server.js';
import { eligibleServers } from './select.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

export class RandomPick implements BalancingAlgorithm {
  readonly name = 'random' as const;
  readonly #random: Random;
  #cumulative = new Float64Array(0);
  #builtFor: readonly Server[] | null = null;

  constructor(random: Random) {
    this.#random = random;
  }

  rebuild(servers: readonly Server[]): void {
    let sum = 0;
    this.#cumulative = Float64Array.from(servers, (s) => (sum += s.effectiveWeight));
    this.#builtFor = servers;
  }

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    if (servers.length === 0) return undefined;
    if (servers !== this.#builtFor) this.rebuild(servers);
    const cumulative = this.#cumulative;
    const target = this.#random() * cumulative[cumulative.length - 1]!;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cumulative[mid]! <= target) lo = mid + 1;
      else hi = mid;
    }
    const drawn = servers[lo]!;
    if (isEligible(drawn, ctx)) return drawn;
    const eligible = eligibleServers(servers, ctx);
    const total = eligible.reduce((sum, s) => sum + s.effectiveWeight, 0);
    let r = this.#random() * total;
    for (const server of eligible) {
      r -= server.effectiveWeight;
      if (r < 0) return server;
    }
    return eligible[eligible.length - 1];
  }
}
