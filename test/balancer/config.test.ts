import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, resolveConfig } from '../../src/balancer/config.js';
import { LbError } from '../../src/shared/errors.js';
import { tempDir } from '../helpers/temp.js';

const resolve = (file: unknown, env: Record<string, string> = {}, flags = {}) => resolveConfig({ file, filePath: null, env, flags });

describe('config sources', () => {
  it('reads the seed list format', () => {
    const config = resolve([{ host: 'localhost', port: 3001 }, { host: 'localhost', port: 3002, weight: 3 }]);
    expect(config.servers).toEqual([{ host: 'localhost', port: 3001 }, { host: 'localhost', port: 3002, weight: 3 }]);
    expect(config).toMatchObject({ port: 8080, host: '0.0.0.0', adminPort: 8081, adminHost: '127.0.0.1', algorithm: 'round_robin' });
  });

  it('reads the seed object format with its sections', () => {
    const config = resolve({
      load_balancer: { port: 9000, host: '127.0.0.1', algorithm: 'least_connections' },
      servers: [{ host: '127.0.0.1', port: 3001 }],
      health_check: { enabled: false, interval: 0.5, timeout: 0.2, retries: 4 },
      consistent_hash: { virtual_nodes: 100, hash_function: 'md5' },
    });
    expect(config).toMatchObject({ port: 9000, host: '127.0.0.1', algorithm: 'least_connections' });
    expect(config.healthCheck).toMatchObject({ enabled: false, intervalMs: 500, timeoutMs: 200, fall: 4 });
    expect(config.consistentHash).toEqual({ virtualNodes: 100, hashFunction: 'md5' });
  });

  it('applies flags over env over file over defaults', () => {
    const file = { load_balancer: { port: 9000, algorithm: 'least_connections' }, servers: [] };
    expect(resolve(file).port).toBe(9000);
    expect(resolve(file, { LB_PORT: '9100' }).port).toBe(9100);
    expect(resolve(file, { LB_PORT: '9100' }, { port: 9200 }).port).toBe(9200);
    expect(resolve(file, { LB_ALGORITHM: 'round_robin' }).algorithm).toBe('round_robin');
    expect(resolve(file, { LB_ALGORITHM: 'round_robin' }, { algorithm: 'least_connections' }).algorithm).toBe('least_connections');
    expect(resolve(null, { LOG_LEVEL: 'debug', LB_ADMIN_PORT: '9999' })).toMatchObject({ logLevel: 'debug', adminPort: 9999 });
  });

  it('warns about unknown keys instead of failing', () => {
    const config = resolve({ servers: [{ host: 'a', port: 1, colour: 'red' }], extra: true });
    expect(config.warnings).toEqual(['extra: unknown key, ignored', 'servers[0].colour: unknown key, ignored']);
  });
});

