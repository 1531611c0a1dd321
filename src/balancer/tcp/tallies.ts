/**
 * Per-server counters of tcp mode that a Server does not keep: bytes each way of closed connections and
 * failed connects. (Open connections' bytes are read live from their sockets at snapshot and scrape
 * time, so a long connection's traffic shows before it ends.) Bounded by the pool: a removed server's
 * entry goes when the composition root says so.
 */
import type { Server } from '../server.js';
import type { ConnectionOutcome } from './connection-outcome.js';

export interface ServerTally {
  bytesIn: number;
  bytesOut: number;
  connectFailures: number;
}

const zero = (): ServerTally => ({ bytesIn: 0, bytesOut: 0, connectFailures: 0 });

export class TcpTallies {
  #byServer = new Map<Server, ServerTally>();
  #total = zero();

  of(server: Server): Readonly<ServerTally> {
    return this.#byServer.get(server) ?? zero();
  }

  totals(): Readonly<ServerTally> {
    return this.#total;
  }

  #tally(server: Server): ServerTally {
    let t = this.#byServer.get(server);
    if (t === undefined) this.#byServer.set(server, (t = zero()));
    return t;
  }

  connectFailed(server: Server): void {
    this.#tally(server).connectFailures += 1;
    this.#total.connectFailures += 1;
  }

  /** The tallies' sink of the outcome stream. */
  record(outcome: ConnectionOutcome): void {
    this.#total.bytesIn += outcome.bytesIn;
    this.#total.bytesOut += outcome.bytesOut;
    if (outcome.server === null) return;
    const t = this.#tally(outcome.server);
    t.bytesIn += outcome.bytesIn;
    t.bytesOut += outcome.bytesOut;
  }

  forget(server: Server): void {
    this.#byServer.delete(server);
  }

  reset(): void {
    this.#byServer = new Map();
    this.#total = zero();
  }
}
