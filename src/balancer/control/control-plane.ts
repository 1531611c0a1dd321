/**
 * The one place the balancer's state changes. The admin API, the monitor and web page (through it), a
 * reload, active health checks and the embedding API all hand it a Command (plain data, see
 * commands.ts); it applies the command to the pool and the algorithm and emits one ChangeEvent per
 * effect. History, logs, the embedding `server-state` event and the state file subscribe to that one
 * stream in the composition root. Observations of the data path (a circuit opening) enter the same
 * stream through `observe()`.
 *
 * It also keeps what changed at runtime apart from what the file says (runtime-state.ts), so a reload
 * applies the file's changes and keeps the operator's.
 */
import { EventEmitter } from 'node:events';
import type { AlgorithmName, BalancerEventType } from '../../shared/api-types.js';
import { LbError } from '../../shared/errors.js';
import { createAlgorithm, type AlgorithmOptions, type BalancingAlgorithm } from '../algorithms/index.js';
import type { BalancerConfig } from '../config.js';
import { checkServerInit } from '../edge/server-address.js';
import type { ServerPool } from '../pool.js';
import { serverIdOf, type Server } from '../server.js';
import type { ChangeEvent, Command, ServerChange } from './commands.js';
import { describeReport } from './describe-report.js';
import { planReload, type ReloadReport } from './reload-plan.js';
import { RuntimeState, type RuntimeSnapshot } from './runtime-state.js';

export interface CommandResults {
  addServer: Server;
  removeServer: Server;
  updateServer: Server;
  setAlgorithm: { algorithm: AlgorithmName; previous: AlgorithmName };
  reset: void;
  applyConfig: ReloadReport;
  setHealth: Server;
}

export interface ControlPlaneEvents {
  change: [ChangeEvent];
  /** The runtime changes (what `--state-file` saves) are different now. */
  runtime: [RuntimeSnapshot];
  /**
   * A command took effect (refused or held ones do not), after its change events: what `--workers` replays
   * in every worker, in this order, and what a cluster store (`--store`) replicates.
   */
  applied: [Command];
}

export interface ControlPlaneHooks {
  /** Counters, history, sessions: what `reset` zeroes lives elsewhere. */
  reset(): void;
  /** Live settings of a reloaded config (timeouts, retries, health checks), applied by the composition root. */
  configApplied(next: BalancerConfig, previous: BalancerConfig, healthCheckChanged: boolean): void;
}

/**
 * Looks at every command before it applies (the cluster store installs one): throws to refuse it (a
 * cluster change while the store is away), returns false to hold it (a health verdict waiting for its
 * quorum; only `setHealth` may be held), true to let it apply.
 */
export type CommandGate = (command: Command) => boolean;

export class ControlPlane extends EventEmitter<ControlPlaneEvents> {
  readonly pool: ServerPool;
  readonly #algorithmOptions: AlgorithmOptions;
  readonly #hooks: ControlPlaneHooks;
  readonly #runtime = new RuntimeState();
  #algorithm: BalancingAlgorithm;
  #file: BalancerConfig;
  #nextEventId = 1;
  #gate: CommandGate | null = null;

