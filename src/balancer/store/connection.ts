/**
 * The Redis side of the cluster store, in one place: the two connections (commands, and pub/sub, which
 * Redis wants on a connection of its own), the key layout, and the two scripts that read and
 * compare-and-set the shared configuration.
 *
 * Keys, all under `lb:<cluster>:` so several clusters share one Redis:
 *   config          hash {version, doc}: the shared configuration (shared-config.ts), version only grows
 *   changes         pub/sub channel: `{version, by}` after every write (a hint: readers fetch `config`)
 *   instances       sorted set: instance id -> last heartbeat (ms), trimmed; bounded reads
 *   instance:<id>   string with a TTL: the instance's heartbeat (instances.ts)
 *   sticky-secret   string: the sticky cookie's HMAC key when none is configured
 *
 * Nothing here is on the traffic path. Commands are never queued while the connection is down (they
 * fail at once, and the caller decides); reconnects back off exponentially up to 2 s, for ever.
 */
import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { RedisAddress } from './redis-url.js';

export interface StoreKeys {
  config: string;
  changes: string;
  instances: string;
  instance(id: string): string;
  stickySecret: string;
}

export function storeKeys(cluster: string): StoreKeys {
  const prefix = `lb:${cluster}:`;
  return {
    config: `${prefix}config`,
    changes: `${prefix}changes`,
    instances: `${prefix}instances`,
    instance: (id) => `${prefix}instance:${id}`,
    stickySecret: `${prefix}sticky-secret`,
  };
}

/** Reconnect delays: 100 ms doubling up to this, then this for ever. */
export const MAX_RECONNECT_DELAY_MS = 2_000;
/** A command that gets no answer in this long fails (a hung Redis must not hang an admin change). */
const COMMAND_TIMEOUT_MS = 2_000;

/**
 * What `config` holds. `same`: the version the caller already has (nothing else sent). `big`: too large to
 * read. `type`: the key is not a hash (someone wrote something else there).
 */
export type ConfigRead =
  | { kind: 'none'; version: '' }
  | { kind: 'type'; version: ''; what: string }
  | { kind: 'same'; version: string }
  | { kind: 'big'; version: string; bytes: number }
  | { kind: 'ok'; version: string; doc: string };

// Versions are compared as the raw strings stored, so a garbage version is still a version one can
// replace. Values come back as strings (or an array of them) whatever is stored.
const READ_SCRIPT = `
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'none' then return {'none'} end
if t ~= 'hash' then return {'type', t} end
local v = redis.call('HGET', KEYS[1], 'version') or ''
if v == ARGV[1] then return {'same', v} end
local n = redis.call('HSTRLEN', KEYS[1], 'doc')
if n > tonumber(ARGV[2]) then return {'big', v, tostring(n)} end
return {'ok', v, redis.call('HGET', KEYS[1], 'doc') or ''}
`;

/** Compare-and-set: writes only if the version is still the one read, then publishes the hint. */
const WRITE_SCRIPT = `
local t = redis.call('TYPE', KEYS[1])['ok']
local v = ''
if t == 'hash' then v = redis.call('HGET', KEYS[1], 'version') or '' end
if v ~= ARGV[1] then return {'0', v} end
if t ~= 'hash' and t ~= 'none' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'doc', ARGV[3])
redis.call('PUBLISH', KEYS[2], ARGV[4])
return {'1', ARGV[2]}
`;

export interface ConnectionEvents {
  /** Connected (again): `first` is false after a loss. */
  up: [first: boolean];
  down: [reason: string];
}

export class StoreConnection extends EventEmitter<ConnectionEvents> {
  readonly keys: StoreKeys;
  readonly #commands: Redis;
  readonly #subscriber: Redis;
  #wasUp = false;
  #isUp = false;
  #reconnects = 0;
  #lastError: string | null = null;
  #closed = false;

  constructor(address: RedisAddress, cluster: string) {
    super();
    this.keys = storeKeys(cluster);
    const options = {
      host: address.host,
      port: address.port,
      db: address.db,
      ...(address.username !== null ? { username: address.username } : {}),
      ...(address.password !== null ? { password: address.password } : {}),
      ...(address.tls ? { tls: {} } : {}),
      connectTimeout: 1_000,
      retryStrategy: (times: number) => Math.min(100 * 2 ** Math.min(times - 1, 5), MAX_RECONNECT_DELAY_MS),
      lazyConnect: true,
    };
    // No offline queue: while Redis is away a write fails at once instead of piling up in memory.
    this.#commands = new Redis({ ...options, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: COMMAND_TIMEOUT_MS });
    // The subscriber re-subscribes by itself after a reconnect.
    this.#subscriber = new Redis({ ...options, maxRetriesPerRequest: null, autoResubscribe: true });
    for (const client of [this.#commands, this.#subscriber]) {
      // ioredis prints unhandled 'error' events itself; the state is what matters here.
      client.on('error', (err: Error) => (this.#lastError = err.message.slice(0, 200)));
    }
    this.#commands.on('ready', () => {
      const first = !this.#wasUp;
      this.#wasUp = true;
      this.#isUp = true;
      if (!first) this.#reconnects++;
      this.emit('up', first);
    });
    this.#commands.on('close', () => {
      if (!this.#isUp) return;
      this.#isUp = false;
      if (!this.#closed) this.emit('down', this.#lastError ?? 'connection closed');
    });
  }

  /** Starts connecting; resolves once connected or once the first attempt failed (retries go on). */
  async open(onMessage: (message: string) => void): Promise<void> {
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.keys.changes) onMessage(message);
    });
    // Queued while the subscriber is not connected (its offline queue is on, with no retry limit), so it
    // subscribes whenever Redis first answers, and ioredis re-subscribes after every reconnect.
    this.#subscriber.subscribe(this.keys.changes).catch(() => undefined);
    await this.#commands.connect().catch(() => undefined);
  }

  get isUp(): boolean {
    return this.#isUp;
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  get lastError(): string | null {
    return this.#lastError;
  }

  /** The command connection, for the registry and the secret (never used while `isUp` is false). */
  get client(): Redis {
    return this.#commands;
  }

  async readConfig(knownVersion: string | null, maxBytes: number): Promise<ConfigRead> {
    const reply = (await this.#commands.eval(READ_SCRIPT, 1, this.keys.config, knownVersion ?? '\u0000none', String(maxBytes))) as string[];
    switch (reply[0]) {
      case 'none':
        return { kind: 'none', version: '' };
      case 'type':
        return { kind: 'type', version: '', what: String(reply[1]) };
      case 'same':
        return { kind: 'same', version: String(reply[1]) };
      case 'big':
        return { kind: 'big', version: String(reply[1]), bytes: Number(reply[2]) };
      default:
        return { kind: 'ok', version: String(reply[1]), doc: String(reply[2]) };
    }
  }

  /** Writes `doc` as `nextVersion` if the stored version is still `expected`; else says what it is now. */
  async writeConfig(expected: string, nextVersion: string, doc: string, hint: string): Promise<{ written: boolean; version: string }> {
    const reply = (await this.#commands.eval(WRITE_SCRIPT, 2, this.keys.config, this.keys.changes, expected, nextVersion, doc, hint)) as string[];
    return { written: reply[0] === '1', version: String(reply[1]) };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#commands.disconnect();
    this.#subscriber.disconnect();
  }
}
