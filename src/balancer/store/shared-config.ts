/**
 * The cluster's shared configuration as a document (pure; no Redis here): the server list with weight,
 * max_conns and drain flag, and the algorithm. It is what every instance of a cluster runs; the store
 * keeps it with a version that only grows (replication.ts).
 *
 * - `parseSharedConfig` reads it back from the store, which is an input path like a servers file:
 *   oversized, not JSON, another format, a server with a bad or refused host, a duplicate, an unknown
 *   algorithm are refused or passed over with a reason, never thrown at the caller and never routed to.
 * - `applyChange` merges one replicated command into a document: concurrent commands on two instances
 *   are each applied to the newest document in turn, so a later write keeps an earlier one's other
 *   fields (last writer wins per server field, in version order).
 * - `planSync` lists the commands that turn the running pool into a document's state.
 */
import { isAlgorithmName, type AlgorithmName } from '../../shared/api-types.js';
import { isObject, MAX_SERVERS, parseServer } from '../config.js';
import type { Command } from '../control/commands.js';
import { checkDestination } from '../edge/server-address.js';
import { serverIdOf, type Server, type ServerInit } from '../server.js';

/** A document's format; a store holding another one (a newer lb) is left alone. */
export const SHARED_CONFIG_FORMAT = 1;
/** 10 000 servers of ~250 bytes each fit; a bigger document is refused unread. */
export const MAX_SHARED_CONFIG_BYTES = 4 * 1024 * 1024;

export interface SharedServer extends ServerInit {
  weight: number;
  maxConns: number;
  drain: boolean;
}

export interface SharedConfig {
  /** null: the document named no algorithm this lb knows; each instance keeps its own. */
  algorithm: AlgorithmName | null;
  servers: SharedServer[];
}

/** What a replicated change is: a command, or a whole server list (a reload, a seed). */
export type SharedChange = Command | { type: 'replace'; config: SharedConfig };

export function sharedConfigOf(servers: readonly Server[], algorithm: AlgorithmName): SharedConfig {
  return {
    algorithm,
    servers: servers.map((s) => ({
      host: s.host,
      port: s.port,
      weight: s.weight,
      maxConns: s.maxConns,
      drain: s.draining,
      ...(s.name !== null ? { name: s.name } : {}),
      ...(s.origin.startsWith('https:') ? { tls: true } : {}),
    })),
  };
}

/** The document as the store holds it (the servers file's field names), with who wrote it and when. */
export function serialiseSharedConfig(config: SharedConfig, by: string): string {
  return JSON.stringify({
    format: SHARED_CONFIG_FORMAT,
    algorithm: config.algorithm,
    servers: config.servers.map((s) => ({
      host: s.host,
      port: s.port,
      weight: s.weight,
      max_conns: s.maxConns,
      ...(s.name !== undefined ? { name: s.name } : {}),
      ...(s.tls === true ? { tls: true } : {}),
      ...(s.drain ? { drain: true } : {}),
    })),
    by,
    at: new Date().toISOString(),
  });
}

export type ParsedSharedConfig = { ok: true; config: SharedConfig; by: string | null; skipped: string[] } | { ok: false; reason: string };

