/**
 * `lb loadtest` flags to the runner's options, checked: every problem is a one-line usage error naming the
 * flag. Pure but for reading --body-file and --path @file.
 */
import { readFile } from 'node:fs/promises';
import { LbError } from '../shared/errors.js';
import type { LoadOptions } from './runner.js';

export interface LoadtestFlags {
  /** One URL, or several entry points (a cluster's instances). */
  url?: string | string[];
  requests?: number;
  duration?: string;
  concurrent?: number;
  rate?: number;
  method?: string;
  header?: string[];
  body?: string;
  bodyFile?: string;
  timeout?: number;
  path?: string[];
  cookies?: boolean;
  timeline?: boolean;
  insecure?: boolean;
}

export const DEFAULT_URL = 'http://localhost:8080';
const MAX_REQUESTS = 10_000_000;
const MAX_DURATION_MS = 3_600_000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const MAX_PATHS = 10_000;
/** Entry points of one run (each gets its own connection pool). */
const MAX_URLS = 64;

const usage = (message: string): LbError => new LbError('LB_USAGE', message);

/** `30s`, `500ms`, `2m`, `1h`, or plain seconds. */
export function parseDuration(text: string, flag: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(text);
  if (match === null) throw usage(`${flag} must be a duration like 30s, 500ms or 2m, got ${JSON.stringify(text)}`);
  const value = Number(match[1]);
  const ms = match[2] === 'ms' ? value : match[2] === 'm' ? value * 60_000 : match[2] === 'h' ? value * 3_600_000 : value * 1000;
  if (ms < 1 || ms > MAX_DURATION_MS) throw usage(`${flag} must be between 1 ms and 1 h, got ${JSON.stringify(text)}`);
  return Math.round(ms);
}

export function parseTarget(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw usage(`--url must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usage(`--url must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return url;
}

function parseHeaders(values: string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    const colon = value.indexOf(':');
    const name = colon > 0 ? value.slice(0, colon).trim() : '';
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw usage(`--header must be name:value, got ${JSON.stringify(value)}`);
    out.push(name, value.slice(colon + 1).trim());
  }
  return out;
}

async function parsePaths(values: string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const value of values) {
    if (value.startsWith('@')) {
      let text: string;
      try {
        text = await readFile(value.slice(1), 'utf8');
      } catch (err) {
        throw usage(`--path ${value}: cannot read ${value.slice(1)} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      paths.push(...text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')));
    } else {
      paths.push(...value.split(',').map((p) => p.trim()).filter(Boolean));
    }
  }
  for (const path of paths) if (!path.startsWith('/')) throw usage(`--path entries must start with "/", got ${JSON.stringify(path)}`);
  if (paths.length > MAX_PATHS) throw usage(`--path: at most ${MAX_PATHS} paths, got ${paths.length}`);
  return paths;
}

export async function toLoadOptions(flags: LoadtestFlags): Promise<LoadOptions> {
  const given = flags.url === undefined ? [DEFAULT_URL] : Array.isArray(flags.url) ? flags.url : [flags.url];
  if (given.length > MAX_URLS) throw usage(`--url: at most ${MAX_URLS} entry points, got ${given.length}`);
  const urls = given.map(parseTarget);
  const twice = urls.find((u, i) => urls.findIndex((v) => v.href === u.href) !== i);
  if (twice !== undefined) throw usage(`--url ${twice.href} given twice`);
  const url = urls[0]!;
  if (flags.requests !== undefined && flags.duration !== undefined) throw usage('give --requests or --duration, not both');
  if (flags.body !== undefined && flags.bodyFile !== undefined) throw usage('give --body or --body-file, not both');
  const durationMs = flags.duration !== undefined ? parseDuration(flags.duration, '--duration') : null;
  const requests = durationMs === null ? (flags.requests ?? 100) : null;
  if (requests !== null && (!Number.isInteger(requests) || requests < 1 || requests > MAX_REQUESTS)) {
    throw usage(`--requests must be an integer 1-${MAX_REQUESTS}, got ${requests}`);
  }
  let body: Buffer | null = null;
  if (flags.body !== undefined) body = Buffer.from(flags.body);
  if (flags.bodyFile !== undefined) {
    try {
      body = await readFile(flags.bodyFile);
    } catch (err) {
      throw usage(`--body-file: cannot read ${flags.bodyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (body.length > MAX_BODY_BYTES) throw usage(`--body-file: at most 64 MiB, got ${body.length} bytes`);
  }
  const method = (flags.method ?? (body !== null ? 'POST' : 'GET')).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw usage(`--method must be an HTTP method like GET or POST, got ${JSON.stringify(flags.method)}`);
  return {
    url,
    ...(urls.length > 1 ? { entryPoints: urls } : {}),
    requests,
    durationMs,
    concurrency: flags.concurrent ?? 10,
    rateRps: flags.rate ?? null,
    method,
    headers: parseHeaders(flags.header ?? []),
    body,
    timeoutMs: Math.round((flags.timeout ?? 10) * 1000),
    paths: await parsePaths(flags.path ?? []),
    cookies: flags.cookies === true,
    timeline: flags.timeline === true,
    insecure: flags.insecure === true,
  };
}
