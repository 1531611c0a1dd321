/**
 * round_robin: each available server in turn. The cursor walks all configured servers, so the order of the
 * others does not shift while one is down.
 */
import type { Server } from '../server.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

export class RoundRobin implements BalancingAlgorithm {
  readonly name = 'round_robin' as const;
  #next = 0;

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const n = servers.length;
    for (let i = 0; i < n; i++) {
      const index = (this.#next + i) % n;
      const server = servers[index]!;
      if (isEligible(server, ctx)) {
        this.#next = (index + 1) % n;
        return server;
      }
    }
    return undefined;
  }
}