  constructor(pool: ServerPool, config: BalancerConfig, algorithmOptions: AlgorithmOptions, hooks: ControlPlaneHooks) {
    super();
    this.pool = pool;
    this.#file = config;
    this.#algorithmOptions = algorithmOptions;
    this.#hooks = hooks;
    this.#algorithm = createAlgorithm(config.algorithm, algorithmOptions);
    this.#algorithm.rebuild?.(pool.servers);
    pool.on('change', (servers) => this.#algorithm.rebuild?.(servers));
  }

  /** The policy the next pick uses; requests already routed keep their server. */
  get algorithm(): BalancingAlgorithm {
    return this.#algorithm;
  }

  /** The configuration as the file last said it (reload compares against it). */
  get fileConfig(): BalancerConfig {
    return this.#file;
  }

  runtimeState(): RuntimeSnapshot {
    return this.#runtime.snapshot();
  }

  apply<C extends Command>(command: C): CommandResults[C['type']] {
    if (this.#gate !== null && !this.#gate(command)) {
      if (command.type !== 'setHealth') throw new LbError('LB_INTERNAL', `a ${command.type} command cannot be held`);
      return this.pool.require(command.server) as CommandResults[C['type']];
    }
    const result = this.#apply(command) as CommandResults[C['type']];
    this.emit('applied', command);
    return result;
  }

  /** Applies a command without asking the gate (the gate's owner applying what it decided or received). */
  applyUngated<C extends Command>(command: C): CommandResults[C['type']] {
    const gate = this.#gate;
    this.#gate = null;
    try {
      return this.apply(command);
    } finally {
      this.#gate = gate;
    }
  }

  /** One gate at a time; null removes it. */
  setGate(gate: CommandGate | null): void {
    this.#gate = gate;
  }

  /** A data-path observation (circuit transitions, refused ejections) into the change stream. */
  observe(type: BalancerEventType, server: Server | null, detail: string): void {
    this.#emit(type, server, detail);
  }

  /** Replays saved runtime changes on top of the file (start with `--state-file`); returns what applied. */
  restore(saved: RuntimeSnapshot): string[] {
    const applied: string[] = [];
    const attempt = (what: string, command: Command): void => {
      try {
        this.apply(command);
        applied.push(what);
      } catch (err) {
        applied.push(`${what}: skipped (${(err as Error).message})`);
      }
    };
    for (const id of saved.removed) if (this.pool.get(id) !== undefined) attempt(`${id} removed`, { type: 'removeServer', server: id });
    for (const init of saved.added) if (this.pool.get(serverIdOf(init)) === undefined) attempt(`${serverIdOf(init)} added`, { type: 'addServer', server: init });
    for (const [id, change] of Object.entries(saved.updated)) {
      if (this.pool.get(id) !== undefined) attempt(`${id} updated`, { type: 'updateServer', server: id, ...change });
    }
    if (saved.algorithm !== null && saved.algorithm !== this.#algorithm.name) attempt(`algorithm ${saved.algorithm}`, { type: 'setAlgorithm', algorithm: saved.algorithm });
    return applied;
  }

  #apply(command: Command): CommandResults[Command['type']] {
    switch (command.type) {
      case 'addServer': {
        const server = this.pool.add(command.server);
        this.#runtime.recordAdd(server.id, command.server);
        this.#emit('server-added', server, `${server.origin}, weight ${server.weight}`);
        this.#runtimeChanged();
        return server;
      }
      case 'removeServer': {
        const server = this.#remove(command.server);
        this.#runtime.recordRemove(server.id, this.#file.servers.some((s) => serverIdOf(s) === server.id));
        this.#runtimeChanged();
        return server;
      }
      case 'updateServer': {
        const { type: _type, server: ref, ...change } = command;
        const server = this.#update(ref, change);
        this.#runtime.recordUpdate(server.id, change);
        this.#runtimeChanged();
        return server;
      }
      case 'setAlgorithm': {
        const result = this.#setAlgorithm(command.algorithm);
        this.#runtime.recordAlgorithm(command.algorithm === this.#file.algorithm ? null : command.algorithm);
        this.#runtimeChanged();
        return result;
      }
      case 'reset':
        this.#hooks.reset();
        for (const s of this.pool.servers) s.resetCounters();
        // Latency estimates were just cleared: least_response_time measures every server afresh.
        this.#algorithm.rebuild?.(this.pool.servers);
        this.#emit('counters-reset', null, 'counters, history and sessions');
        return undefined;
      case 'applyConfig':
        return this.#applyConfig(command.config);
      case 'setHealth': {
        const server = this.pool.require(command.server);
        if (server.healthy === command.healthy) return server;
        server.setHealthy(command.healthy);
        this.#emit(command.healthy ? 'server-up' : 'server-down', server, command.detail);
        // Back up after `rise` checks, whatever its circuit remembers: like Envoy's
        // successful_active_health_check_uneject_host, un-eject it instead of waiting for a trial.
        if (command.healthy && !server.circuit.isClosed) {
          server.circuit.reset();
          this.#emit('circuit-closed', server, 'active health checks passed');
        }
        return server;
      }
    }
  }

  #remove(ref: string): Server {
    const server = this.pool.remove(ref);
    this.#emit('server-removed', server, `${server.activeRequests} in-flight requests finish`);
    return server;
  }

