/**
 * The sticky cookie's HMAC key, shared by the instances of a cluster when none is configured: the first
 * instance stores its key (SET NX), every instance uses what the store holds, so a cookie set by one
 * instance routes on all. After Redis restarts empty, the first instance back writes the key it already
 * shares, so cookies out there stay valid. A stored value that is not a usable key (too short or too
 * long) is passed over, logged once, and this instance keeps its own.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import type { StickySessions } from '../sticky.js';
import type { StoreConnection } from './connection.js';

const MIN_SECRET = 16;
const MAX_SECRET = 4096;

export class SharedStickySecret {
  readonly #conn: StoreConnection;
  readonly #sticky: StickySessions;
  readonly #logger: Logger;
  #shared: string | null = null;
  #warned = false;

  constructor(conn: StoreConnection, sticky: StickySessions, logger: Logger) {
    this.#conn = conn;
    this.#sticky = sticky;
    this.#logger = logger;
  }

  /** Reads (or first stores) the cluster's key and uses it. Called at every (re)connect. */
  async share(): Promise<void> {
    try {
      await this.#conn.client.set(this.#conn.keys.stickySecret, this.#shared ?? randomBytes(32).toString('base64url'), 'NX');
      const stored = await this.#conn.client.get(this.#conn.keys.stickySecret);
      if (stored === null || stored.length < MIN_SECRET || stored.length > MAX_SECRET) {
        if (!this.#warned) this.#logger.warn(`store: the shared sticky secret is not usable (${stored === null ? 'missing' : `${stored.length} characters, expected ${MIN_SECRET}-${MAX_SECRET}`}): this instance keeps its own`);
        this.#warned = true;
        return;
      }
      if (stored !== this.#shared) {
        this.#shared = stored;
        this.#sticky.useSecret(stored);
      }
    } catch (err) {
      this.#logger.warn(`store: cannot read the shared sticky secret: ${(err as Error).message}`);
    }
  }
}
