/**
 * What keeps web pages away from the admin API. Without a token the admin listener trusts whoever can
 * reach it, loopback by default, and a browser on the same machine can reach it: a page from any site
 * could send a "simple" cross-origin POST (text/plain, no preflight) or rebind its own DNS name to
 * 127.0.0.1. So, as Caddy's `enforce_origin` and Docker's and Jupyter's fixes do:
 *
 * - a request whose `Origin` is neither the admin listener's own origin nor allowed by `--admin-cors`
 *   is refused (403), and so is one a browser marks `Sec-Fetch-Site: cross-site`;
 * - without a token, a `Host` that is not an IP literal, a loopback name (`localhost`, `*.localhost`)
 *   or the configured admin host is refused (421): that is what a rebound DNS name looks like. A token
 *   already stops rebinding (a browser never attaches it to a foreign page's requests), so with one any
 *   Host is served, for operators who reach the admin port by a DNS name;
 * - requests that change things (POST, PUT, PATCH) must say `Content-Type: application/json` (415):
 *   browsers cannot send that cross-origin without a CORS preflight, which lb answers only for
 *   `--admin-cors` origins.
 */
import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import type { Refusal } from './request-check.js';

export interface AdminGuardOptions {
  /** The admin listener's configured host. */
  adminHost: string;
  tokenRequired: boolean;
  corsOrigins: readonly string[];
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

export function checkAdminRequest(req: IncomingMessage, options: AdminGuardOptions): Refusal | null {
  // Absolute-form would carry a second authority the Host check does not see; browsers never send it.
  if (!(req.url ?? '').startsWith('/')) return { code: 'LB_BAD_REQUEST', message: 'the admin API takes origin-form targets only (/path)' };
  const host = req.headers.host;
  if (!options.tokenRequired && host !== undefined && !isTrustedHost(hostnameOf(host), options.adminHost)) {
    return { code: 'LB_MISDIRECTED', message: `Host ${JSON.stringify(host.slice(0, 100))} is not this admin listener's address (use 127.0.0.1 or localhost)` };
  }
  const origin = req.headers.origin;
  if (origin !== undefined && !isAllowedOrigin(origin, host, options.corsOrigins)) {
    return { code: 'LB_FORBIDDEN', message: `requests from origin ${JSON.stringify(origin.slice(0, 100))} are not allowed (see --admin-cors)` };
  }
  if (origin === undefined && req.headers['sec-fetch-site'] === 'cross-site') {
    return { code: 'LB_FORBIDDEN', message: 'cross-site requests are not allowed (see --admin-cors)' };
  }
  if (BODY_METHODS.has(req.method ?? '') && !isJson(req.headers['content-type'])) {
    return { code: 'LB_UNSUPPORTED_MEDIA_TYPE', message: 'send Content-Type: application/json with requests that change the balancer' };
  }
  return null;
}

/** `Host` without its port; IPv6 literals without brackets; lower case. */
export function hostnameOf(host: string): string {
  const text = host.trim().toLowerCase();
  if (text.startsWith('[')) return text.slice(1, text.indexOf(']') === -1 ? undefined : text.indexOf(']'));
  const colon = text.indexOf(':');
  return colon === -1 ? text : text.slice(0, colon);
}

function isTrustedHost(hostname: string, adminHost: string): boolean {
  if (isIP(hostname) !== 0) return true;
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) return true;
  return hostname === adminHost.toLowerCase();
}

function isAllowedOrigin(origin: string, host: string | undefined, corsOrigins: readonly string[]): boolean {
  if (corsOrigins.includes('*') || corsOrigins.includes(origin)) return true;
  if (host === undefined) return false;
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === new URL(`http://${host}`).host;
  } catch {
    // "null" (sandboxed frames, file:// pages) and anything unparsable is no origin of ours.
    return false;
  }
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const media = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return media === 'application/json' || (media.startsWith('application/') && media.endsWith('+json'));
}

/** Deepest nesting of objects and arrays in JSON text; strings are skipped, so brackets in them do not count. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i += 1;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91 /* { [ */) deepest = Math.max(deepest, ++depth);
    else if (c === 125 || c === 93 /* } ] */) depth -= 1;
  }
  return deepest;
}