describe('bad config is rejected with the path of the bad field', () => {
  const cases: Array<[string, unknown, Record<string, string>, object, string]> = [
    ['port out of range', [{ host: 'a', port: 1 }, { host: 'b', port: 2 }, { host: 'c', port: 70000 }], {}, {}, 'servers[2].port: must be an integer 1-65535, got 70000'],
    ['port as string', [{ host: 'a', port: '3001' }], {}, {}, 'servers[0].port: must be an integer 1-65535, got "3001"'],
    ['missing host', [{ port: 3001 }], {}, {}, 'servers[0].host: must be a host name or IP address'],
    ['entry not an object', ['localhost:3001'], {}, {}, 'servers[0]: must be an object'],
    ['duplicate', [{ host: 'a', port: 1 }, { host: 'a', port: 1 }], {}, {}, 'servers[1]: duplicate of servers[0] (a:1)'],
    ['servers not a list', { servers: { a: 1 } }, {}, {}, 'servers: must be a list of servers'],
    ['bad algorithm', { load_balancer: { algorithm: 'fastest' } }, {}, {}, 'load_balancer.algorithm: must be one of round_robin, least_connections, weighted, least_response_time, consistent_hash, p2c, random, got "fastest"'],
    ['bad interval', { health_check: { interval: 'often' } }, {}, {}, 'health_check.interval: must be a duration 100ms-1h (like 2s, 500ms, 1m, or seconds), got "often"'],
    ['interval too short', { health_check: { interval: 0.01 } }, {}, {}, 'health_check.interval: must be a duration 100ms-1h (like 2s, 500ms, 1m, or seconds), got 0.01'],
    ['bad hash function', { consistent_hash: { hash_function: 'crc32' } }, {}, {}, 'consistent_hash.hash_function: must be one of fnv1a, djb2, md5, sha1'],
    ['top level scalar', 42, {}, {}, '(top level): must be a list of servers or an object'],
    ['bad fail threshold', { circuit_breaker: { fail_threshold: 0 } }, {}, {}, 'circuit_breaker.fail_threshold: must be an integer 1-1000, got 0'],
    ['bad ejection percent', { circuit_breaker: { max_ejection_percent: 150 } }, {}, {}, 'circuit_breaker.max_ejection_percent: must be an integer 0-100'],
    ['bad expected status', { health_check: { expected_status: '600' } }, {}, {}, 'health_check.expected_status: must be a status like 200'],
    ['bad max_conns', [{ host: 'a', port: 1, max_conns: -1 }], {}, {}, 'servers[0].max_conns: must be an integer 0-1000000'],
    ['bad retry budget', { load_balancer: { retry_budget: 2 } }, {}, {}, 'load_balancer.retry_budget: must be a share of requests 0-1, got 2'],
    ['bad health path flag', [], {}, { healthPath: 'health' }, '--health-path: must start with "/"'],
    ['bad env port', [], { LB_PORT: 'eighty' }, {}, 'LB_PORT: must be an integer 0-65535, got "eighty"'],
    ['bad env algorithm', [], { LB_ALGORITHM: 'x' }, {}, 'LB_ALGORITHM: must be one of'],
    ['bad log level', [], { LOG_LEVEL: 'loud' }, {}, 'LOG_LEVEL: must be one of debug, info, warn, error, silent'],
    ['open admin without token', [], {}, { adminHost: '0.0.0.0' }, '--admin-host: 0.0.0.0 is not loopback: set --admin-token'],
    // Hostile rows: each of these was accepted once, and the host ones crashed the first request routed to them.
    ['port inside host', [{ host: '127.0.0.1:3001', port: 3001 }], {}, {}, 'servers[0].host: must be a host name (letters, digits, -, _ and .) or an IP address, got "127.0.0.1:3001" (put the port in "port", not in "host")'],
    ['NUL in host', [{ host: 'a\u0000b', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['CR LF in host', [{ host: 'a\r\nx: y', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['space in host', [{ host: 'a b', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['empty label', [{ host: 'a..b', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['label starting with -', [{ host: '-a.b', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['host of 254 characters', [{ host: `${'a.'.repeat(126)}ab`, port: 1 }], {}, {}, 'servers[0].host: must be a host name of at most 253 characters'],
    ['integer IPv4', [{ host: '2130706433', port: 1 }], {}, {}, 'servers[0].host: must be an IPv4 address in dotted form like 10.0.0.1, got "2130706433"'],
    ['short IPv4', [{ host: '127.1', port: 1 }], {}, {}, 'servers[0].host: must be an IPv4 address in dotted form'],
    ['hex IPv4', [{ host: '0xa9.0xfe.0xa9.0xfe', port: 1 }], {}, {}, 'servers[0].host: must be an IPv4 address in dotted form'],
    ['octet over 255', [{ host: '10.0.0.256', port: 1 }], {}, {}, 'servers[0].host: must be an IPv4 address in dotted form'],
    ['IPv6 zone', [{ host: 'fe80::1%eth0', port: 1 }], {}, {}, 'servers[0].host: must be a host name'],
    ['CR LF in name', [{ host: 'a', port: 1, name: 'x\r\nSet-Cookie: pwned=1' }], {}, {}, 'servers[0].name: must be 1-64 letters'],
    ['space in name', [{ host: 'a', port: 1, name: 'web 1' }], {}, {}, 'servers[0].name: must be 1-64 letters'],
    ['markup in name', [{ host: 'a', port: 1, name: '<b>x</b>' }], {}, {}, 'servers[0].name: must be 1-64 letters'],
    ['name of 65 characters', [{ host: 'a', port: 1, name: 'n'.repeat(65) }], {}, {}, 'servers[0].name: must be 1-64 letters'],
    ['bad id', [{ host: 'a', port: 1, id: 'a\u0000' }], {}, {}, 'servers[0].id: must be 1-64 letters'],
    ['userinfo in url', [{ url: 'http://u:p@a:1' }], {}, {}, 'servers[0].url: must be only scheme, host and port'],
    ['path in url', [{ url: 'http://a:1/x' }], {}, {}, 'servers[0].url: must be only scheme, host and port'],
    ['cloud metadata', [{ host: '169.254.169.254', port: 80 }], {}, {}, 'servers[0].host: 169.254.169.254 is a link-local address (cloud metadata lives at 169.254.169.254); refused as a server unless --allow-hosts 169.254.169.254 is given'],
    ['metadata by URL', [{ url: 'http://169.254.169.254' }], {}, {}, 'servers[0].host: 169.254.169.254 is a link-local address'],
    ['IPv4-mapped metadata', [{ host: '::ffff:169.254.169.254', port: 80 }], {}, {}, 'is a link-local address'],
    ['IPv4-mapped metadata, hex', [{ host: '[::ffff:a9fe:a9fe]', port: 80 }], {}, {}, 'is a link-local address'],
    ['IPv6 link-local', [{ host: 'fe80::1', port: 80 }], {}, {}, 'servers[0].host: fe80::1 is a link-local address'],
    ['AWS IPv6 metadata', [{ host: 'fd00:ec2::254', port: 80 }], {}, {}, 'is a cloud metadata service'],
    ['GCP metadata name', [{ host: 'Metadata.Google.Internal', port: 80 }], {}, {}, 'servers[0].host: metadata.google.internal is a cloud metadata service'],
    ['this network', [{ host: '0.0.0.0', port: 80 }], {}, {}, '"this network"'],
    ['multicast', [{ host: '224.0.0.1', port: 80 }], {}, {}, 'is a multicast address'],
    ['unspecified IPv6', [{ host: '::', port: 80 }], {}, {}, 'is the unspecified address'],
    ['empty admin token', [], {}, { adminToken: '' }, '--admin-token: must be a non-empty secret, got ""'],
    ['empty admin token in the environment', [], { LB_ADMIN_TOKEN: '' }, {}, 'LB_ADMIN_TOKEN: must be a non-empty secret, got ""'],
    ['a name that starts like loopback', [], {}, { adminHost: '127.evil.example' }, '--admin-host: 127.evil.example is not loopback: set --admin-token'],
    ['AWS metadata name', [{ host: 'instance-data', port: 80 }], {}, {}, 'servers[0].host: instance-data is a cloud metadata service'],
    ['IPv4-translated metadata', [{ host: '::ffff:0:a9fe:a9fe', port: 80 }], {}, {}, 'is a link-local address'],
    ['NAT64 metadata', [{ host: '64:ff9b::a9fe:a9fe', port: 80 }], {}, {}, 'is a link-local address'],
    ['blank admin token', [], {}, { adminToken: '  ' }, '--admin-token: must be a non-empty secret, got "  "'],
    ['bad server header', [], {}, { serverHeader: 'all' }, '--server-header: must be one of id, name, off, got "all"'],
    ['max_headers 0', { load_balancer: { max_headers: 0 } }, {}, {}, 'load_balancer.max_headers: must be an integer 1-10000, got 0'],
    ['tiny header size', { load_balancer: { max_header_size: 100 } }, {}, {}, 'load_balancer.max_header_size: must be an integer 1024-1048576'],
    ['negative rate', { rate_limit: { rate: -1 } }, {}, {}, 'rate_limit.rate: must be requests per second 0-10000000, got -1'],
    ['rate as string', { rate_limit: { rate: '10/s' } }, {}, {}, 'rate_limit.rate: must be requests per second'],
    ['bad rate key', { rate_limit: { key: 'header:' } }, {}, {}, 'rate_limit.key: must be ip, path, header:NAME, cookie:NAME or query:NAME'],
    ['rate limit not an object', { rate_limit: 10 }, {}, {}, 'rate_limit: must be an object'],
    ['bad allow_hosts entry', { load_balancer: { allow_hosts: ['169.254.169.254:80'] } }, {}, {}, 'load_balancer.allow_hosts[0]: must be a host name'],
    ['traffic and admin on one port', [], {}, { port: 9640, adminPort: 9640 }, 'admin port: the traffic and the admin API cannot share port 9640'],
    ['one port, traffic on every address', [], { LB_HOST: '0.0.0.0', LB_ADMIN_PORT: '8080' }, { port: 8080 }, 'admin port: the traffic and the admin API cannot share port 8080'],
  ];

  it.each(cases)('%s', (_name, file, env, flags, message) => {
    let error: unknown;
    try {
      resolve(file, env, flags);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(LbError);
    expect((error as LbError).code).toBe('LB_CONFIG_INVALID');
    expect((error as LbError).message).toContain(message);
  });

  it('names the file for file problems, missing files and broken JSON', async () => {
    const dir = await tempDir();
    const bad = join(dir, 'bad.json');
    await writeFile(bad, JSON.stringify([{ host: 'a', port: 0 }]));
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '[{"host": "a",');
    const load = (path: string, required = true) => loadConfig({ flags: {}, env: {}, serversFile: path, required });
    await expect(load(bad)).rejects.toThrow(`${bad}: servers[0].port: must be an integer 1-65535, got 0`);
    await expect(load(broken)).rejects.toThrow(`${broken}: not valid JSON`);
    await expect(load(join(dir, 'none.json'))).rejects.toThrow(`${join(dir, 'none.json')}: file not found`);
    // The default file may be missing: the balancer starts empty.
    expect((await load(join(dir, 'none.json'), false)).servers).toEqual([]);
  });

  it('broken JSON is one line that says where; a byte-order mark (Windows editors) is no error', async () => {
    const dir = await tempDir();
    const rows: Array<[string, string, RegExp]> = [
      ['trailing comma across lines', '[{"host": "127.0.0.1", "port": 9602},\n]\n', /not valid JSON \(Unexpected token '\]', .* is not valid JSON\)$/],
      ['a key without quotes', '[{\n  host: "127.0.0.1"}]', /not valid JSON \(line 2, column 3: Expected property name or '\}'\)$/],
      ['cut short', '[{"host": "127.0.0.1"', /not valid JSON \(line 1, column 22: Expected ',' or '\}' after property value\)$/],
    ];
    for (const [title, text, message] of rows) {
      const file = join(dir, `${title.replace(/\W+/g, '-')}.json`);
      await writeFile(file, text);
      const error = await loadConfig({ flags: {}, env: {}, serversFile: file, required: true }).catch((err: Error) => err);
      expect((error as Error).message, title).toMatch(message);
      expect((error as Error).message, title).not.toContain('\n');
    }
    const withBom = join(dir, 'bom.json');
    await writeFile(withBom, `\ufeff${JSON.stringify([{ host: '127.0.0.1', port: 9602 }])}`);
    expect((await loadConfig({ flags: {}, env: {}, serversFile: withBom, required: true })).servers).toMatchObject([{ host: '127.0.0.1', port: 9602 }]);
  });
});

describe('health, breaker and limits settings', () => {
  it('reads them from the file and lets flags override the health check', () => {
    const config = resolve(
      {
        health_check: { interval: 0.5, expected_status: '2xx', start_healthy: false },
        circuit_breaker: { fail_threshold: 5, open_time: 10, max_ejection_percent: 30 },
        load_balancer: {
          max_conns: 50, max_queue: 10, queue_timeout: 2, retry_budget: 0.1, client_header_timeout: 5, idle_timeout: 30,
          max_headers: 64, max_header_size: 8192, max_conns_per_client: 20, client_body_timeout: 7,
        },
      },
      {},
      { healthInterval: 0.2, healthTimeout: 0.05, healthCheck: false },
    );
    expect(config.healthCheck).toMatchObject({ enabled: false, intervalMs: 200, timeoutMs: 50, expectedStatus: { min: 200, max: 299 }, startHealthy: false });
    expect(config.circuitBreaker).toEqual({ enabled: true, failThreshold: 5, openTimeMs: 10_000, maxEjectionPercent: 30 });
    expect(config.limits).toEqual({
      maxConnsPerServer: 50,
      maxQueue: 10,
      queueTimeoutMs: 2000,
      retryBudgetRatio: 0.1,
      retryBudgetMin: 10,
      clientHeaderTimeoutMs: 5000,
      clientIdleTimeoutMs: 30_000,
      clientBodyTimeoutMs: 7000,
      maxHeaders: 64,
      maxHeaderBytes: 8192,
      maxConnsPerClient: 20,
    });
  });
});

describe('algorithm and sticky settings', () => {
  it('reads hash key and sticky sessions from the file, flags and env', () => {
    const file = { consistent_hash: { key: 'header:X-User' }, sticky_sessions: { mode: 'cookie', cookie_name: 'sid', ttl: 60 } };
    const fromFile = resolve(file);
    expect(fromFile.hashKey).toEqual({ kind: 'header', name: 'x-user' });
    expect(fromFile.sticky).toMatchObject({ mode: 'cookie', cookieName: 'sid', ttlMs: 60_000, secret: null });
    const overridden = resolve(file, { LB_STICKY_SECRET: 'k' }, { hashKey: 'cookie:uid', sticky: 'ip', stickyTtl: 5 });
    expect(overridden.hashKey).toEqual({ kind: 'cookie', name: 'uid' });
    expect(overridden.sticky).toMatchObject({ mode: 'ip', cookieName: 'sid', ttlMs: 5000, secret: 'k' });
  });

  it.each([
    [{ consistent_hash: { key: 'body' } }, {}, 'consistent_hash.key: must be ip, path, header:NAME, cookie:NAME or query:NAME, got "body"'],
    [{ sticky_sessions: { mode: 'always' } }, {}, 'sticky_sessions.mode: must be one of off, cookie, ip, got "always"'],
    [{ sticky_sessions: { cookie_name: 'a b' } }, {}, 'sticky_sessions.cookie_name: must be a cookie name'],
    [{}, { sticky: 'sometimes' }, '--sticky: must be one of off, cookie, ip'],
    [{}, { hashKey: 'query:' }, '--hash-key: must be ip, path'],
  ])('rejects %j %j', (file, flags, message) => {
    expect(() => resolve(file, {}, flags)).toThrow(message);
  });
});

describe('edge settings', () => {
  it('lets --allow-hosts or load_balancer.allow_hosts name a risky destination, and only that one', () => {
    const metadata = [{ host: '169.254.169.254', port: 80 }];
    expect(resolve(metadata, {}, { allowHosts: '169.254.169.254' }).servers[0]!.host).toBe('169.254.169.254');
    expect(resolve({ servers: metadata, load_balancer: { allow_hosts: ['169.254.169.254'] } }).allowHosts).toEqual(['169.254.169.254']);
    expect(() => resolve([{ host: '169.254.169.253', port: 80 }], {}, { allowHosts: '169.254.169.254' })).toThrow('servers[0].host: 169.254.169.253 is a link-local address');
  });

  it('stores hosts in one form: IPv6 without brackets, names in lower case', () => {
    const config = resolve([{ host: '[::1]', port: 1 }, { host: 'Web-1.Example', port: 2 }, { url: 'http://[::1]:3' }]);
    expect(config.servers.map((s) => s.host)).toEqual(['::1', 'web-1.example', '::1']);
  });

  it('reads rate limits from the file and lets flags override them', () => {
    const file = { rate_limit: { rate: 0.5, burst: 3, key: 'header:X-Api-Key', max_clients: 10 } };
    expect(resolve(file).rateLimit).toEqual({ ratePerSecond: 0.5, burst: 3, key: { kind: 'header', name: 'x-api-key' }, maxKeys: 10 });
    expect(resolve(file, {}, { rateLimit: 20, rateLimitKey: 'ip' }).rateLimit).toEqual({ ratePerSecond: 20, burst: 3, key: { kind: 'ip' }, maxKeys: 10 });
    expect(resolve([]).rateLimit.ratePerSecond).toBe(0);
  });
});
