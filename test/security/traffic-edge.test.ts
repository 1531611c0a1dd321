/**
 * The traffic port against hostile clients and misbehaving servers, over raw sockets: one row per input,
 * the status the client must see, and what the servers must (or must not) have received. Afterwards no
 * server may have been blamed for a client's request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import { rawRequest, startRawServer, type RawServer, type RecordedRequest } from '../helpers/raw-http.js';
import { closeAll, startLb } from '../helpers/servers.js';

let lb: BalancerHandle;
let raw: RawServer[];
const received: RecordedRequest[] = [];

beforeAll(async () => {
  raw = [await startRawServer(received), await startRawServer(received)];
  lb = await startLb(raw.map((r, i) => ({ host: '127.0.0.1', port: r.port, name: `raw${i + 1}` })));
});
afterAll(async () => closeAll(lb, ...raw));

const stats = async (): Promise<StatsSnapshot> => (await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot;

/** A request head; `Connection: close` so the reply ends with the connection. */
const req = (line: string, ...headers: string[]): string => `${line}\r\n${[...headers, 'Connection: close'].join('\r\n')}\r\n\r\n`;
const manyHeaders = (n: number): string[] => Array.from({ length: n }, (_, i) => `X-H${i}: ${i}`);

interface Row {
  name: string;
  bytes: () => string;
  /** Every status line the client reads, 1xx first. */
  statuses: number[];
  /** Who answers: lb's front door, Node's HTTP parser, or a server. */
  by: 'lb' | 'node' | 'server';
  /** How many requests the servers receive, and a check on the last one. */
  forwarded: number;
  check?: (got: RecordedRequest) => void;
}

