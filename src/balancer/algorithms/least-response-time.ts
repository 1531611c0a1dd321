/**
 * least_response_time: the server of lowest cost, where cost is its peak-EWMA latency times (active
 * requests + 1), as Finagle and Linkerd score them. Up to EXACT_SCAN_MAX (64) servers every available one is
 * scored (nginx Plus's least_time scans them all): with the cheaper of two random choices over a small
 * pool, the fast server is not even among the candidates when the pair drawn is (middle, slow), so a
 * server gets a third of the traffic however slow it is (measured: 13.5x fewer req/s than
 * least_connections on three servers of 0, 20 and 50 ms). Above that size, the cheaper of two random
 * candidates (Finagle's large-pool approximation) keeps a pick O(1).
 *
 * Two rules keep every server measured, so none is starved (Traefik's leasttime sent 5 of 1 500 requests
 * to a server after a few slow answers, traefik#12306):
 * - a server without samples yet is tried first (new, re-added, or after a counter reset);
 * - a server not picked in the last 8 × n picks is offered the next one when it is idle, so a server that
 *   recovered is seen to have recovered. A server that really is slow costs at most ~1/(8n) of traffic.
 * Both checks look at a few servers per pick, so a pick stays O(1).
 */
import type { Random } from '../../shared/random.js';
import type { Server } from '../server.js';
import { randomEligiblePair } from './select.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

const UNMEASURED_CHECKS_PER_PICK = 4;
const PROBE_AFTER_PICKS_PER_SERVER = 8;
/**
 * Where scoring every server costs ~1 µs a pick: measured with bench/pick-cost.mjs at ~15 ns a server
 * (246 ns for 16, 473 ns for 32), so 64.
 */
export const EXACT_SCAN_MAX = 64;

export class LeastResponseTime implements BalancingAlgorithm {
  readonly name = 'least_response_time' as const;
  readonly #random: Random;
  readonly #nowMs: () => number;
  /** Servers that had no sample when the set last changed; emptied as they get measured. */
  #unmeasured: Server[] = [];
  #unmeasuredCursor = 0;
  readonly #lastPicked = new Map<Server, number>();
  #picks = 0;
  #probeCursor = 0;

  constructor(random: Random, nowMs: () => number) {
    this.#random = random;
    this.#nowMs = nowMs;
  }

  rebuild(servers: readonly Server[]): void {
    this.#unmeasured = servers.filter((s) => !s.peakEwma.hasSamples);
    this.#unmeasuredCursor = 0;
    for (const server of this.#lastPicked.keys()) if (!servers.includes(server)) this.#lastPicked.delete(server);
  }

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    this.#picks += 1;
    const chosen =
      this.#nextUnmeasured(ctx) ??
      this.#stale(servers, ctx) ??
      (servers.length <= EXACT_SCAN_MAX ? this.#cheapest(servers, ctx) : this.#cheaperOfTwo(servers, ctx));
    if (chosen !== undefined) this.#lastPicked.set(chosen, this.#picks);
    return chosen;
  }

  /** Scores every eligible server; ties go round in turn, so equally good servers share the traffic. */
  #cheapest(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const n = servers.length;
    const now = this.#nowMs();
    const start = this.#picks % n;
    let best: Server | undefined;
    let bestCost = Infinity;
    for (let k = 0; k < n; k++) {
      const server = servers[(start + k) % n]!;
      if (!isEligible(server, ctx)) continue;
      const c = cost(server, now);
      if (c < bestCost) {
        best = server;
        bestCost = c;
      }
    }
    return best;
  }

  #cheaperOfTwo(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const pair = randomEligiblePair(servers, ctx, this.#random);
    if (pair === undefined) return undefined;
    const [a, b] = pair;
    if (b === undefined) return a;
    const now = this.#nowMs();
    return cost(a, now) <= cost(b, now) ? a : b;
  }

  /** The next server in rotation, if it has gone unpicked for too long and is idle. */
  #stale(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    const n = servers.length;
    if (n < 2) return undefined;
    const server = servers[this.#probeCursor % n]!;
    this.#probeCursor = (this.#probeCursor + 1) % n;
    const last = this.#lastPicked.get(server) ?? 0;
    const stale = this.#picks - last > PROBE_AFTER_PICKS_PER_SERVER * n;
    return stale && server.activeRequests === 0 && isEligible(server, ctx) ? server : undefined;
  }

  /** An idle, eligible server never measured, looking at a few candidates per pick. */
  #nextUnmeasured(ctx: RequestContext): Server | undefined {
    const list = this.#unmeasured;
    for (let budget = UNMEASURED_CHECKS_PER_PICK; budget > 0 && list.length > 0; budget--) {
      const index = this.#unmeasuredCursor % list.length;
      const server = list[index]!;
      if (server.peakEwma.hasSamples) {
        list[index] = list[list.length - 1]!;
        list.pop();
        continue;
      }
      this.#unmeasuredCursor = index + 1;
      if (isEligible(server, ctx) && server.activeRequests === 0) return server;
    }
    return undefined;
  }
}

function cost(server: Server, now: number): number {
  return server.peakEwma.valueAt(now) * (server.activeRequests + 1);
}
