/**
 * PROXY protocol: the exact bytes lb sends (send_proxy v1 and v2, checked against hand-written headers
 * from the spec's layout, not against our own parser), the parser's verdicts on good and hostile
 * headers, and accept_proxy on a real listener (a bad header never reaches a server).
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { resolveConfig } from '../../../src/balancer/config.js';
import { tempDir } from '../../helpers/temp.js';
import { encodeV1, encodeV2, parseProxyHeader, V2_SIGNATURE } from '../../../src/shared/proxy-protocol.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { exchange, recorded, startRawCapture, startTcpLb, startTcpServers } from './helpers.js';

const scope = closedAfterEach();

/** A v2 header built by hand from the spec's layout. */
function v2(command: number, family: number, body: number[]): Buffer {
  return Buffer.concat([V2_SIGNATURE, Buffer.from([command, family, body.length >> 8, body.length & 0xff]), Buffer.from(body)]);
}
const V2_TCP4 = v2(0x21, 0x11, [203, 0, 113, 7, 127, 0, 0, 1, 0xc3, 0x50, 0x1f, 0x90]); // 203.0.113.7:50000 -> 127.0.0.1:8080

describe('PROXY protocol parser', () => {
  it.each([
    ['v1 TCP4', Buffer.from('PROXY TCP4 203.0.113.7 127.0.0.1 50000 8080\r\nrest'), { version: 1, length: 45, addresses: { family: 'IPv4', sourceAddress: '203.0.113.7', sourcePort: 50000, destinationAddress: '127.0.0.1', destinationPort: 8080 } }],
    ['v1 TCP6, spelled long', Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::1 1 65535\r\n'), { version: 1, addresses: { family: 'IPv6', sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::1', destinationPort: 65535 } }],
    ['v1 UNKNOWN', Buffer.from('PROXY UNKNOWN ffff:f...f 1 2 3\r\n'), { version: 1, addresses: null }],
    ['v2 TCP4', V2_TCP4, { version: 2, length: 28, addresses: { family: 'IPv4', sourceAddress: '203.0.113.7', sourcePort: 50000, destinationAddress: '127.0.0.1', destinationPort: 8080 } }],
    ['v2 LOCAL', v2(0x20, 0x00, []), { version: 2, length: 16, addresses: null }],
    ['v2 TCP4 with a TLV after the addresses', v2(0x21, 0x11, [10, 0, 0, 1, 10, 0, 0, 2, 0, 1, 0, 2, 0x04, 0, 1, 0x41]), { version: 2, length: 32, addresses: { sourceAddress: '10.0.0.1', sourcePort: 1 } }],
  ])('accepts %s', (_name, bytes, expected) => {
    expect(parseProxyHeader(bytes)).toMatchObject({ kind: 'header', ...expected });
  });

  it.each([
    ['a v1 cut short', Buffer.from('PROXY TCP4 203.0.113.7 127.0')],
    ['a v2 signature cut short', V2_SIGNATURE.subarray(0, 7)],
    ['a v2 header missing its last address byte', V2_TCP4.subarray(0, V2_TCP4.length - 1)],
  ])('waits for more bytes on %s', (_name, bytes) => {
    expect(parseProxyHeader(bytes)).toEqual({ kind: 'incomplete' });
  });

  it.each([
    ['plain data', 'GET / HTTP/1.1\r\n', /no PROXY protocol signature/],
    ['a lower-case v1 signature', 'proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n', /no PROXY protocol signature/],
    ['a v1 line over 107 bytes', `PROXY TCP6 ${'1:'.repeat(60)}`, /longer than 107/],
    ['a v1 line without CR', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n', /CRLF/],
    ['a v1 unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n', /TCP4, TCP6 or UNKNOWN/],
    ['v1 double spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n', /6 fields/],
    ['v1 missing a port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n', /6 fields/],
    ['v1 IPv6 in TCP4', 'PROXY TCP4 ::1 5.6.7.8 1 2\r\n', /source address "::1" is not IPv4/],
    ['v1 a bad IPv4', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n', /not IPv4/],
    ['v1 a host name', 'PROXY TCP4 example.com 5.6.7.8 1 2\r\n', /not IPv4/],
    ['v1 IPv4 in TCP6', 'PROXY TCP6 ::1 5.6.7.8 1 2\r\n', /destination address "5.6.7.8" is not IPv6/],
    ['v1 a port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n', /source port "65536"/],
    ['v1 a port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 080\r\n', /destination port "080"/],
    ['v1 a negative port', 'PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n', /source port "-1"/],
    ['v1 an injected NUL', 'PROXY TCP4 1.2.3.4\u0000 5.6.7.8 1 2\r\n', /control or non-ASCII/],
  ])('refuses %s', (_name, text, reason) => {
    const result = parseProxyHeader(Buffer.from(text, 'latin1'));
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' && result.reason).toMatch(reason);
  });

  it.each([
    ['a wrong v2 signature', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), V2_TCP4.subarray(12)]), /no PROXY protocol signature/],
    ['v2 version 1', v2(0x11, 0x11, Array(12).fill(0)), /version must be 2/],
    ['v2 an unknown command', v2(0x22, 0x11, Array(12).fill(0)), /command must be LOCAL or PROXY/],
    ['v2 UDP over IPv4', v2(0x21, 0x12, Array(12).fill(0)), /family must be TCP over IPv4 or IPv6, got 0x12/],
    ['v2 a unix socket', v2(0x21, 0x31, Array(216).fill(0)), /got 0x31/],
    ['v2 UNSPEC with PROXY', v2(0x21, 0x00, []), /got 0x00/],
    ['v2 an address block shorter than IPv6 needs', v2(0x21, 0x21, Array(12).fill(0)), /shorter than its family needs \(36\)/],
    ['v2 announcing 65535 bytes', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])]), /65535 bytes, more than 1024/],
  ])('refuses %s', (_name, bytes, reason) => {
    const result = parseProxyHeader(bytes);
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' && result.reason).toMatch(reason);
  });

  it('builds v1 and v2 headers byte for byte as the spec lays them out', () => {
    const a = { family: 'IPv4', sourceAddress: '203.0.113.7', sourcePort: 50000, destinationAddress: '127.0.0.1', destinationPort: 8080 } as const;
    expect(encodeV1(a).toString('latin1')).toBe('PROXY TCP4 203.0.113.7 127.0.0.1 50000 8080\r\n');
    expect(encodeV2(a).equals(V2_TCP4)).toBe(true);
    const six = { family: 'IPv6', sourceAddress: '2001:db8::1', sourcePort: 1, destinationAddress: '::ffff:10.0.0.1', destinationPort: 2 } as const;
    const body = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1, 0, 1, 0, 2];
    expect(encodeV2(six).equals(v2(0x21, 0x21, body))).toBe(true);
    expect(encodeV1(null).toString()).toBe('PROXY UNKNOWN\r\n');
    expect(encodeV2(null).equals(v2(0x20, 0x00, []))).toBe(true);
  });
});