export function parseSharedConfig(text: string, allowHosts: readonly string[]): ParsedSharedConfig {
  if (text.length > MAX_SHARED_CONFIG_BYTES) return { ok: false, reason: `larger than ${MAX_SHARED_CONFIG_BYTES} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `not valid JSON (${(err as Error).message.slice(0, 120)})` };
  }
  if (!isObject(value)) return { ok: false, reason: 'not a JSON object' };
  if (value.format !== SHARED_CONFIG_FORMAT) return { ok: false, reason: `format ${JSON.stringify(value.format)?.slice(0, 40)} is not ${SHARED_CONFIG_FORMAT} (written by another lb version?)` };
  if (!Array.isArray(value.servers)) return { ok: false, reason: 'servers: not a list' };
  if (value.servers.length > MAX_SERVERS) return { ok: false, reason: `servers: more than ${MAX_SERVERS}` };
  const skipped: string[] = [];
  const algorithm = isAlgorithmName(value.algorithm) ? value.algorithm : null;
  if (algorithm === null) skipped.push(`algorithm: unknown ${JSON.stringify(value.algorithm)?.slice(0, 60)}, kept the running one`);
  const servers: SharedServer[] = [];
  const seen = new Set<string>();
  value.servers.forEach((entry: unknown, i: number) => {
    const where = `servers[${i}]`;
    try {
      const init = parseServer(entry, where);
      // A refused destination (cloud metadata, link-local...) is refused here as in a servers file.
      checkDestination(init.host, `${where}.host`, allowHosts);
      const id = serverIdOf(init);
      const address = `${init.host}:${init.port}`;
      if (seen.has(id) || seen.has(address)) throw new Error(`${where}: duplicate of an earlier server (${id})`);
      seen.add(id);
      seen.add(address);
      const raw = entry as Record<string, unknown>;
      servers.push({ ...init, weight: init.weight ?? 1, maxConns: init.maxConns ?? 0, drain: raw.drain === true });
    } catch (err) {
      skipped.push((err as Error).message.slice(0, 200));
    }
  });
  return { ok: true, config: { algorithm, servers }, by: typeof value.by === 'string' ? value.by.slice(0, 200) : null, skipped };
}

/** The entry a command names: by id, else by `host:port` (as the pool looks servers up). */
function indexOf(servers: readonly SharedServer[], ref: string): number {
  const byId = servers.findIndex((s) => serverIdOf(s) === ref);
  if (byId !== -1) return byId;
  const sep = ref.lastIndexOf(':');
  if (sep <= 0) return -1;
  const host = ref.slice(0, sep).replace(/^\[|\]$/g, '');
  const port = Number(ref.slice(sep + 1));
  return servers.findIndex((s) => s.host === host && s.port === port);
}

/** `change` applied to `config` (a new document; the old one is untouched). Commands that do not replicate return it as is. */
export function applyChange(config: SharedConfig, change: SharedChange, defaultMaxConns: number): SharedConfig {
  switch (change.type) {
    case 'replace':
      return change.config;
    case 'setAlgorithm':
      return { ...config, algorithm: change.algorithm };
    case 'addServer': {
      const init = change.server;
      const id = serverIdOf(init);
      const servers = config.servers.filter((s) => serverIdOf(s) !== id);
      // The address taken by another server (added elsewhere meanwhile): the earlier write stands.
      if (servers.some((s) => s.host === init.host && s.port === init.port)) return config;
      servers.push({ ...init, weight: init.weight ?? 1, maxConns: init.maxConns ?? defaultMaxConns, drain: false });
      return { ...config, servers };
    }
    case 'removeServer': {
      const i = indexOf(config.servers, change.server);
      return i === -1 ? config : { ...config, servers: config.servers.filter((_, j) => j !== i) };
    }
    case 'updateServer': {
      const i = indexOf(config.servers, change.server);
      // Removed elsewhere meanwhile: nothing to update.
      if (i === -1) return config;
      const current = config.servers[i]!;
      const next: SharedServer = {
        ...current,
        ...(change.weight !== undefined ? { weight: change.weight } : {}),
        ...(change.maxConns !== undefined ? { maxConns: change.maxConns } : {}),
        ...(change.drain !== undefined ? { drain: change.drain } : {}),
      };
      return { ...config, servers: config.servers.map((s, j) => (j === i ? next : s)) };
    }
    default:
      return config;
  }
}

/** The commands that make the running pool and algorithm match `config`: removals, additions, updates, algorithm. */
export function planSync(running: readonly Server[], runningAlgorithm: AlgorithmName, config: SharedConfig): Command[] {
  const wanted = new Map(config.servers.map((s) => [serverIdOf(s), s]));
  const commands: Command[] = [];
  const kept = new Set<string>();
  for (const server of running) {
    const want = wanted.get(server.id);
    const sameAddress = want !== undefined && want.host === server.host && want.port === server.port && (want.tls === true) === server.origin.startsWith('https:');
    if (sameAddress) kept.add(server.id);
    else commands.push({ type: 'removeServer', server: server.id });
  }
  for (const [id, want] of wanted) {
    if (!kept.has(id)) {
      const { drain, ...init } = want;
      commands.push({ type: 'addServer', server: init });
      if (drain) commands.push({ type: 'updateServer', server: id, drain: true });
      continue;
    }
    const server = running.find((s) => s.id === id)!;
    const change = {
      ...(want.weight !== server.weight ? { weight: want.weight } : {}),
      ...(want.maxConns !== server.maxConns ? { maxConns: want.maxConns } : {}),
      ...(want.drain !== server.draining ? { drain: want.drain } : {}),
    };
    if (Object.keys(change).length > 0) commands.push({ type: 'updateServer', server: id, ...change });
  }
  if (config.algorithm !== null && config.algorithm !== runningAlgorithm) commands.push({ type: 'setAlgorithm', algorithm: config.algorithm });
  return commands;
}