  #update(ref: string, change: ServerChange): Server {
    const server = this.pool.require(ref);
    if (change.weight !== undefined && change.weight !== server.weight) {
      const previous = server.weight;
      this.pool.setWeight(server.id, change.weight);
      this.#emit('weight-changed', server, `${previous} -> ${change.weight}`);
    }
    if (change.maxConns !== undefined && change.maxConns !== server.maxConns) {
      const previous = server.maxConns;
      this.pool.setMaxConns(server.id, change.maxConns);
      this.#emit('max-conns-changed', server, `${previous} -> ${change.maxConns}`);
    }
    if (change.drain !== undefined && change.drain !== server.draining) {
      this.pool.setDraining(server.id, change.drain);
      this.#emit(change.drain ? 'server-draining' : 'server-undrained', server, `${server.activeRequests} in flight`);
    }
    return server;
  }

  #setAlgorithm(name: AlgorithmName): { algorithm: AlgorithmName; previous: AlgorithmName } {
    const previous = this.#algorithm.name;
    if (name !== previous) {
      const next = createAlgorithm(name, this.#algorithmOptions);
      next.rebuild?.(this.pool.servers);
      // One assignment: requests already routed keep their server; the next pick uses the new policy.
      this.#algorithm = next;
      this.#emit('algorithm-switched', null, `${previous} -> ${name}`);
    }
    return { algorithm: name, previous };
  }

  #applyConfig(next: BalancerConfig): ReloadReport {
    const previous = this.#file;
    const plan = planReload(previous, next, this.pool.servers, this.#runtime, this.#algorithm.name);
    // Everything is checked before anything changes, so a refused server cannot leave half a reload.
    const staying = this.pool.servers.filter((s) => !plan.remove.includes(s.id));
    for (const init of plan.add) {
      const where = `servers[${next.servers.indexOf(init)}]`;
      const checked = checkServerInit(init, this.pool.allowHosts, where);
      const clash = staying.find((s) => s.id === serverIdOf(checked) || (s.host === checked.host && s.port === checked.port));
      if (clash !== undefined) throw new LbError('LB_CONFLICT', `${where}: ${serverIdOf(checked)} clashes with ${clash.id}, in the pool since a runtime change; remove it first`);
    }
    // Removals first: a server that moved to a new name frees its address for the add.
    for (const id of plan.remove) this.#remove(id);
    for (const init of plan.add) {
      const server = this.pool.add(init);
      this.#emit('server-added', server, `${server.origin}, weight ${server.weight} (from the file)`);
    }
    for (const { id, weight, maxConns } of plan.update) this.#update(id, { weight, maxConns });
    if (plan.algorithm !== null) this.#setAlgorithm(plan.algorithm);
    for (const id of plan.forget) this.#runtime.forget(id);
    if (plan.algorithm !== null || previous.algorithm !== next.algorithm) this.#runtime.recordAlgorithm(null);
    this.#file = next;
    this.#hooks.configApplied(next, previous, plan.healthCheckChanged);
    this.#emit('config-reloaded', null, describeReport(plan.report));
    this.#runtimeChanged();
    return plan.report;
  }

  #runtimeChanged(): void {
    if (this.listenerCount('runtime') > 0) this.emit('runtime', this.#runtime.snapshot());
  }

  #emit(type: BalancerEventType, server: Server | null, detail: string): void {
    this.emit('change', { id: this.#nextEventId++, time: new Date().toISOString(), type, server: server?.id ?? null, detail, state: server?.state ?? null });
  }
}
