/**
 * A consistent-hash ring: `pointsPerWeight` points per unit of a server's weight, placed by hashing
 * `<server id>-<i>`. A key goes to the first point clockwise from its hash whose server passes `accept`,
 * so a server that is down or excluded hands its keys to its ring neighbours and gets them back when it
 * returns. Because a server's points depend only on its own id, adding or removing one server moves only
 * the keys of that server. Built once per membership or weight change; lookup is a binary search.
 */
import type { HashFunction } from './hash.js';
import type { Server } from './server.js';

/** Index bits packed under the hash in one float64 so that one typed-array sort orders both. */
const INDEX_SCALE = 2 ** 20;

export class HashRing {
  readonly #hashes: Uint32Array;
  readonly #owners: Server[];

  constructor(servers: readonly Server[], pointsPerWeight: number, hash: HashFunction) {
    if (servers.length >= INDEX_SCALE) throw new RangeError(`a ring holds at most ${INDEX_SCALE - 1} servers`);
    const total = servers.reduce((sum, s) => sum + pointsPerWeight * s.weight, 0);
    const packed = new Float64Array(total);
    let n = 0;
    servers.forEach((server, index) => {
      const count = pointsPerWeight * server.weight;
      for (let i = 0; i < count; i++) packed[n++] = hash(`${server.id}-${i}`) * INDEX_SCALE + index;
    });
    packed.sort();
    this.#hashes = new Uint32Array(total);
    this.#owners = new Array<Server>(total);
    for (let i = 0; i < total; i++) {
      const value = packed[i]!;
      this.#hashes[i] = Math.floor(value / INDEX_SCALE);
      this.#owners[i] = servers[value % INDEX_SCALE]!;
    }
  }

  get size(): number {
    return this.#hashes.length;
  }

  /** The owner of the first point at or after `keyHash` (wrapping) that `accept` takes; undefined if none. */
  lookup(keyHash: number, accept: (server: Server) => boolean): Server | undefined {
    const hashes = this.#hashes;
    const n = hashes.length;
    if (n === 0) return undefined;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < keyHash) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < n; step++) {
      const owner = this.#owners[(lo + step) % n]!;
      if (accept(owner)) return owner;
    }
    return undefined;
  }
}
