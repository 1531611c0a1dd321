/**
 * What a reload changes, computed before anything is touched (pure). It applies the difference between
 * the previous and the new *file*, not between the new file and the running pool: a server the file did
 * not touch keeps what the operator changed at runtime (added, removed, re-weighted, drained), and the
 * report says which runtime changes were kept and which the file overrode. What only a restart can
 * change (listeners, sticky sessions, hashing, breaker, limits) is reported, never half-applied.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AlgorithmName } from '../../shared/api-types.js';
import type { BalancerConfig } from '../config.js';
import { serverIdOf, type ServerInit } from '../server.js';
import { restartOnlyChanges } from '../settings/table.js';
import type { RuntimeState } from './runtime-state.js';

export interface ReloadReport {
  added: string[];
  removed: string[];
  updated: string[];
  algorithm: string | null;
  /** Settings that changed in the file but need a restart to apply. */
  needsRestart: string[];
  /** Runtime changes still in force after the reload. */
  keptRuntime: string[];
  /** Runtime changes the file replaced, and how. */
  overridden: string[];
}

export interface ReloadPlan {
  remove: string[];
  add: ServerInit[];
  update: Array<{ id: string; weight: number; maxConns: number }>;
  /** Servers the file took over: their runtime changes end. */
  forget: string[];
  algorithm: AlgorithmName | null;
  healthCheckChanged: boolean;
  report: ReloadReport;
}

/** Same destination spoken to the same way (a change of TLS or of tcp mode's PROXY header replaces the server). */
const sameAddress = (a: ServerInit, b: ServerInit): boolean =>
  a.host === b.host && a.port === b.port && (a.tls ?? false) === (b.tls ?? false) && (a.sendProxy ?? null) === (b.sendProxy ?? null);

/** The pool as it runs: id -> address, weight and max_conns. */
export interface RunningServer {
  id: string;
  host: string;
  port: number;
  weight: number;
  maxConns: number;
}

export function planReload(
  previous: BalancerConfig,
  next: BalancerConfig,
  running: readonly RunningServer[],
  runtime: RuntimeState,
  runningAlgorithm: AlgorithmName,
): ReloadPlan {
  const before = new Map(previous.servers.map((s) => [serverIdOf(s), s]));
  const after = new Map(next.servers.map((s) => [serverIdOf(s), s]));
  const have = new Map(running.map((s) => [s.id, s]));
  const remove: string[] = [];
  const add: ServerInit[] = [];
  const update: ReloadPlan['update'] = [];
  const forget: string[] = [];
  const overridden: string[] = [];
  const wanted = (init: ServerInit): { weight: number; maxConns: number } => ({ weight: init.weight ?? 1, maxConns: init.maxConns ?? next.limits.maxConnsPerServer });

  for (const [id, old] of before) {
    const now = after.get(id);
    if (now !== undefined && sameAddress(old, now)) continue;
    // The file dropped this server (or moved it to another address): it goes, whatever happened at runtime.
    if (have.has(id)) remove.push(id);
    if (runtime.updates(id) !== undefined || runtime.wasRemoved(id)) overridden.push(`${id}: the file ${now === undefined ? 'removed' : 'moved'} it`);
    forget.push(id);
  }
  for (const [id, init] of after) {
    const old = before.get(id);
    const running = have.get(id);
    const moved = old !== undefined && !sameAddress(old, init);
    if (old === undefined || moved) {
      if (running !== undefined && !moved && runtime.added(id) !== undefined && sameAddress(running, init)) {
        // Added at runtime, now in the file too: the file owns it from here.
        const w = wanted(init);
        if (w.weight !== running.weight || w.maxConns !== running.maxConns) update.push({ id, ...w });
        overridden.push(`${id}: added at runtime, now in the file`);
      } else {
        if (running !== undefined && !remove.includes(id)) remove.push(id);
        add.push(init);
      }
      forget.push(id);
      continue;
    }
    if (isDeepStrictEqual(old, init)) continue;
    // The file changed this server: the file's values win over runtime ones.
    if (runtime.wasRemoved(id)) {
      add.push(init);
      overridden.push(`${id}: removed at runtime, back from the file`);
    } else if (running !== undefined) {
      const w = wanted(init);
      const changes = runtime.updates(id);
      const fromFile = [changes?.weight !== undefined ? 'weight' : '', changes?.maxConns !== undefined ? 'max_conns' : ''].filter(Boolean);
      if (fromFile.length > 0) overridden.push(`${id}: ${fromFile.join(' and ')} from the file`);
      if (w.weight !== running.weight || w.maxConns !== running.maxConns) update.push({ id, ...w });
    }
    forget.push(id);
  }

  const fileSwitched = previous.algorithm !== next.algorithm;
  const algorithm = fileSwitched && next.algorithm !== runningAlgorithm ? next.algorithm : null;
  if (fileSwitched && runtime.algorithm !== null) overridden.push(`algorithm: ${next.algorithm} from the file`);
  const forgotten = new Set(forget);
  const keptRuntime = runtime.describe().filter((line) => !forgotten.has(line.split(' ')[0]!) && !(fileSwitched && line.startsWith('algorithm ')));
  return {
    remove,
    add,
    update,
    forget,
    algorithm,
    healthCheckChanged: !isDeepStrictEqual(previous.healthCheck, next.healthCheck),
    report: {
      added: add.map(serverIdOf),
      removed: remove.filter((id) => !add.some((init) => serverIdOf(init) === id)),
      updated: update.map((u) => u.id),
      algorithm: algorithm === null ? null : `${runningAlgorithm} -> ${algorithm}`,
      needsRestart: restartOnlyChanges(previous, next),
      keptRuntime,
      overridden,
    },
  };
}
