/**
 * Replicates the control plane's configuration commands (servers added, removed, re-weighted, drained;
 * the algorithm; a reload's result) between the instances of a cluster through one versioned document
 * in Redis.
 *
 * - A command on this instance applies locally first (the control plane), then joins a bounded outbox;
 *   the outbox is merged into the newest document and written with a compare-and-set on its version
 *   (connection.ts), retried on a conflict. So concurrent changes on two instances both land, one after
 *   the other: the later write wins per server field, and every instance ends on the same version.
 * - A write publishes a hint; every instance (and a 1 s poll, for a missed hint or a hand edit) reads the
 *   document and, when its version is not the one applied, turns its running state into it through the
 *   control plane. What it received is applied "ungated" and never re-published, so nothing loops.
 * - The document is applied only while nothing of ours is pending: local state = document + outbox.
 * - No document (a new cluster, or Redis restarted empty): this instance writes its state (seeds it).
 *   An unreadable one (garbage, another format, too big): logged once, the running state kept; the next
 *   change on any instance replaces it.
 * - While Redis is away, configuration commands are refused (LB_STORE_UNAVAILABLE, 503): a change applied
 *   on one instance only would be undone at the next resync. Traffic never waits on Redis.
 */
import { LbError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Command } from '../control/commands.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { ConfigRead, StoreConnection } from './connection.js';
import {
  applyChange,
  MAX_SHARED_CONFIG_BYTES,
  parseSharedConfig,
  planSync,
  serialiseSharedConfig,
  sharedConfigOf,
  type SharedChange,
  type SharedConfig,
} from './shared-config.js';

/** Commands that change the shared configuration. */
const REPLICATED = new Set<Command['type']>(['addServer', 'removeServer', 'updateServer', 'setAlgorithm', 'applyConfig']);
/** Local changes waiting to be written; past this the whole running state is written instead (still correct, one write). */
export const MAX_OUTBOX = 1_000;
/** Compare-and-set attempts in a row before backing off (other writers keep winning). */
const MAX_ATTEMPTS = 20;

export interface ReplicatorOptions {
  instanceId: string;
  allowHosts: readonly string[];
  defaultMaxConns: number;
  logger: Logger;
  /** Where the first state came from, for the seed log line (`servers.json`). */
  source: string;
  /** A resync after a reconnect is complete (version applied or written). */
  onResynced(version: string): void;
}

export interface ReplicationStats {
  configVersion: string;
  pendingChanges: number;
  writes: number;
  conflicts: number;
  applied: number;
  ignored: number;
}

export class ConfigReplicator {
  readonly #control: ControlPlane;
  readonly #conn: StoreConnection;
  readonly #options: ReplicatorOptions;
  #outbox: SharedChange[] = [];
  /** The version last applied or written (as stored); '' before the first. */
  #version = '';
  /** The version last read (applied, written or ignored): a poll that finds it again reads nothing more. */
  #seen: string | null = null;
  #receiving = false;
  #running = false;
  #again = false;
  #synced = false;
  #resyncPending = false;
  #closed = false;
  #retryTimer: NodeJS.Timeout | null = null;
  /** Callers of `written()` waiting for the outbox to empty. */
  #waiters: Array<() => void> = [];
  /** The last unreadable document logged, so a poll does not log it again every second. */
  #lastIgnored = '';
  #stats = { writes: 0, conflicts: 0, applied: 0, ignored: 0 };

