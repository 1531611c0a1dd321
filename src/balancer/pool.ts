/**
 * The set of Servers behind the balancer. The list is copy-on-write: a change builds a new array, so a
 * pick in progress (or a retry loop) never sees a half-applied change, and a server removed here is never
 * picked again once `remove()` has returned. Emits `change` after every mutation so algorithms can rebuild.
 */
import { EventEmitter } from 'node:events';
import { LbError } from '../shared/errors.js';
import { checkServerInit } from './edge/server-address.js';
import { DEFAULT_SERVER_DEFAULTS, Server, type ServerDefaults, type ServerInit } from './server.js';

export interface PoolEvents {
  'server-added': [Server];
  'server-removed': [Server];
  change: [readonly Server[]];
}

export class ServerPool extends EventEmitter<PoolEvents> {
  #servers: readonly Server[] = [];
  readonly #defaults: ServerDefaults;

  constructor(initial: readonly ServerInit[] = [], defaults: ServerDefaults = DEFAULT_SERVER_DEFAULTS) {
    super();
    this.#defaults = defaults;
    for (const init of initial) this.add(init);
  }

  /** All servers in stable (insertion) order, available or not. */
  get servers(): readonly Server[] {
    return this.#servers;
  }

  get size(): number {
    return this.#servers.length;
  }

  get(id: string): Server | undefined {
    return this.#servers.find((s) => s.id === id);
  }

  findByAddress(host: string, port: number): Server | undefined {
    return this.#servers.find((s) => s.host === host && s.port === port);
  }

  /** Looks a server up by id or by `host:port`; 404 when it is not in the pool. */
  require(idOrAddress: string): Server {
    const byId = this.get(idOrAddress);
    if (byId) return byId;
    const sep = idOrAddress.lastIndexOf(':');
    const port = Number(idOrAddress.slice(sep + 1));
    const byAddress = sep > 0 ? this.findByAddress(idOrAddress.slice(0, sep).replace(/^\[|\]$/g, ''), port) : undefined;
    if (byAddress) return byAddress;
    throw new LbError('LB_NOT_FOUND', `no server ${idOrAddress} in the pool`);
  }

  /** Every way in (file, admin API, reload, embedding) ends here, so the edge checks run here once more. */
  add(unchecked: ServerInit, path = 'server'): Server {
    const init = checkServerInit(unchecked, this.#defaults.allowHosts, path);
    if (this.findByAddress(init.host, init.port)) {
      throw new LbError('LB_CONFLICT', `server ${init.host}:${init.port} is already in the pool`);
    }
    const server = new Server(init, this.#defaults);
    if (this.get(server.id)) throw new LbError('LB_CONFLICT', `a server named ${server.id} is already in the pool`);
    this.#servers = [...this.#servers, server];
    this.emit('server-added', server);
    this.emit('change', this.#servers);
    return server;
  }

  /** Takes the server out of rotation now; its in-flight requests still complete. */
  remove(idOrAddress: string): Server {
    const server = this.require(idOrAddress);
    this.#servers = this.#servers.filter((s) => s !== server);
    this.emit('server-removed', server);
    this.emit('change', this.#servers);
    return server;
  }

  setWeight(idOrAddress: string, weight: number): Server {
    const server = this.require(idOrAddress);
    server.setWeight(weight);
    this.emit('change', this.#servers);
    return server;
  }

  setMaxConns(idOrAddress: string, maxConns: number): Server {
    const server = this.require(idOrAddress);
    server.setMaxConns(maxConns);
    this.emit('change', this.#servers);
    return server;
  }

  /** Something algorithms precompute from changed (an effective weight during slow start): they rebuild. */
  notifyChanged(): void {
    this.emit('change', this.#servers);
  }

  /** Risky destinations allowed as servers in this pool (`--allow-hosts`). */
  get allowHosts(): readonly string[] {
    return this.#defaults.allowHosts;
  }

  /** Draining: no new requests, in-flight ones finish; undrain puts it back in rotation. */
  setDraining(idOrAddress: string, draining: boolean): Server {
    const server = this.require(idOrAddress);
    server.setDraining(draining);
    this.emit('change', this.#servers);
    return server;
  }
}
