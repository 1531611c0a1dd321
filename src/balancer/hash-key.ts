/**
 * What a consistent-hash (or IP-sticky) key is made of: `ip` (default), `path`, `header:NAME`,
 * `cookie:NAME` or `query:NAME`. Parsed once at start; extraction reads only the plain RequestContext.
 * A request that lacks the named header, cookie or parameter falls back to its client IP, as nginx's
 * `hash $cookie_x consistent` would otherwise send every such request to one server.
 */
import { LbError } from '../shared/errors.js';
import type { RequestContext } from './algorithms/types.js';

export type HashKeySpec =
  | { kind: 'ip' }
  | { kind: 'path' }
  | { kind: 'header'; name: string }
  | { kind: 'cookie'; name: string }
  | { kind: 'query'; name: string };

export const HASH_KEY_HELP = 'ip, path, header:NAME, cookie:NAME or query:NAME';

export function parseHashKey(spec: string, where: string): HashKeySpec {
  if (spec === 'ip' || spec === 'path') return { kind: spec };
  const match = /^(header|cookie|query):([!#$%&'*+.^_`|~0-9A-Za-z-]+)$/.exec(spec);
  if (match === null) throw new LbError('LB_CONFIG_INVALID', `${where}: must be ${HASH_KEY_HELP}, got ${JSON.stringify(spec)}`);
  const kind = match[1] as 'header' | 'cookie' | 'query';
  return { kind, name: kind === 'header' ? match[2]!.toLowerCase() : match[2]! };
}

/** The spec as the user writes it: `ip`, `header:x-user`... */
export function formatHashKey(spec: HashKeySpec): string {
  return spec.kind === 'ip' || spec.kind === 'path' ? spec.kind : `${spec.kind}:${spec.name}`;
}

export function hashKeyOf(spec: HashKeySpec, ctx: RequestContext): string {
  switch (spec.kind) {
    case 'ip':
      return ctx.clientIp;
    case 'path': {
      const q = ctx.path.indexOf('?');
      return q === -1 ? ctx.path : ctx.path.slice(0, q);
    }
    case 'header': {
      const value = ctx.headers[spec.name];
      const text = Array.isArray(value) ? value.join(',') : value;
      return text === undefined || text === '' ? ctx.clientIp : text;
    }
    case 'cookie':
      return cookieValue(ctx.headers.cookie, spec.name) ?? ctx.clientIp;
    case 'query': {
      const q = ctx.path.indexOf('?');
      if (q === -1) return ctx.clientIp;
      return new URLSearchParams(ctx.path.slice(q + 1)).get(spec.name) ?? ctx.clientIp;
    }
  }
}

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const text = Array.isArray(header) ? header.join('; ') : header;
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
