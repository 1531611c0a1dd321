/**
 * consistent_hash: a ring with `virtual_nodes` points per unit of weight (default 160, as ketama, nginx
 * and Pingora use). The key (client IP by default; see hash-key.ts) always maps to the same server while
 * it is available; an unavailable or excluded server is walked past clockwise. Rebuilt only when
 * membership or weights change (the pool's change event); a pick is one key hash and a binary search.
 */
import { HASH_FUNCTIONS_BY_NAME, type HashFunction } from '../hash.js';
import { hashKeyOf, type HashKeySpec } from '../hash-key.js';
import { HashRing } from '../hash-ring.js';
import type { Server } from '../server.js';
import { isEligible, type BalancingAlgorithm, type RequestContext } from './types.js';

import type { HashFunctionName } from '../config.js';
export interface ConsistentHashConfig {
  virtualNodes: number;
  hashFunction: HashFunctionName;
}

export class ConsistentHash implements BalancingAlgorithm {
  readonly name = 'consistent_hash' as const;
  readonly #hash: HashFunction;
  readonly #virtualNodes: number;
  readonly #key: HashKeySpec;
  #ring: HashRing | null = null;
  #builtFor: readonly Server[] | null = null;

  constructor(config: ConsistentHashConfig, key: HashKeySpec) {
    this.#hash = HASH_FUNCTIONS_BY_NAME[config.hashFunction];
    this.#virtualNodes = config.virtualNodes;
    this.#key = key;
  }

  rebuild(servers: readonly Server[]): void {
    this.#ring = new HashRing(servers, this.#virtualNodes, this.#hash);
    this.#builtFor = servers;
  }

  pick(servers: readonly Server[], ctx: RequestContext): Server | undefined {
    if (servers !== this.#builtFor) this.rebuild(servers);
    return this.#ring!.lookup(this.#hash(hashKeyOf(this.#key, ctx)), (s) => isEligible(s, ctx));
  }
}