describe('PROXY protocol through lb --mode tcp', () => {
  it('send_proxy v1 and v2: the server gets the header first, then the client bytes unchanged', async () => {
    const capture = await startRawCapture(scope);
    const lb = await startTcpLb(scope, [{ port: capture.port, send_proxy: 'v1' }]);
    const client = connect(lb.port, '127.0.0.1');
    await once(client, 'connect');
    const clientPort = client.localPort!;
    client.end('payload');
    await new Promise((resolve) => client.once('close', resolve));
    await waitFor('the capture', () => capture.firsts.length === 1);
    await recorded(lb, 1);
    expect(capture.firsts[0]!.toString('latin1')).toBe(`PROXY TCP4 127.0.0.1 127.0.0.1 ${clientPort} ${lb.port}\r\npayload`);
    // lb's own header is not counted as the client's bytes.
    expect(lb.stats().totals.bytesIn).toBe(7);
    // GET /lb/config writes it back in the file's words.
    expect((lb.admin.config() as { servers: unknown[] }).servers[0]).toMatchObject({ send_proxy: 'v1' });

    const capture2 = await startRawCapture(scope);
    const lb2 = await startTcpLb(scope, [{ port: capture2.port, send_proxy: 'v2' }]);
    const c2 = connect(lb2.port, '127.0.0.1');
    await once(c2, 'connect');
    const port2 = c2.localPort!;
    c2.end('xyz');
    await new Promise((resolve) => c2.once('close', resolve));
    await waitFor('the capture', () => capture2.firsts.length === 1);
    const expected = v2(0x21, 0x11, [127, 0, 0, 1, 127, 0, 0, 1, port2 >> 8, port2 & 0xff, lb2.port >> 8, lb2.port & 0xff]);
    expect(capture2.firsts[0]!.equals(Buffer.concat([expected, Buffer.from('xyz')]))).toBe(true);
  });

  it('the admin API adds a server with send_proxy, and refuses a bad one with 400 naming the field', async () => {
    const capture = await startRawCapture(scope);
    const lb = await startTcpLb(scope, []);
    const post = (body: unknown) => fetch(`${lb.adminUrl}/lb/add-server`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const bad = await post({ host: '127.0.0.1', port: capture.port, send_proxy: 'v3' });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('body.send_proxy: must be \\"v1\\" or \\"v2\\"');
    expect((await post({ host: '127.0.0.1', port: capture.port, send_proxy: 'v2' })).status).toBe(201);
    await exchange(lb.port, 'after');
    await waitFor('the capture', () => capture.firsts.length === 1);
    expect(capture.firsts[0]!.subarray(0, 12).equals(V2_SIGNATURE)).toBe(true);
    expect(capture.firsts[0]!.subarray(28).toString()).toBe('after');
  });

  it('a server added at runtime keeps send_proxy and max_conns across a restart with --state-file', async () => {
    const dir = await tempDir();
    const stateFile = join(dir, 'state.json');
    const first = await startTcpLb(scope, [], { stateFile });
    first.apply({ type: 'addServer', server: { host: '127.0.0.1', port: 4567, name: 'late', sendProxy: 'v2', maxConns: 7 } });
    await first.close();
    const again = await startTcpLb(scope, [], { stateFile });
    const server = again.pool.get('late')!;
    expect([server.sendProxy, server.maxConns]).toEqual(['v2', 7]);
  });

  it('a reload that sets send_proxy on a server applies it to the next connections', async () => {
    const capture = await startRawCapture(scope);
    const file = (extra: Record<string, unknown>) => ({ load_balancer: { mode: 'tcp' }, servers: [{ host: '127.0.0.1', port: capture.port, name: 'c', ...extra }] });
    const flags = { port: 0, host: '127.0.0.1', adminPort: 0, adminHost: '127.0.0.1', healthCheck: false };
    const lb = await startTcpLb(scope, [{ port: capture.port, name: 'c' }]);
    await exchange(lb.port, 'plain');
    lb.reload(resolveConfig({ file: file({ send_proxy: 'v1' }), filePath: null, env: {}, flags }));
    await exchange(lb.port, 'proxied');
    await waitFor('both captures', () => capture.firsts.length === 2);
    expect(capture.firsts[0]!.toString()).toBe('plain');
    expect(capture.firsts[1]!.toString()).toMatch(/^PROXY TCP4 127\.0\.0\.1 127\.0\.0\.1 \d+ \d+\r\nproxied$/);
  });

  it('accept_proxy: the client address of the header is what lb balances on, reports, and passes on', async () => {
    const [a] = await startTcpServers(scope, 1, { acceptProxy: true });
    const lb = await startTcpLb(scope, [{ port: a!.port, send_proxy: 'v2' }], { acceptProxy: true, algorithm: 'consistent_hash' });
    // The header and the first bytes in one write, as a balancer in front sends them.
    const answer = await exchange(lb.port, Buffer.concat([Buffer.from('PROXY TCP4 198.51.100.9 127.0.0.1 41000 80\r\nPEER\nabc')]));
    expect(answer.toString()).toBe('{"address":"198.51.100.9","port":41000}\nabc');
    const answer2 = await exchange(lb.port, Buffer.concat([V2_TCP4, Buffer.from('PEER\n')]));
    expect(answer2.toString()).toBe('{"address":"203.0.113.7","port":50000}\n');
    await recorded(lb, 2);
    expect(lb.history().requests.map((r) => r.path)).toEqual(['198.51.100.9:41000', '203.0.113.7:50000']);
  });

  it.each([
    ['no header at all', 'PEER\n'],
    ['a truncated v1 then FIN', 'PROXY TCP4 198.51.100.9'],
    ['an oversized v1', `PROXY TCP4 ${'9'.repeat(200)}\r\n`],
    ['a wrong v2 signature', Buffer.concat([Buffer.from('\r\n\r\n\0\r\nQUIX\n'), V2_TCP4.subarray(12)])],
    ['a v2 unix family', v2(0x21, 0x31, Array(216).fill(0))],
    ['a v1 with a bad address', 'PROXY TCP4 1.2.3.4.5 127.0.0.1 1 2\r\nPEER\n'],
    ['a v2 announcing 60 000 bytes', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xea, 0x60]), Buffer.alloc(2000)])],
  ])('accept_proxy refuses %s: closed, counted, and no server ever sees it', async (_name, bytes) => {
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: a!.port }], { acceptProxy: true });
    expect((await exchange(lb.port, bytes)).length).toBe(0);
    await waitFor('the outcome', () => lb.history().requests.length === 1);
    expect(lb.history().requests[0]).toMatchObject({ error: 'LB_BAD_REQUEST', server: null });
    expect(lb.stats().totals.badRequests).toBe(1);
    expect(a!.connectionCount).toBe(0);
  });

  it('accept_proxy: a client too slow to send its header is closed at client_header_timeout', async () => {
    const [a] = await startTcpServers(scope, 1);
    const lb = await startTcpLb(scope, [{ port: a!.port }], { acceptProxy: true, clientHeaderTimeout: '300ms' });
    const client = connect(lb.port, '127.0.0.1');
    client.on('error', () => undefined);
    client.write('PROXY TCP4 1.2.');
    const started = performance.now();
    await new Promise((resolve) => client.once('close', resolve));
    expect(performance.now() - started).toBeGreaterThan(250);
    await waitFor('the outcome', () => lb.history().requests.length === 1);
    expect(lb.history().requests[0]!.error).toBe('LB_CLIENT_TIMEOUT');
    expect(a!.connectionCount).toBe(0);
  });
});