  constructor(control: ControlPlane, conn: StoreConnection, options: ReplicatorOptions) {
    this.#control = control;
    this.#conn = conn;
    this.#options = options;
    control.on('applied', (command) => this.#onApplied(command));
  }

  /** The gate's part for configuration commands: refused while the store is away. */
  admits(command: Command): boolean {
    if (!REPLICATED.has(command.type) || this.#conn.isUp) return true;
    throw new LbError('LB_STORE_UNAVAILABLE', `the cluster store is unreachable: configuration changes are refused until it is back (traffic keeps flowing on the last known state)`);
  }

  get synced(): boolean {
    return this.#synced;
  }

  stats(): ReplicationStats {
    return { configVersion: this.#version, pendingChanges: this.#outbox.length, ...this.#stats };
  }

  /** After a reconnect: the next completed sync is a resync (logged, and an event). */
  markResync(): void {
    this.#resyncPending = true;
    this.kick();
  }

  /** Reads (and writes what is pending) soon; calls made meanwhile fold into one more round. */
  kick(): void {
    this.#again = true;
    if (this.#running || this.#closed) return;
    this.#running = true;
    void this.#pump().finally(() => (this.#running = false));
  }

  /**
   * Resolves once every change made here so far is in the store (the outbox is empty), or after
   * `timeoutMs`, or at once while the store is away: the admin API answers a change after it, so "200"
   * means the other instances can read it.
   */
  written(timeoutMs: number): Promise<void> {
    if (this.#outbox.length === 0 || !this.#conn.isUp || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.#waiters.push(done);
    });
  }

  #wake(): void {
    for (const done of this.#waiters.splice(0)) done();
  }

  /** Resolves when no round is running (tests, close). */
  async settle(): Promise<void> {
    while (this.#running) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  close(): void {
    this.#closed = true;
    this.#wake();
    if (this.#retryTimer !== null) clearTimeout(this.#retryTimer);
  }

  #onApplied(command: Command): void {
    if (this.#receiving || !REPLICATED.has(command.type)) return;
    if (command.type === 'applyConfig' || this.#outbox.length >= MAX_OUTBOX) {
      // A reload's outcome (or more changes than the outbox holds) travels as the whole server list.
      this.#outbox = [{ type: 'replace', config: this.#local() }];
    } else {
      this.#outbox.push(command);
    }
    this.kick();
  }

  #local(): SharedConfig {
    return sharedConfigOf(this.#control.pool.servers, this.#control.algorithm.name);
  }

  async #pump(): Promise<void> {
    while (this.#again && !this.#closed) {
      this.#again = false;
      if (!this.#conn.isUp) {
        // The 'up' event kicks again; nobody waits for a write that cannot happen now.
        this.#wake();
        return;
      }
      try {
        await this.#round();
      } catch (err) {
        this.#wake();
        if (!this.#conn.isUp || this.#closed) return;
        this.#options.logger.warn(`store: sync failed, retrying in 1 s: ${(err as Error).message}`);
        this.#retryTimer = setTimeout(() => this.kick(), 1_000);
        return;
      }
    }
  }

  async #round(): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const batch = this.#outbox.slice();
      const read = await this.#conn.readConfig(batch.length > 0 ? null : this.#seen, MAX_SHARED_CONFIG_BYTES);
      if (read.kind === 'same') return this.#done();
      const parsed = read.kind === 'ok' ? parseSharedConfig(read.doc, this.#options.allowHosts) : null;
      const usable = parsed !== null && parsed.ok ? parsed : null;
      if (batch.length === 0) {
        if (usable !== null) {
          this.#adopt(read.version, usable.config, usable.by, usable.skipped);
          return this.#done();
        }
        if (read.kind !== 'none') {
          this.#ignore(read, parsed !== null && !parsed.ok ? parsed.reason : null);
          return this.#done();
        }
      }
      // Something to write: our pending changes on the newest document, or our whole state where there
      // is no usable document (a new cluster, Redis restarted empty, garbage in the key).
      const base = usable?.config ?? this.#local();
      const merged = batch.reduce((config, change) => applyChange(config, change, this.#options.defaultMaxConns), base);
      const next: SharedConfig = { ...merged, algorithm: merged.algorithm ?? this.#control.algorithm.name };
      const version = String(versionNumber(read.version) + 1);
      const doc = serialiseSharedConfig(next, this.#options.instanceId);
      if (doc.length > MAX_SHARED_CONFIG_BYTES) {
        this.#outbox.splice(0, batch.length);
        this.#wake();
        this.#options.logger.error(`store: the configuration is larger than ${MAX_SHARED_CONFIG_BYTES} bytes: not shared`);
        return this.#done();
      }
      const result = await this.#conn.writeConfig(read.version, version, doc, JSON.stringify({ version, by: this.#options.instanceId }));
      if (!result.written) {
        this.#stats.conflicts++;
        continue;
      }
      this.#stats.writes++;
      this.#outbox.splice(0, batch.length);
      if (this.#outbox.length === 0) this.#wake();
      this.#version = version;
      this.#seen = version;
      const seeded = read.kind === 'none' && batch.length === 0;
      if (seeded) {
        this.#options.logger.info(`store: ${this.#synced ? 'the cluster had no configuration: wrote ours' : `seeded the cluster from ${this.#options.source}`} (version ${version}: ${next.servers.length} server(s), ${next.algorithm})`);
      }
      // Other instances' changes merged under ours arrive here; later local ones wait for the next round.
      if (this.#outbox.length === 0) this.#sync(next, `version ${version}`);
      else this.#again = true;
      return this.#done();
    }
    throw new Error(`the configuration kept changing under ${MAX_ATTEMPTS} writes in a row`);
  }

  #done(): void {
    if (!this.#synced) this.#synced = true;
    if (this.#resyncPending) {
      this.#resyncPending = false;
      this.#options.onResynced(this.#version);
    }
  }

  #adopt(version: string, config: SharedConfig, by: string | null, skipped: string[]): void {
    const first = !this.#synced;
    const changes = this.#sync(config, `version ${version}`);
    this.#version = version;
    this.#seen = version;
    this.#stats.applied++;
    for (const line of skipped) this.#options.logger.warn(`store: configuration version ${version}: passed over ${line}`);
    const what = `version ${version}: ${config.servers.length} server(s), ${config.algorithm ?? this.#control.algorithm.name}`;
    if (first) this.#options.logger.info(`store: adopted the cluster's configuration (${what}; ${changes} change(s) to ours)`);
    else if (changes > 0) this.#options.logger.info(`store: applied ${what} from ${by ?? 'another instance'} (${changes} change(s))`);
  }

  /** Applies the commands that turn the running state into `config`; returns how many applied. */
  #sync(config: SharedConfig, what: string): number {
    const commands = planSync(this.#control.pool.servers, this.#control.algorithm.name, config);
    let applied = 0;
    this.#receiving = true;
    try {
      for (const command of commands) {
        try {
          this.#control.applyUngated(command);
          applied++;
        } catch (err) {
          this.#options.logger.warn(`store: ${what}: ${command.type} skipped: ${(err as Error).message}`);
        }
      }
    } finally {
      this.#receiving = false;
    }
    return applied;
  }

  #ignore(read: ConfigRead, reason: string | null): void {
    const note = `${read.kind}:${read.version}`;
    this.#seen = read.version === '' ? null : read.version;
    if (note === this.#lastIgnored) return;
    this.#lastIgnored = note;
    this.#stats.ignored++;
    const why = read.kind === 'big' ? `${read.bytes} bytes, more than ${MAX_SHARED_CONFIG_BYTES}` : read.kind === 'type' ? `the key holds a ${read.what}, not a hash` : (reason ?? 'unreadable');
    this.#options.logger.warn(`store: the cluster's configuration (version ${JSON.stringify(read.version.slice(0, 40))}) is ignored: ${why}; keeping the running state (the next change replaces it)`);
  }
}

/** A stored version as a number; garbage counts as 0, so the next write still moves on. */
function versionNumber(raw: string): number {
  return /^\d{1,15}$/.test(raw) ? Number(raw) : 0;
}
