/**
 * PROXY protocol v1 and v2 (HAProxy's spec, proxy-protocol.txt): building the header lb sends to a server
 * (`send_proxy`), and a strict, incremental parser for the header a client sends (`accept_proxy`).
 * Shared: the tcp balancer uses both, `lb testserver --tcp --accept-proxy` the parser.
 *
 * Written here rather than taken from proxy-protocol-js: the listener needs to know, from a partial
 * buffer, whether more bytes can still make a valid header (so it can wait, bounded by size and time)
 * or whether the bytes so far are already wrong (so it refuses at once); the library parses a complete
 * buffer only. Building a header is a few lines either way.
 *
 * Strict on purpose, as HAProxy is: one space between v1 fields, addresses of the announced family,
 * ports 0-65535 without leading zeros, CRLF within 107 bytes; v2 with the exact signature, version 2,
 * a known command, TCP over IPv4 or IPv6 (or UNSPEC with LOCAL), and an address block no shorter than
 * its family needs. TLVs after the addresses are skipped (bounded by MAX_V2_PAYLOAD).
 */
import { isIPv4, isIPv6 } from 'node:net';

export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** The spec's longest v1 line: "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF. */
export const MAX_V1_LENGTH = 107;
/** Longest v2 payload accepted (addresses plus TLVs); HAProxy bounds it by its buffer. A longer one is refused. */
export const MAX_V2_PAYLOAD = 1024;

export interface ProxyAddresses {
  family: 'IPv4' | 'IPv6';
  sourceAddress: string;
  sourcePort: number;
  destinationAddress: string;
  destinationPort: number;
}

export type ParseResult =
  /** More bytes are needed; those so far can still start a valid header. */
  | { kind: 'incomplete' }
  /** A valid header of `length` bytes; addresses null for v1 UNKNOWN and v2 LOCAL (use the socket's own). */
  | { kind: 'header'; version: 1 | 2; length: number; addresses: ProxyAddresses | null }
  /** Not a valid header: `reason` names what is wrong. */
  | { kind: 'invalid'; reason: string };

const INCOMPLETE: ParseResult = { kind: 'incomplete' };
const invalid = (reason: string): ParseResult => ({ kind: 'invalid', reason });

/** Parses the start of `buf`: a whole header, a verdict that it is wrong, or a request for more bytes. */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  return invalid('no PROXY protocol signature');
}

