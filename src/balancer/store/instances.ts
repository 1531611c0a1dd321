/**
 * The cluster's live instances: each one writes a heartbeat every second (a key with a 2.2 s TTL, plus
 * its id in a trimmed sorted set), and reads the others' every half second. An instance whose key has
 * expired is gone: another instance notices within 3 s of its last heartbeat and says so (an event).
 * A clean shutdown deletes its key, so it leaves at once.
 *
 * Heartbeats are read from Redis, an input path: each is parsed field by field (numbers finite and
 * non-negative, strings cut short, lists bounded); anything else is passed over.
 */
import { EventEmitter } from 'node:events';
import { isObject } from '../config.js';
import type { StoreConnection } from './connection.js';

export const HEARTBEAT_INTERVAL_MS = 1_000;
export const HEARTBEAT_TTL_MS = 2_200;
export const REFRESH_INTERVAL_MS = 500;
/** Instances read per refresh: a cluster bigger than this is not what this registry is for. */
export const MAX_INSTANCES = 200;
/** Entries of the sorted set older than this are trimmed (their keys expired long ago). */
const FORGET_AFTER_MS = 60_000;
/** Server ids an instance may report down in one heartbeat. */
const MAX_DOWN = 10_000;

export interface InstanceBeat {
  id: string;
  /** Traffic and admin URLs as the instance prints them. */
  url: string;
  adminUrl: string;
  version: string;
  uptimeSeconds: number;
  /** The shared configuration version it runs. */
  configVersion: string;
  requests: number;
  failures: number;
  activeRequests: number;
  requestsPerSecond: number;
  /** Servers its own health checks see down (health-verdicts.ts). */
  down: string[];
}

export interface RegistryEvents {
  joined: [InstanceBeat];
  left: [InstanceBeat];
  /** After every successful refresh. */
  refreshed: [];
}

const text = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max) : '');
const count = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);

/** One heartbeat as read from Redis, or null when it is not one. */
export function parseBeat(raw: string | null, id: string): InstanceBeat | null {
  if (raw === null || raw.length > 1_000_000) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (!isObject(value) || value.id !== id) return null;
  const down = Array.isArray(value.down) ? value.down.slice(0, MAX_DOWN).filter((s): s is string => typeof s === 'string').map((s) => s.slice(0, 300)) : [];
  return {
    id,
    url: text(value.url),
    adminUrl: text(value.adminUrl),
    version: text(value.version, 40),
    uptimeSeconds: count(value.uptimeSeconds),
    configVersion: text(value.configVersion, 20),
    requests: count(value.requests),
    failures: count(value.failures),
    activeRequests: count(value.activeRequests),
    requestsPerSecond: count(value.requestsPerSecond),
    down,
  };
}

export class InstanceRegistry extends EventEmitter<RegistryEvents> {
  readonly #conn: StoreConnection;
  /** This instance's heartbeat, or null before it listens (its URLs are not known yet). */
  readonly #self: () => Promise<InstanceBeat | null>;
  readonly #selfId: string;
  #live = new Map<string, InstanceBeat>();
  #beatTimer: NodeJS.Timeout | null = null;
  #refreshTimer: NodeJS.Timeout | null = null;
  #refreshing = false;
  #closed = false;
  /** Last successful refresh (ms since epoch), 0 before one. */
  #refreshedAt = 0;

  constructor(conn: StoreConnection, selfId: string, self: () => Promise<InstanceBeat | null>) {
    super();
    this.#conn = conn;
    this.#selfId = selfId;
    this.#self = self;
  }

  start(): void {
    this.#beatTimer = setInterval(() => void this.beat(), HEARTBEAT_INTERVAL_MS);
    this.#refreshTimer = setInterval(() => void this.refresh(), REFRESH_INTERVAL_MS);
    void this.beat().then(() => this.refresh());
  }

  /** Live instances as last read (this one included while the store answers). */
  get live(): readonly InstanceBeat[] {
    return [...this.#live.values()];
  }

  get refreshedAt(): number {
    return this.#refreshedAt;
  }

  /** Writes this instance's heartbeat now (also on a health verdict, so others see it at once). */
  async beat(): Promise<void> {
    if (!this.#conn.isUp || this.#closed) return;
    let beat: InstanceBeat | null;
    try {
      beat = await this.#self();
    } catch {
      // The stats could not be read (a worker slow to report): the next beat tries again.
      return;
    }
    if (beat === null) {
      // Not listening yet: beat as soon as it does rather than a second later.
      setTimeout(() => void this.beat().then(() => this.refresh()), 20).unref();
      return;
    }
    const now = Date.now();
    try {
      await this.#conn.client
        .multi()
        .set(this.#conn.keys.instance(this.#selfId), JSON.stringify(beat), 'PX', HEARTBEAT_TTL_MS)
        .zadd(this.#conn.keys.instances, now, this.#selfId)
        .zremrangebyscore(this.#conn.keys.instances, '-inf', now - FORGET_AFTER_MS)
        .exec();
    } catch {
      // Redis went away mid-beat: the connection reports it; the next beat tries again.
    }
  }

  async refresh(): Promise<void> {
    if (!this.#conn.isUp || this.#refreshing) return;
    this.#refreshing = true;
    try {
      const ids = (await this.#conn.client.zrevrange(this.#conn.keys.instances, 0, MAX_INSTANCES - 1)).filter((id) => id.length <= 200);
      const raws = ids.length === 0 ? [] : await this.#conn.client.mget(ids.map((id) => this.#conn.keys.instance(id)));
      const next = new Map<string, InstanceBeat>();
      ids.forEach((id, i) => {
        const beat = parseBeat(raws[i] ?? null, id);
        if (beat !== null) next.set(id, beat);
      });
      const previous = this.#live;
      this.#live = next;
      this.#refreshedAt = Date.now();
      for (const [id, beat] of next) if (!previous.has(id) && id !== this.#selfId) this.emit('joined', beat);
      for (const [id, beat] of previous) if (!next.has(id) && id !== this.#selfId) this.emit('left', beat);
      this.emit('refreshed');
    } catch {
      // A wrong-typed key or a lost connection: keep the last view; the next refresh tries again.
    } finally {
      this.#refreshing = false;
    }
  }

  /** Stops beating and removes this instance's heartbeat, so the others see it leave at once. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#beatTimer !== null) clearInterval(this.#beatTimer);
    if (this.#refreshTimer !== null) clearInterval(this.#refreshTimer);
    if (!this.#conn.isUp) return;
    await this.#conn.client
      .multi()
      .del(this.#conn.keys.instance(this.#selfId))
      .zrem(this.#conn.keys.instances, this.#selfId)
      .exec()
      .catch(() => undefined);
  }
}
