/**
 * The one check every server passes before it can take traffic, whichever way it arrives: the servers
 * file, the admin API, a reload or the embedding API (`pool.add`). A server's host and name end up in a
 * URL, in response headers and on the terminal, so only these are accepted:
 *
 * - host: an RFC 1123 host name (labels of letters, digits and `-`; `_` too, because Docker and
 *   Kubernetes service names use it and resolvers accept it), a canonical dotted IPv4 address, or an IPv6
 *   literal (brackets optional). A name whose last label is numeric must be a real dotted quad: resolvers
 *   read `2130706433`, `127.1` or `0xa9.0xfe.0xa9.0xfe` as addresses, which would slip past every check.
 * - port: an integer 1-65535.
 * - name: 1-64 HTTP token characters (RFC 9110 §5.6.2), so it can never break a header or a log line.
 *
 * Some destinations are refused unless the operator lists them in `--allow-hosts`: a request forwarded
 * there turns the balancer into a way in to what only the machine itself should reach (cloud metadata
 * at 169.254.169.254, link-local, multicast, "this network"). Loopback and private ranges stay allowed:
 * they are where backends live.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LbError } from '../../shared/errors.js';
import type { ServerInit } from '../server.js';

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/;
const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|\d+)$/i;
const CANONICAL_IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const TOKEN_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
const MAX_HOST_LENGTH = 253;

/** Host names that answer cloud-metadata requests (GCP's, AWS's); the addresses themselves are link-local. */
const METADATA_NAMES = new Set(['metadata.google.internal', 'metadata.goog', 'metadata', 'instance-data', 'instance-data.ec2.internal']);

function invalid(path: string, problem: string): LbError {
  return new LbError('LB_CONFIG_INVALID', `${path}: ${problem}`);
}

/** The host in the form the pool stores (IPv6 without brackets, names lower-cased), or a one-line error. */
export function checkHost(value: unknown, path: string): string {
  if (typeof value !== 'string' || value === '') throw invalid(path, `must be a host name or IP address, got ${JSON.stringify(value)}`);
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIPv6(bare) && !bare.includes('%')) return bare.toLowerCase();
  const hint = value.includes(':') && !isIPv6(bare) ? ' (put the port in "port", not in "host")' : '';
  if (value.length > MAX_HOST_LENGTH) throw invalid(path, `must be a host name of at most ${MAX_HOST_LENGTH} characters`);
  const labels = value.split('.');
  if (!labels.every((label) => LABEL.test(label))) {
    throw invalid(path, `must be a host name (letters, digits, -, _ and .) or an IP address, got ${JSON.stringify(value)}${hint}`);
  }
  if (NUMERIC_LABEL.test(labels[labels.length - 1]!) && !CANONICAL_IPV4.test(value)) {
    throw invalid(path, `must be an IPv4 address in dotted form like 10.0.0.1, got ${JSON.stringify(value)}`);
  }
  return value.toLowerCase();
}

export function checkPort(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535) {
    throw invalid(path, `must be an integer 1-65535, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function checkServerName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !TOKEN_NAME.test(value)) {
    throw invalid(path, `must be 1-64 letters, digits or -._~!#$%&'*+^\`| (no spaces or control characters), got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Why a destination is risky, or null when it is an ordinary backend address. */
export function unsafeDestination(host: string): string | null {
  if (METADATA_NAMES.has(host)) return 'a cloud metadata service';
  if (isIPv4(host)) return unsafeIPv4(host);
  if (!isIPv6(host)) return null;
  const words = expandIPv6(host);
  // Forms that carry an IPv4 address in their last 32 bits reach it: IPv4-mapped (::ffff:0:0/96),
  // IPv4-compatible (::/96), IPv4-translated (::ffff:0:0:0/96) and NAT64's well-known prefix (64:ff9b::/96).
  const zeros = (from: number, to: number): boolean => words.slice(from, to).every((w) => w === 0);
  const embedsIPv4 =
    (zeros(0, 5) && (words[5] === 0xffff || (words[5] === 0 && words[6] !== 0))) ||
    (zeros(0, 4) && words[4] === 0xffff && words[5] === 0) ||
    (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6));
  if (embedsIPv4) {
    const v4 = unsafeIPv4(`${words[6]! >> 8}.${words[6]! & 0xff}.${words[7]! >> 8}.${words[7]! & 0xff}`);
    if (v4 !== null) return v4;
  }
  if (words.every((w) => w === 0)) return 'the unspecified address';
  if ((words[0]! & 0xffc0) === 0xfe80) return 'a link-local address';
  if ((words[0]! & 0xff00) === 0xff00) return 'a multicast address';
  if (words[0] === 0xfd00 && words[1] === 0x0ec2 && words.slice(2, 7).every((w) => w === 0) && words[7] === 0x254) return 'a cloud metadata service';
  return null;
}

function unsafeIPv4(host: string): string | null {
  const [a, b] = host.split('.').map(Number) as [number, number];
  if (a === 169 && b === 254) return 'a link-local address (cloud metadata lives at 169.254.169.254)';
  if (a === 0) return '"this network" (0.0.0.0/8)';
  if (a >= 224) return a < 240 ? 'a multicast address' : 'a reserved or broadcast address';
  return null;
}

/** Eight 16-bit words of a valid IPv6 literal (with or without an embedded dotted IPv4 tail). */
function expandIPv6(host: string): number[] {
  let text = host.toLowerCase();
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headWords = head === '' ? [] : head.split(':');
  const tailWords = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headWords.length - tailWords.length;
  return [...headWords, ...Array<string>(zeros).fill('0'), ...tailWords].map((w) => parseInt(w, 16));
}

/** Refuses a risky destination unless `allowHosts` names it (as the operator typed it, case-insensitive). */
export function checkDestination(host: string, path: string, allowHosts: readonly string[]): void {
  const why = unsafeDestination(host);
  if (why === null || allowHosts.includes(host)) return;
  throw invalid(path, `${host} is ${why}; refused as a server unless --allow-hosts ${host} is given`);
}

/** The whole check on a server about to join the pool; returns it with its host in stored form. */
export function checkServerInit(init: ServerInit, allowHosts: readonly string[], path = 'server'): ServerInit {
  const host = checkHost(init.host, `${path}.host`);
  checkPort(init.port, `${path}.port`);
  if (init.name !== undefined) checkServerName(init.name, `${path}.name`);
  checkDestination(host, `${path}.host`, allowHosts);
  return host === init.host ? init : { ...init, host };
}
