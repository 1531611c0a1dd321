/**
 * What the operator changed at runtime (admin API, monitor, web page, embedding), on top of the file:
 * servers added and removed, per-server weight, drain and max_conns, the algorithm. A reload keeps these
 * for every server the file did not touch (HAProxy's server-state file, Caddy's autosave), and
 * `--state-file` saves them so a restart keeps them too.
 *
 * The file is written atomically (temporary file, fsync, rename) so a crash mid-write leaves the old
 * state, never half a file; writes are serialised, the newest state last.
 */
import { open, readFile, rename } from 'node:fs/promises';
import type { AlgorithmName } from '../../shared/api-types.js';
import { isAlgorithmName } from '../../shared/api-types.js';
import { LbError } from '../../shared/errors.js';
import { isObject, parseServer } from '../config.js';
import type { ServerInit } from '../server.js';
import type { ServerChange } from './commands.js';
import { parseJsonText } from '../../shared/json-text.js';

export interface RuntimeSnapshot {
  version: 1;
  added: ServerInit[];
  removed: string[];
  updated: Record<string, ServerChange>;
  algorithm: AlgorithmName | null;
}

export class RuntimeState {
  readonly #added = new Map<string, ServerInit>();
  readonly #removed = new Set<string>();
  readonly #updated = new Map<string, ServerChange>();
  #algorithm: AlgorithmName | null = null;

  added(id: string): ServerInit | undefined {
    return this.#added.get(id);
  }

  wasRemoved(id: string): boolean {
    return this.#removed.has(id);
  }

  updates(id: string): ServerChange | undefined {
    return this.#updated.get(id);
  }

  get algorithm(): AlgorithmName | null {
    return this.#algorithm;
  }

  recordAdd(id: string, init: ServerInit): void {
    this.#removed.delete(id);
    this.#added.set(id, { ...init });
  }

  /** `fromFile`: the server came from the file, so its absence must be remembered; a runtime one is just forgotten. */
  recordRemove(id: string, fromFile: boolean): void {
    this.#added.delete(id);
    this.#updated.delete(id);
    if (fromFile) this.#removed.add(id);
  }

  recordUpdate(id: string, change: ServerChange): void {
    const added = this.#added.get(id);
    if (added !== undefined) {
      // A runtime server carries its changes in its own entry.
      if (change.weight !== undefined) added.weight = change.weight;
      if (change.maxConns !== undefined) added.maxConns = change.maxConns;
      if (change.drain === undefined) return;
    }
    this.#updated.set(id, { ...this.#updated.get(id), ...change });
  }

  recordAlgorithm(name: AlgorithmName | null): void {
    this.#algorithm = name;
  }

  /** The file took this server over (changed, removed or added it): its runtime changes end. */
  forget(id: string): void {
    this.#added.delete(id);
    this.#removed.delete(id);
    this.#updated.delete(id);
  }

  /** One line per kept change, for the reload log. */
  describe(): string[] {
    const lines = [...this.#added.keys()].map((id) => `${id} added`);
    lines.push(...[...this.#removed].map((id) => `${id} removed`));
    for (const [id, change] of this.#updated) {
      lines.push(`${id} ${Object.entries(change).map(([key, value]) => `${key} ${String(value)}`).join(', ')}`);
    }
    if (this.#algorithm !== null) lines.push(`algorithm ${this.#algorithm}`);
    return lines;
  }

  get isEmpty(): boolean {
    return this.#added.size === 0 && this.#removed.size === 0 && this.#updated.size === 0 && this.#algorithm === null;
  }

  snapshot(): RuntimeSnapshot {
    return {
      version: 1,
      added: [...this.#added.values()].map((init) => ({ ...init })),
      removed: [...this.#removed],
      updated: Object.fromEntries([...this.#updated].map(([id, change]) => [id, { ...change }])),
      algorithm: this.#algorithm,
    };
  }
}

/** Reads a state file; a missing file is an empty state. Every problem names the file and the field. */
export async function readStateFile(path: string): Promise<RuntimeSnapshot | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new LbError('LB_CONFIG_INVALID', `${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const bad = (problem: string): LbError => new LbError('LB_CONFIG_INVALID', `${path}: ${problem}`);
  let value: unknown;
  try {
    value = parseJsonText(text);
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`);
  }
  if (!isObject(value) || value.version !== 1) throw bad('not an lb state file (expected {"version": 1, ...})');
  const added = Array.isArray(value.added) ? value.added.map((entry, i) => parseServer(entry, `added[${i}]`)) : [];
  const removed = Array.isArray(value.removed) ? value.removed.filter((id): id is string => typeof id === 'string') : [];
  const entries = isObject(value.updated) ? Object.entries(value.updated) : [];
  // fromEntries, not assignment: a server id like __proto__ must stay a plain key.
  const updated: Record<string, ServerChange> = Object.fromEntries(
    entries.map(([id, change]) => {
      if (!isObject(change)) throw bad(`updated.${id}: must be an object`);
      const entry: ServerChange = {};
      if (typeof change.weight === 'number') entry.weight = change.weight;
      if (typeof change.drain === 'boolean') entry.drain = change.drain;
      if (typeof change.maxConns === 'number') entry.maxConns = change.maxConns;
      return [id, entry];
    }),
  );
  const algorithm = value.algorithm === null || value.algorithm === undefined ? null : value.algorithm;
  if (algorithm !== null && !isAlgorithmName(algorithm)) throw bad(`algorithm: unknown ${JSON.stringify(algorithm)}`);
  return { version: 1, added, removed, updated, algorithm };
}

/** A server entry in the servers file's words, which readStateFile's parseServer reads back (max_conns, send_proxy). */
function fileEntry(init: ServerInit): Record<string, unknown> {
  const { maxConns, sendProxy, ...rest } = init;
  return { ...rest, ...(maxConns !== undefined ? { max_conns: maxConns } : {}), ...(sendProxy !== undefined ? { send_proxy: sendProxy } : {}) };
}

/** Serialised atomic writes of the newest state. */
export class StateFileWriter {
  #pending: RuntimeSnapshot | null = null;
  #writing: Promise<void> | null = null;

  constructor(
    readonly path: string,
    readonly onError: (err: Error) => void,
  ) {}

  save(state: RuntimeSnapshot): void {
    this.#pending = state;
    this.#writing ??= this.#drain();
  }

  /** Resolves when everything saved so far is on disk. */
  async flush(): Promise<void> {
    while (this.#writing !== null) await this.#writing;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== null) {
        const state = this.#pending;
        this.#pending = null;
        try {
          await writeAtomically(this.path, `${JSON.stringify({ ...state, added: state.added.map(fileEntry) }, null, 2)}\n`);
        } catch (err) {
          this.onError(err as Error);
        }
      }
    } finally {
      this.#writing = null;
    }
  }
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
}
