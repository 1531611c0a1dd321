/**
 * Health verdicts shared between the instances of a cluster. Each instance still checks every server
 * itself (a network partition is real: what one instance cannot reach, it should not send to), and
 * publishes the servers its own checks see down in its heartbeat (instances.ts).
 *
 * - `/lb/stats` shows, per server, how many live instances see it up.
 * - With `health_check.quorum` N > 0, a server leaves rotation (on every instance) only when at least N
 *   live instances see it down, and comes back when fewer do. N is capped at the number of live
 *   instances, and while the store is away each instance goes by its own checks again: one instance left
 *   alone must still stop sending to a server it cannot reach.
 */
import type { Command } from '../control/commands.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { Server } from '../server.js';
import type { InstanceBeat } from './instances.js';

export interface SeenUp {
  /** Live instances whose checks see the server up (this one included). */
  up: number;
  of: number;
}

export class SharedHealth {
  readonly #control: ControlPlane;
  readonly #quorum: number;
  readonly #selfId: string;
  readonly #others: () => readonly InstanceBeat[];
  readonly #storeUp: () => boolean;
  /** This instance's own verdicts, by server: true = its checks see it up. Bounded by the pool. */
  readonly #local = new Map<Server, boolean>();

  constructor(control: ControlPlane, options: { quorum: number; selfId: string; live: () => readonly InstanceBeat[]; storeUp: () => boolean }) {
    this.#control = control;
    this.#quorum = options.quorum;
    this.#selfId = options.selfId;
    this.#others = () => options.live().filter((beat) => beat.id !== options.selfId);
    this.#storeUp = options.storeUp;
    for (const server of control.pool.servers) this.#local.set(server, server.healthy);
    control.pool.on('server-added', (server) => this.#local.set(server, server.healthy));
    control.pool.on('server-removed', (server) => this.#local.delete(server));
  }

  /** The gate's part for health verdicts: recorded as ours; with a quorum, the cluster decides instead. */
  admits(command: Command): boolean {
    if (command.type !== 'setHealth') return true;
    const server = this.#control.pool.get(command.server);
    if (server === undefined) return true;
    this.#local.set(server, command.healthy);
    if (this.#quorum === 0) return true;
    this.#decide(server);
    return false;
  }

  /** Ids of the servers this instance's checks see down (its heartbeat carries them). */
  localDown(): string[] {
    return [...this.#local].filter(([, up]) => !up).map(([server]) => server.id);
  }

  seenUp(server: Server): SeenUp {
    const others = this.#storeUp() ? this.#others() : [];
    const downElsewhere = others.filter((beat) => beat.down.includes(server.id)).length;
    const upHere = this.#local.get(server) ?? server.healthy;
    return { up: (upHere ? 1 : 0) + others.length - downElsewhere, of: others.length + 1 };
  }

  /** With a quorum: every server's place in rotation from the cluster's verdicts (after each refresh). */
  reevaluate(): void {
    if (this.#quorum === 0) return;
    for (const server of this.#control.pool.servers) this.#decide(server);
  }

  #decide(server: Server): void {
    const seen = this.seenUp(server);
    const down = seen.of - seen.up;
    const quorum = Math.min(this.#quorum, seen.of);
    const healthy = down < quorum;
    if (healthy === server.healthy) return;
    const detail = `${down} of ${seen.of} instance(s) see it down (quorum ${quorum}${quorum < this.#quorum ? ` of ${this.#quorum}, capped at the live instances` : ''})`;
    this.#control.applyUngated({ type: 'setHealth', server: server.id, healthy, detail });
  }

  get selfId(): string {
    return this.#selfId;
  }
}
