/** The registry: algorithm names (as the CLI and config spell them) to factories. One file per policy. */
import type { AlgorithmName } from '../../shared/api-types.js';
import { ConsistentHash } from './consistent-hash.js';
import { LeastConnections } from './least-connections.js';
import { LeastResponseTime } from './least-response-time.js';
import { PowerOfTwoChoices } from './p2c.js';
import { RandomPick } from './random.js';
import { RoundRobin } from './round-robin.js';
import type { AlgorithmOptions, BalancingAlgorithm } from './types.js';
import { Weighted } from './weighted.js';

const FACTORIES: Record<AlgorithmName, (options: AlgorithmOptions) => BalancingAlgorithm> = {
  round_robin: () => new RoundRobin(),
  least_connections: () => new LeastConnections(),
  weighted: () => new Weighted(),
  least_response_time: (o) => new LeastResponseTime(o.random, o.nowMs),
  consistent_hash: (o) => new ConsistentHash(o.consistentHash, o.hashKey),
  p2c: (o) => new PowerOfTwoChoices(o.random),
  random: (o) => new RandomPick(o.random),
};

export function createAlgorithm(name: AlgorithmName, options: AlgorithmOptions): BalancingAlgorithm {
  return FACTORIES[name](options);
}

export type { AlgorithmOptions, BalancingAlgorithm, RequestContext } from './types.js';
