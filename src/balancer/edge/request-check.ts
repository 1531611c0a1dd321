/**
 * What the traffic port refuses before any server is chosen: requests that cannot be forwarded as they
 * stand. Each would otherwise be refused by the upstream client after a server was picked, and count as
 * that server's failure (12 `OPTIONS *` a second kept healthy servers ejected). Answered by lb itself, as
 * nginx and HAProxy do, and never counted against a server:
 *
 * - a target that is not origin-form (`/path`) or absolute-form (`http://host/path`): `OPTIONS *`,
 *   authority-form outside CONNECT, anything else -> 400;
 * - absolute-form with userinfo (`http://user:pw@host/`) -> 400 (RFC 9110 §4.2.4: not to be sent);
 * - more than one Host header, or one whose value is not a host[:port] -> 400 (RFC 9112 §3.2: a server
 *   MUST answer 400);
 * - an HTTP version other than 1.x (0.9, 2.0 over plain text) -> 505;
 * - more header fields than `maxHeaders` -> 431 (Node would silently drop those past its own count).
 *
 * Absolute-form is forwarded in origin form, with the target's authority as Host (RFC 9112 §3.2.2: it
 * replaces the Host header). The request is rewritten in place, so routing keys, X-Forwarded-Host and
 * the WebSocket path all see the same Host.
 */
import type { IncomingMessage } from 'node:http';
import type { LbErrorCode } from '../../shared/errors.js';

export interface Refusal {
  code: LbErrorCode;
  message: string;
}

/** RFC 3986 uri-host (reg-name or bracketed IP literal) with an optional port; empty is allowed (§7.2). */
const HOST_VALUE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]*)(?::\d{0,5})?$/;

let lastGoodHost = '';

export function checkRequest(req: IncomingMessage, maxHeaders: number): Refusal | null {
  if (req.httpVersionMajor !== 1) return { code: 'LB_HTTP_VERSION', message: `HTTP/${req.httpVersion} is not supported here (HTTP/1.0 and 1.1 are)` };
  const raw = req.rawHeaders;
  if (raw.length > maxHeaders * 2) {
    return { code: 'LB_HEADERS_TOO_LARGE', message: `more than ${maxHeaders} header fields` };
  }
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isHostName(name)) hosts += 1;
  }
  if (hosts > 1) return { code: 'LB_BAD_REQUEST', message: 'more than one Host header' };
  const host = req.headers.host;
  if (host !== undefined && host !== lastGoodHost) {
    if (!HOST_VALUE.test(host)) return { code: 'LB_BAD_REQUEST', message: 'the Host header is not a host name with an optional port' };
    // Clients send the same Host request after request: checked once, not per request.
    lastGoodHost = host;
  }
  const target = req.url ?? '';
  if (target.charCodeAt(0) === 47 /* '/' */) return null;
  return absoluteForm(req, target);
}

/** `name` is Host in any letter case, with no lower-cased copy made (this runs for every header of every request). */
function isHostName(name: string): boolean {
  // c | 32 is 'h' only for 'H' and 'h' (and likewise for o, s, t): an exact case-insensitive match.
  return (
    name.length === 4 &&
    (name.charCodeAt(0) | 32) === 104 &&
    (name.charCodeAt(1) | 32) === 111 &&
    (name.charCodeAt(2) | 32) === 115 &&
    (name.charCodeAt(3) | 32) === 116
  );
}

function absoluteForm(req: IncomingMessage, target: string): Refusal | null {
  if (!/^https?:\/\//i.test(target)) {
    return { code: 'LB_BAD_REQUEST', message: `request target ${JSON.stringify(target.slice(0, 64))} cannot be forwarded (expected /path or http://host/path)` };
  }
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { code: 'LB_BAD_REQUEST', message: 'malformed absolute request target' };
  }
  if (url.username !== '' || url.password !== '') return { code: 'LB_BAD_REQUEST', message: 'request target must not carry user:password@' };
  // Authority, path and query as written: URL would lower-case, drop a default port and resolve `..`,
  // and the server should see what the client sent.
  const start = target.indexOf('//') + 2;
  const authority = target.slice(start).split(/[/?#]/, 1)[0]!;
  if (authority === '') return { code: 'LB_BAD_REQUEST', message: 'absolute request target without a host' };
  const rest = target.slice(start + authority.length).split('#', 1)[0]!;
  req.url = rest === '' ? '/' : rest.startsWith('/') ? rest : `/${rest}`;
  const raw = req.rawHeaders;
  let replaced = false;
  for (let i = 0; i < raw.length; i += 2) {
    if (isHostName(raw[i]!)) {
      raw[i + 1] = authority;
      replaced = true;
    }
  }
  if (!replaced) raw.push('Host', authority);
  req.headers.host = authority;
  return null;
}
