/**
 * p2c: power of two random choices on active requests (Envoy's least_request default). Two random
 * eligible servers, the one with fewer active requests wins; O(1), and unlike least_connections it
 * does not herd every new request onto the same momentarily idle server when many balancers share it.
 */
import type { Random } from '../../shared/random.js';
import type { Server } from '../server.js';
import { randomEligiblePair } from './select.js';
import type { BalancingAlgorithm, RequestContext } from './types.js';

export class PowerOfTwoChoices implements BalancingAlgorithm {
  readonly name = 'p2c' as const;
  readonly #random: Random;

  constructor(random: Random) {
    this.#random = random;
  }

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const pair = randomEligiblePair(servers, ctx, this.#random);
    if (pair === undefined) return undefined;
    const [a, b] = pair;
    return b === undefined || a.activeRequests <= b.activeRequests ? a : b;
  }
}
