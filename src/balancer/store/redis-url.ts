/**
 * `--store redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS): parsed once, here, into
 * what the Redis client needs. A bad URL is a one-line reason (the settings table adds the flag's name).
 * The password never leaves this module in clear: `redactedUrl` is what logs and `GET /lb/config` show.
 */
import { checkHost } from '../edge/server-address.js';
import { SettingProblem } from '../settings/kinds.js';

export interface RedisAddress {
  host: string;
  port: number;
  db: number;
  username: string | null;
  password: string | null;
  tls: boolean;
  /** As given, for the client. */
  url: string;
}

export interface StoreConfig {
  /** null: no store, the instance stands alone (nothing changes). */
  url: string | null;
  /** Keys are prefixed by it, so several clusters share one Redis. */
  cluster: string;
}

export const REDIS_URL_HELP = 'a redis:// URL like redis://127.0.0.1:6379/0 (rediss:// for TLS, redis://:password@host for AUTH)';

const MAX_DB = 9_999;

export function parseRedisUrl(raw: string): RedisAddress {
  const bad = (why: string): SettingProblem => new SettingProblem(`must be ${REDIS_URL_HELP}, got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}...` : raw)}${why ? ` (${why})` : ''}`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw bad('');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw bad(`scheme ${url.protocol.replace(/:$/, '')} is not redis or rediss`);
  if (url.search !== '' || url.hash !== '') throw bad('no query or fragment');
  if (url.hostname === '') throw bad('no host');
  let host: string;
  try {
    host = checkHost(url.hostname, 'host');
  } catch {
    throw bad('bad host');
  }
  const port = url.port === '' ? 6379 : Number(url.port);
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,4}$/.test(path)) throw bad('the path is a database number');
  const db = path === '' ? 0 : Number(path);
  if (db > MAX_DB) throw bad(`database at most ${MAX_DB}`);
  return {
    host,
    port,
    db,
    username: url.username === '' ? null : decodeURIComponent(url.username),
    password: url.password === '' ? null : decodeURIComponent(url.password),
    tls: url.protocol === 'rediss:',
    url: raw,
  };
}

/** The URL with its password replaced, for logs, `/lb/cluster` and `/lb/config`. */
export function redactedUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (url.password !== '') url.password = 'redacted';
    return url.toString();
  } catch {
    return '<invalid>';
  }
}

/** A cluster name goes into every key: letters, digits and `-_.`, 1-64 of them. */
export function parseClusterName(raw: string): string {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(raw)) throw new SettingProblem(`must be 1-64 letters, digits, -, _ or ., got ${JSON.stringify(raw.slice(0, 80))}`);
  return raw;
}
