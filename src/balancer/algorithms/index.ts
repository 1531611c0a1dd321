/** The registry: algorithm names (as the CLI and config spell them) to factories. One file per policy. */
import type { AlgorithmName } from '../../shared/api-types.js';
import { LeastConnections } from './least-connections.js';
import { RoundRobin } from './round-robin.js';
import type { BalancingAlgorithm } from './types.js';

const FACTORIES: Record<AlgorithmName, () => BalancingAlgorithm> = {
  round_robin: () => new RoundRobin(),
  least_connections: () => new LeastConnections(),
};

export function createAlgorithm(name: AlgorithmName): BalancingAlgorithm {
  return FACTORIES[name]();
}

export type { BalancingAlgorithm, RequestContext } from './types.js';