describe('requests lb cannot forward are answered at the front and never reach a server', () => {
  const rows: Row[] = [
    { name: 'OPTIONS * (asks about lb, not a server)', bytes: () => req('OPTIONS * HTTP/1.1', 'Host: a'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'two Host headers', bytes: () => req('GET / HTTP/1.1', 'Host: a', 'Host: b'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'two Host headers, different case', bytes: () => req('GET / HTTP/1.1', 'Host: a', 'HOST: a'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'absolute-form with user:password@', bytes: () => req('GET http://user:pw@other.example/abs HTTP/1.1', 'Host: good.example'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'absolute-form with another scheme', bytes: () => req('GET ftp://other.example/x HTTP/1.1', 'Host: a'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'authority-form outside CONNECT', bytes: () => req('GET other.example:80 HTTP/1.1', 'Host: a'), by: 'node', statuses: [400], forwarded: 0 },
    { name: '101 header fields (limit 100)', bytes: () => req('GET / HTTP/1.1', 'Host: a', ...manyHeaders(99)), by: 'lb', statuses: [431], forwarded: 0 },
    // Short fields, so they fit in 16 KiB: Node's parser would keep 2 000 of them and drop the rest silently.
    { name: '2 100 header fields', bytes: () => req('GET / HTTP/1.1', 'Host: a', ...Array<string>(2099).fill('a:1')), by: 'lb', statuses: [431], forwarded: 0 },
    { name: 'more than 16 KiB of headers', bytes: () => req('GET / HTTP/1.1', 'Host: a', `X-Big: ${'b'.repeat(17_000)}`), by: 'node', statuses: [431], forwarded: 0 },
    { name: 'no Host in HTTP/1.1', bytes: () => req('GET / HTTP/1.1'), by: 'node', statuses: [400], forwarded: 0 },
    { name: 'Content-Length and Transfer-Encoding (smuggling)', bytes: () => `POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n`, by: 'node', statuses: [400], forwarded: 0 },
    { name: 'two different Content-Length', bytes: () => req('POST / HTTP/1.1', 'Host: a', 'Content-Length: 1', 'Content-Length: 2'), by: 'node', statuses: [400], forwarded: 0 },
    { name: 'NUL in a header value', bytes: () => req('GET / HTTP/1.1', 'Host: a', 'X-A: b\u0000c'), by: 'node', statuses: [400], forwarded: 0 },
    { name: 'Host with a space', bytes: () => req('GET / HTTP/1.1', 'Host: a b'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'Host with userinfo', bytes: () => req('GET / HTTP/1.1', 'Host: u@a'), by: 'lb', statuses: [400], forwarded: 0 },
    { name: 'HTTP/2.0 in plain text', bytes: () => req('GET / HTTP/2.0', 'Host: a'), by: 'lb', statuses: [505], forwarded: 0 },
    { name: 'CONNECT (a forward-proxy tunnel)', bytes: () => req('CONNECT 127.0.0.1:1 HTTP/1.1', 'Host: 127.0.0.1:1'), by: 'lb', statuses: [405], forwarded: 0 },
    { name: 'obs-fold', bytes: () => req('GET / HTTP/1.1', 'Host: a', 'X-A: b', ' folded'), by: 'node', statuses: [400], forwarded: 0 },
    // What is forwarded, and how.
    {
      name: 'absolute-form: origin form to the server, the target authority as Host',
      bytes: () => req('GET http://good.example:81/abs/p?x=1&y=%00 HTTP/1.1', 'Host: ignored.example'),
      by: 'server',
      statuses: [200],
      forwarded: 1,
      check: (got) => {
        expect(got.target).toBe('/abs/p?x=1&y=%00');
        expect(got.header('host')).toBe('good.example:81');
        expect(got.header('x-forwarded-host')).toBe('good.example:81');
      },
    },
    {
      name: 'absolute-form without a path',
      bytes: () => req('GET http://good.example HTTP/1.1', 'Host: good.example'),
      by: 'server',
      statuses: [200],
      forwarded: 1,
      check: (got) => expect([got.target, got.header('host')]).toEqual(['/', 'good.example']),
    },
    {
      name: 'exactly 100 header fields',
      bytes: () => req('GET /hundred HTTP/1.1', 'Host: a', ...manyHeaders(98)),
      by: 'server',
      statuses: [200],
      forwarded: 1,
      check: (got) => expect(got.headers.filter(([name]) => name.startsWith('x-h'))).toHaveLength(98),
    },
    {
      name: 'Connection: host cannot strip the Host header',
      bytes: () => req('GET /conn HTTP/1.1', 'Host: kept.example', 'Connection: host, x-drop', 'X-Drop: 1'),
      by: 'server',
      statuses: [200],
      forwarded: 1,
      check: (got) => expect([got.header('host'), got.header('x-drop')]).toEqual(['kept.example', undefined]),
    },
    {
      name: 'HTTP/1.0 without Host',
      bytes: () => 'GET /old HTTP/1.0\r\n\r\n',
      by: 'server',
      statuses: [200],
      forwarded: 1,
      check: (got) => expect(got.target).toBe('/old'),
    },
  ];

  it.each(rows)('$name', async (row) => {
    const before = received.length;
    const bad = (await stats()).totals.badRequests;
    const reply = await rawRequest(lb.port, row.bytes());
    expect(reply.statuses).toEqual(row.statuses);
    expect(received.length - before).toBe(row.forwarded);
    if (row.check) row.check(received[received.length - 1]!);
    // lb's own refusals are counted as bad requests; Node's parser refuses the malformed ones before lb sees them.
    expect((await stats()).totals.badRequests - bad).toBe(row.by === 'lb' ? 1 : 0);
  });

  it('blamed no server for any of them, and counted them as bad requests', async () => {
    const s = await stats();
    expect(s.servers.map((x) => [x.id, x.state, x.circuit, x.totalFailures])).toEqual([
      ['raw1', 'up', 'closed', 0],
      ['raw2', 'up', 'closed', 0],
    ]);
    expect(s.totals.badRequests).toBe(rows.filter((r) => r.by === 'lb').length);
  });
});

describe('server answers: 1xx, 204 and 304 framing, unreadable answers', () => {
  it('relays 103 Early Hints with its Link header, then the answer', async () => {
    const reply = await rawRequest(lb.port, req('GET /early-hints HTTP/1.1', 'Host: a'));
    expect(reply.statuses).toEqual([103, 200]);
    expect(reply.text).toMatch(/^HTTP\/1\.1 103 Early Hints\r\nLink: <\/style\.css>; rel=preload; as=style\r\n\r\n/);
    expect(reply.text.endsWith('ok')).toBe(true);
  });

  it('relays 102 Processing, then the answer', async () => {
    expect((await rawRequest(lb.port, req('GET /processing HTTP/1.1', 'Host: a'))).statuses).toEqual([102, 200]);
  });

  it('sends no 1xx to an HTTP/1.0 client', async () => {
    expect((await rawRequest(lb.port, 'GET /early-hints HTTP/1.0\r\nHost: a\r\n\r\n')).statuses).toEqual([200]);
  });

  it('ends a 304 at its headers, keeping its Content-Length, and a 204 without one; neither is a failure', async () => {
    const failuresBefore = (await stats()).totals.failures;
    const notModified = await rawRequest(lb.port, req('GET /not-modified HTTP/1.1', 'Host: a'));
    expect(notModified.statuses).toEqual([304]);
    expect(notModified.reset).toBe(false);
    expect(notModified.text).toMatch(/\r\ncontent-length: 10\r\n/i);
    expect(notModified.text).toMatch(/\r\netag: "v1"\r\n/i);
    expect(notModified.text.endsWith('\r\n\r\n')).toBe(true);
    const noContent = await rawRequest(lb.port, req('GET /no-content HTTP/1.1', 'Host: a'));
    expect(noContent.statuses).toEqual([204]);
    expect(noContent.text).not.toMatch(/content-length/i);
    const s = await stats();
    expect(s.totals.failures).toBe(failuresBefore);
    expect(s.servers.every((x) => x.totalFailures === 0)).toBe(true);
  });

  it.each([
    ['an unsolicited 100 Continue before a GET answer', 'GET /unsolicited-100 HTTP/1.1'],
    ['an unsolicited 100 Continue before a POST answer', 'POST /unsolicited-100 HTTP/1.1'],
    ['101 to a plain GET', 'GET /switching HTTP/1.1'],
    ['bytes that are not HTTP', 'GET /not-http HTTP/1.1'],
  ])('%s: 502, and the request reached a server exactly once (no retry)', async (_name, line) => {
    const before = received.length;
    const reply = await rawRequest(lb.port, req(line, 'Host: a', 'Content-Length: 0'));
    expect(reply.statuses).toEqual([502]);
    expect(JSON.parse(reply.text.slice(reply.text.indexOf('\r\n\r\n') + 4))).toMatchObject({ error: { code: 'LB_UPSTREAM_BAD_RESPONSE' } });
    expect(received.length - before).toBe(1);
  });

  it('answers 502 to a 2 000-header answer and stays up', async () => {
    expect((await rawRequest(lb.port, req('GET /header-flood HTTP/1.1', 'Host: a'))).statuses).toEqual([502]);
    expect((await rawRequest(lb.port, req('GET / HTTP/1.1', 'Host: a'))).statuses).toEqual([200]);
  });

  it('answers a client Expect: 100-continue itself and forwards the body without the Expect header', async () => {
    const before = received.length;
    const reply = await rawRequest(lb.port, `POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    expect(reply.statuses).toEqual([100, 200]);
    expect(received.length - before).toBe(1);
    expect(received[received.length - 1]!.header('expect')).toBeUndefined();
  });
});
