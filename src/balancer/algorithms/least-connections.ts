/**
 * least_connections: the server with the fewest active *requests*. It counts requests, not TCP
 * connections, because requests share pooled keep-alive connections. Ties rotate: the scan starts one
 * place further each pick, so idle servers share light traffic fairly instead of the first always winning.
 */
import type { Server } from '../server.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

export class LeastConnections implements BalancingAlgorithm {
  readonly name = 'least_connections' as const;
  #start = 0;

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const n = servers.length;
    if (n === 0) return undefined;
    const start = this.#start % n;
    this.#start = start + 1;
    let best: Server | undefined;
    for (let i = 0; i < n; i++) {
      const server = servers[(start + i) % n]!;
      if (isEligible(server, ctx) && (best === undefined || server.activeRequests < best.activeRequests)) best = server;
    }
    return best;
  }
}
