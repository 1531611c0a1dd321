/**
 * Per-client connection limit (nginx's `limit_conn`, HAProxy's `src_conn_cur` rule): a client address
 * with `maxPerClient` connections open has its next one closed at accept, before a byte is read, and
 * counted. The table holds only addresses with open connections, so it is bounded by the connections
 * the process holds.
 */
import type { Socket } from 'node:net';

export class ClientConnections {
  readonly #open = new Map<string, number>();

  constructor(readonly maxPerClient: number) {}

  /** Counts the connection while it is open; false when its client is over the limit (caller closes it). */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? '';
    const open = this.#open.get(address) ?? 0;
    if (open >= this.maxPerClient) return false;
    this.#open.set(address, open + 1);
    socket.once('close', () => {
      const left = (this.#open.get(address) ?? 1) - 1;
      if (left <= 0) this.#open.delete(address);
      else this.#open.set(address, left);
    });
    return true;
  }

  get clients(): number {
    return this.#open.size;
  }
}
