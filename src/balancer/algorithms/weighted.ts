/**
 * weighted: smooth weighted round robin, as nginx does it. Each pick adds every eligible server's weight
 * to its running score, takes the highest score, and subtracts the total from the winner. Weights 3:2:1
 * give A B A C B A (interleaved, not A A A B B C), and every window of sum(weights) picks holds each
 * server exactly `weight` times. O(n) per pick, inherently (nginx's is too); weights are read live, so a
 * weight change applies from the next pick.
 */
import type { Server } from '../server.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

export class Weighted implements BalancingAlgorithm {
  readonly name = 'weighted' as const;
  /** Running scores, index-aligned with the server list they were built for. */
  #scores = new Float64Array(0);
  #builtFor: readonly Server[] | null = null;

  rebuild(servers: readonly Server[]): void {
    // Keep the scores of servers that stay, so a membership change does not restart the rotation.
    const previous = new Map<Server, number>();
    this.#builtFor?.forEach((s, i) => previous.set(s, this.#scores[i]!));
    this.#scores = Float64Array.from(servers, (s) => previous.get(s) ?? 0);
    this.#builtFor = servers;
  }

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    if (servers !== this.#builtFor) this.rebuild(servers);
    const scores = this.#scores;
    let total = 0;
    let best = -1;
    for (let i = 0; i < servers.length; i++) {
      const server = servers[i]!;
      if (!isEligible(server, ctx)) continue;
      scores[i]! += server.effectiveWeight;
      total += server.effectiveWeight;
      if (best === -1 || scores[i]! > scores[best]!) best = i;
    }
    if (best === -1) return undefined;
    scores[best]! -= total;
    return servers[best];
  }
}