function startsLike(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

function parseV1(buf: Buffer): ParseResult {
  if (!startsLike(buf, V1_PREFIX)) return invalid('no PROXY protocol signature');
  const lf = buf.indexOf(0x0a);
  if (lf === -1) return buf.length >= MAX_V1_LENGTH ? invalid(`v1 header longer than ${MAX_V1_LENGTH} bytes`) : INCOMPLETE;
  if (lf + 1 > MAX_V1_LENGTH) return invalid(`v1 header longer than ${MAX_V1_LENGTH} bytes`);
  if (lf === 0 || buf[lf - 1] !== 0x0d) return invalid('v1 header does not end with CRLF');
  const line = buf.toString('latin1', 0, lf - 1);
  if (/[^\x20-\x7e]/.test(line)) return invalid('v1 header has control or non-ASCII characters');
  const fields = line.split(' ');
  const length = lf + 1;
  // UNKNOWN: the sender could not tell; the rest of the line is ignored (the spec), the socket's addresses apply.
  if (fields[1] === 'UNKNOWN') return { kind: 'header', version: 1, length, addresses: null };
  if (fields[1] !== 'TCP4' && fields[1] !== 'TCP6') return invalid(`v1 protocol must be TCP4, TCP6 or UNKNOWN, got ${JSON.stringify(fields[1] ?? '')}`);
  if (fields.length !== 6) return invalid('v1 header must have 6 fields separated by single spaces');
  const [, proto, src, dst, sport, dport] = fields as [string, string, string, string, string, string];
  const family = proto === 'TCP4' ? 'IPv4' : 'IPv6';
  const valid = family === 'IPv4' ? isIPv4 : isIPv6;
  if (!valid(src)) return invalid(`v1 source address ${JSON.stringify(src)} is not ${family}`);
  if (!valid(dst)) return invalid(`v1 destination address ${JSON.stringify(dst)} is not ${family}`);
  const sourcePort = parsePort(sport);
  const destinationPort = parsePort(dport);
  if (sourcePort === null) return invalid(`v1 source port ${JSON.stringify(sport)} is not 0-65535`);
  if (destinationPort === null) return invalid(`v1 destination port ${JSON.stringify(dport)} is not 0-65535`);
  return { kind: 'header', version: 1, length, addresses: { family, sourceAddress: canonical(src, family), sourcePort, destinationAddress: canonical(dst, family), destinationPort } };
}

function parsePort(text: string): number | null {
  if (!/^(0|[1-9]\d{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port <= 65535 ? port : null;
}

const COMMAND_LOCAL = 0x20;
const COMMAND_PROXY = 0x21;
const FAMILY_UNSPEC = 0x00;
const FAMILY_TCP4 = 0x11;
const FAMILY_TCP6 = 0x21;
const V2_HEADER = 16;

function parseV2(buf: Buffer): ParseResult {
  if (!startsLike(buf, V2_SIGNATURE)) return invalid('no PROXY protocol signature');
  if (buf.length < V2_HEADER) return INCOMPLETE;
  const command = buf[12]!;
  if (command >> 4 !== 2) return invalid(`v2 version must be 2, got ${command >> 4}`);
  if (command !== COMMAND_LOCAL && command !== COMMAND_PROXY) return invalid(`v2 command must be LOCAL or PROXY, got 0x${command.toString(16)}`);
  const family = buf[13]!;
  const payload = buf.readUInt16BE(14);
  if (payload > MAX_V2_PAYLOAD) return invalid(`v2 header announces ${payload} bytes, more than ${MAX_V2_PAYLOAD}`);
  const needed = family === FAMILY_TCP4 ? 12 : family === FAMILY_TCP6 ? 36 : 0;
  if (command === COMMAND_PROXY && needed === 0) {
    return invalid(`v2 family must be TCP over IPv4 or IPv6, got 0x${family.toString(16).padStart(2, '0')}`);
  }
  if (command === COMMAND_LOCAL && family !== FAMILY_UNSPEC && needed === 0) {
    return invalid(`v2 family 0x${family.toString(16).padStart(2, '0')} is not supported`);
  }
  if (payload < needed) return invalid(`v2 address block of ${payload} bytes is shorter than its family needs (${needed})`);
  const length = V2_HEADER + payload;
  if (buf.length < length) return INCOMPLETE;
  // LOCAL: a health check of the balancer in front, not a proxied client; the socket's addresses apply.
  if (command === COMMAND_LOCAL) return { kind: 'header', version: 2, length, addresses: null };
  const body = buf.subarray(V2_HEADER, length);
  const addresses: ProxyAddresses =
    family === FAMILY_TCP4
      ? { family: 'IPv4', sourceAddress: ipv4Of(body, 0), destinationAddress: ipv4Of(body, 4), sourcePort: body.readUInt16BE(8), destinationPort: body.readUInt16BE(10) }
      : { family: 'IPv6', sourceAddress: ipv6Of(body, 0), destinationAddress: ipv6Of(body, 16), sourcePort: body.readUInt16BE(32), destinationPort: body.readUInt16BE(34) };
  return { kind: 'header', version: 2, length, addresses };
}

const ipv4Of = (b: Buffer, at: number): string => `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;

function ipv6Of(b: Buffer, at: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + i * 2).toString(16));
  return canonical(groups.join(':'), 'IPv6');
}

/** The one spelling of an address (IPv6 compressed, lower case), as the URL parser writes it. */
function canonical(address: string, family: 'IPv4' | 'IPv6'): string {
  return family === 'IPv4' ? address : new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

/** An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`, what a dual-stack listener reports) as plain IPv4. */
function unmapped(address: string): string {
  return address.toLowerCase().startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * The addresses of a proxied connection as a header can carry them: both of one family (an IPv4 beside
 * an IPv6 is written as IPv4-mapped IPv6). Null when an address is missing (the socket is gone).
 */
export function addressesOf(source: { address?: string | undefined; port?: number | undefined }, destination: { address?: string | undefined; port?: number | undefined }): ProxyAddresses | null {
  if (source.address === undefined || destination.address === undefined || source.port === undefined || destination.port === undefined) return null;
  let src = unmapped(source.address);
  let dst = unmapped(destination.address);
  if (isIPv4(src) && isIPv4(dst)) {
    return { family: 'IPv4', sourceAddress: src, sourcePort: source.port, destinationAddress: dst, destinationPort: destination.port };
  }
  if (isIPv4(src)) src = `::ffff:${src}`;
  if (isIPv4(dst)) dst = `::ffff:${dst}`;
  if (!isIPv6(src) || !isIPv6(dst)) return null;
  return { family: 'IPv6', sourceAddress: canonical(src, 'IPv6'), sourcePort: source.port, destinationAddress: canonical(dst, 'IPv6'), destinationPort: destination.port };
}

/** A v1 line; `UNKNOWN` when the addresses are not known. */
export function encodeV1(a: ProxyAddresses | null): Buffer {
  if (a === null) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY ${a.family === 'IPv4' ? 'TCP4' : 'TCP6'} ${a.sourceAddress} ${a.destinationAddress} ${a.sourcePort} ${a.destinationPort}\r\n`, 'latin1');
}

/** A v2 header with no TLVs; LOCAL/UNSPEC when the addresses are not known. */
export function encodeV2(a: ProxyAddresses | null): Buffer {
  if (a === null) return Buffer.concat([V2_SIGNATURE, Buffer.from([COMMAND_LOCAL, FAMILY_UNSPEC, 0, 0])]);
  const v4 = a.family === 'IPv4';
  const body = Buffer.alloc(v4 ? 12 : 36);
  const size = v4 ? 4 : 16;
  writeAddress(body, 0, a.sourceAddress, v4);
  writeAddress(body, size, a.destinationAddress, v4);
  body.writeUInt16BE(a.sourcePort, size * 2);
  body.writeUInt16BE(a.destinationPort, size * 2 + 2);
  const head = Buffer.from([COMMAND_PROXY, v4 ? FAMILY_TCP4 : FAMILY_TCP6, 0, 0]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

function writeAddress(out: Buffer, at: number, address: string, v4: boolean): void {
  if (v4) {
    address.split('.').forEach((part, i) => out.writeUInt8(Number(part), at + i));
    return;
  }
  for (const [i, group] of ipv6Groups(address).entries()) out.writeUInt16BE(group, at + i * 2);
}

/** Eight 16-bit groups of a valid IPv6 address (with :: and a trailing dotted IPv4 expanded). */
function ipv6Groups(address: string): number[] {
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, null];
  const left = head === '' ? [] : head.split(':');
  const right = tail === null || tail === '' ? [] : tail.split(':');
  const fill = tail === null ? [] : Array.from({ length: 8 - left.length - right.length }, () => '0');
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16));
}
