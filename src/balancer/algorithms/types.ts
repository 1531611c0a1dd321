/**
 * The one interface every balancing policy implements. `ctx` is plain data, never an IncomingMessage, so
 * algorithms are tested without HTTP. `pick` has no side effects on server counters.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AlgorithmName } from '../../shared/api-types.js';
import type { Random } from '../../shared/random.js';
import type { ConsistentHashConfig } from './consistent-hash.js';
import type { HashKeySpec } from '../hash-key.js';
import type { Server } from '../server.js';

export interface RequestContext {
  clientIp: string;
  method: string;
  /** Path with query string, as the client sent it. */
  path: string;
  headers: IncomingHttpHeaders;
  /** Servers already tried for this request (retries); null on the first attempt. */
  exclude: ReadonlySet<Server> | null;
}

export interface BalancingAlgorithm {
  readonly name: AlgorithmName;
  /** All configured servers in stable order; skips those that are not available; undefined if none is. */
  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined;
  /** Precompute (hash ring, weight schedule) when the server set or weights change, never per request. */
  rebuild?(servers: readonly Server[]): void;
}

/** What the factories may need; tests pass a seeded `random` and a fake `nowMs`. */
export interface AlgorithmOptions {
  random: Random;
  nowMs: () => number;
  consistentHash: ConsistentHashConfig;
  hashKey: HashKeySpec;
}

/** The availability gate plus the retry exclusion: the one test every policy applies to a candidate. */
export function isEligible(server: Server, ctx: RequestContext): boolean {
  return server.isAvailable() && (ctx.exclude === null || !ctx.exclude.has(server));
}
