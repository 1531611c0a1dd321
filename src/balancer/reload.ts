/**
 * What a config reload changes, computed before anything is touched (pure): servers to remove, to add
 * and to update (weight, max_conns), whether health checks restart, and what only a restart can change
 * (listeners, sticky sessions, hashing, breaker and queue settings), reported rather than half-applied.
 * Applying it (balancer.ts) only adds and removes pool members, so in-flight requests are never dropped.
 */
import { isDeepStrictEqual } from 'node:util';
import type { BalancerConfig } from './config.js';
import type { Server, ServerInit } from './server.js';

export interface ReloadReport {
  added: string[];
  removed: string[];
  updated: string[];
  algorithm: string | null;
  /** Settings that changed in the file but need a restart to apply. */
  needsRestart: string[];
}

export interface ReloadPlan {
  remove: string[];
  add: ServerInit[];
  update: Array<{ id: string; weight: number; maxConns: number }>;
  healthCheckChanged: boolean;
  report: ReloadReport;
}

const idOf = (init: ServerInit): string => init.name ?? `${init.host}:${init.port}`;

const RESTART_ONLY: Array<[keyof BalancerConfig, string]> = [
  ['port', 'port'],
  ['host', 'host'],
  ['adminPort', 'admin port'],
  ['adminHost', 'admin host'],
  ['adminToken', 'admin token'],
  ['sticky', 'sticky_sessions'],
  ['consistentHash', 'consistent_hash'],
  ['hashKey', 'consistent_hash.key'],
  ['circuitBreaker', 'circuit_breaker'],
  ['limits', 'limits (max_conns default, queue, retry budget, client timeouts, header limits, connections per client)'],
  ['rateLimit', 'rate_limit'],
  ['allowHosts', 'allow_hosts'],
  ['serverHeader', 'server_header'],
];

/** `runningAlgorithm` may differ from the file's after a switch through the admin API: the file wins. */
export function planReload(current: BalancerConfig, next: BalancerConfig, running: readonly Server[], runningAlgorithm: string): ReloadPlan {
  const wanted = new Map(next.servers.map((s) => [idOf(s), s]));
  const have = new Map(running.map((s) => [s.id, s]));
  const remove: string[] = [];
  const add: ServerInit[] = [];
  const update: ReloadPlan['update'] = [];
  for (const server of running) {
    const want = wanted.get(server.id);
    if (want === undefined || want.host !== server.host || want.port !== server.port) remove.push(server.id);
  }
  for (const [id, init] of wanted) {
    const server = have.get(id);
    if (server === undefined || remove.includes(id)) {
      add.push(init);
      continue;
    }
    const weight = init.weight ?? 1;
    const maxConns = init.maxConns ?? next.limits.maxConnsPerServer;
    if (weight !== server.weight || maxConns !== server.maxConns) update.push({ id, weight, maxConns });
  }
  return {
    remove,
    add,
    update,
    healthCheckChanged: !isDeepStrictEqual(current.healthCheck, next.healthCheck),
    report: {
      added: add.map(idOf),
      removed: remove,
      updated: update.map((u) => u.id),
      algorithm: runningAlgorithm === next.algorithm ? null : `${runningAlgorithm} -> ${next.algorithm}`,
      needsRestart: RESTART_ONLY.filter(([key]) => !isDeepStrictEqual(current[key], next[key])).map(([, label]) => label),
    },
  };
}
