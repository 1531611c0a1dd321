/**
 * What an instance reads from Redis is an input path: rows written there by hand, by another program or
 * by an attacker with access to the store must never crash an instance or route traffic to a refused
 * destination. A real `lb serve` process and a real redis-server; the rows are written over a socket.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterResponse, StatsSnapshot } from '../../../src/shared/api-types.js';
import { startRedis, type RedisHandle } from '../../helpers/redis.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';

const scope = closedAfterEach();
let redis: RedisHandle;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
  await client.connect();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.close();
});

const getJson = async <T>(url: string): Promise<T> => (await (await fetch(url)).json()) as T;

describe('hostile rows in the store', () => {
  it('garbage, wrong versions and formats, unknown algorithms, refused hosts, huge documents, __proto__ keys, wrong key types and bad heartbeats: the instance lives and routes only to accepted servers', async () => {
    const [s1, s2] = await scope.startServers(2);
    const cluster = `h-${randomBytes(4).toString('hex')}`;
    const key = (k: string): string => `lb:${cluster}:${k}`;
    // A secret too short to be a key, there before the instance starts.
    await client.set(key('sticky-secret'), 'short');
    const file = join(await tempDir(), 'servers.json');
    await writeFile(file, JSON.stringify([{ host: '127.0.0.1', port: s1!.port, name: 's1' }]));
    const proc = scope.spawnLb(['serve', '--servers', file, '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', '--no-health-check', '--sticky', 'cookie', '--store', redis.url, '--cluster', cluster]);
    const [, url, admin] = (await proc.waitForOutput(/lb serve: (\S+) -> [^\n]*\nadmin API: (\S+)\/lb\/stats/)) as unknown as [string, string, string];
    const stats = (): Promise<StatsSnapshot> => getJson<StatsSnapshot>(`${admin}/lb/stats`);
    const ids = async (): Promise<string[]> => (await stats()).servers.map((s) => s.id);
    // The log is JSON lines (stderr is not a terminal): quotes in messages come escaped.
    const logged = (pattern: RegExp): Promise<boolean> => waitFor(`the log to say ${pattern}`, () => pattern.test(proc.stderr()), 5_000);
    const write = async (version: string, doc: string): Promise<void> => {
      await client.hset(key('config'), 'version', version, 'doc', doc);
      await client.publish(key('changes'), 'hint');
    };
    expect(proc.stderr()).toMatch(/shared sticky secret is not usable \(5 characters/);

    // Refused and malformed servers are passed over; the rest applies; an unknown algorithm keeps ours.
    const server = (port: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ host: '127.0.0.1', port, weight: 1, max_conns: 0, ...extra });
    await write(
      '100',
      `{"format":1,"algorithm":"no_such_algorithm","servers":[${[
        JSON.stringify(server(s1!.port, { name: 's1' })),
        JSON.stringify({ host: '169.254.169.254', port: 80 }),
        JSON.stringify({ host: 'metadata.google.internal', port: 80 }),
        JSON.stringify({ host: 'evil host', port: 1 }),
        JSON.stringify({ host: '127.0.0.1', port: 0 }),
        JSON.stringify({ host: '127.0.0.1', port: s1!.port, name: 'again' }),
        // A literal __proto__ key (JSON.stringify would drop it) and a server named __proto__.
        `{"__proto__":{"polluted":true},"host":"127.0.0.1","port":${s2!.port},"name":"__proto__","weight":2}`,
      ].join(',')}]}`,
    );
    await waitFor('the valid servers applied', async () => JSON.stringify(await ids()) === JSON.stringify(['s1', '__proto__']));
    await logged(/passed over servers\[1\]\.host: 169\.254\.169\.254 is a link-local address/);
    await logged(/passed over algorithm: unknown \\?"no_such_algorithm\\?", kept the running one/);
    expect((await stats()).algorithm).toBe('round_robin');
    const routed = new Set<string | null>();
    for (let i = 0; i < 6; i++) {
      const res = await fetch(url);
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      routed.add(res.headers.get('x-lb-server'));
    }
    expect(routed).toEqual(new Set(['s1', '__proto__']));

    // Unreadable documents: logged, the running state kept.
    await write('101', '{"format":1,"servers":[');
    await logged(/version \\?"101\\?"\) is ignored: not valid JSON/);
    await write('102', JSON.stringify({ format: 2, algorithm: 'random', servers: [] }));
    await logged(/version \\?"102\\?"\) is ignored: format 2 is not 1/);
    await write('103', JSON.stringify({ format: 1, algorithm: 'random', servers: [], pad: 'x'.repeat(5 * 1024 * 1024) }));
    await logged(/version \\?"103\\?"\) is ignored: \d+ bytes, more than 4194304/);
    await write('104', JSON.stringify({ format: 1, algorithm: 'random', servers: 'all of them' }));
    await logged(/version \\?"104\\?"\) is ignored: servers: not a list/);
    await write('105', '[1,2,3]');
    await logged(/version \\?"105\\?"\) is ignored: not a JSON object/);
    await client.del(key('config'));
    await client.set(key('config'), 'a string where a hash belongs');
    await client.publish(key('changes'), 'hint');
    await logged(/is ignored: the key holds a string, not a hash/);
    expect(await ids()).toEqual(['s1', '__proto__']);
    expect((await stats()).algorithm).toBe('round_robin');

    // A version that is not a number is still a version: applied, and the next write moves past it.
    await client.del(key('config'));
    await write('not-a-number', JSON.stringify({ format: 1, algorithm: 'random', servers: [server(s1!.port, { name: 's1' })] }));
    await waitFor('the document applied', async () => (await stats()).algorithm === 'random' && (await ids()).length === 1);
    const patched = await fetch(`${admin}/api/servers/s1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{"weight":4}' });
    expect(patched.status).toBe(200);
    await waitFor('the write lands', async () => (await client.hget(key('config'), 'version')) === '1');
    expect(JSON.parse((await client.hget(key('config'), 'doc'))!).servers[0]).toMatchObject({ port: s1!.port, weight: 4 });

    // Heartbeats: not JSON, another id, hostile fields; a flood of garbage on the channel.
    const now = Date.now();
    await client.zadd(key('instances'), now, 'garbage', now, 'liar', now, 'odd');
    await client.set(key('instance:garbage'), '{not json', 'PX', 60_000);
    await client.set(key('instance:liar'), JSON.stringify({ id: 'someone-else' }), 'PX', 60_000);
    await client.set(key('instance:odd'), JSON.stringify({ id: 'odd', url: 'u'.repeat(10_000), requests: -5, failures: 'many', requestsPerSecond: 1e308 * 10, down: Array.from({ length: 20_000 }, (_, i) => `x${i}`) }), 'PX', 60_000);
    await client.publish(key('changes'), 'x'.repeat(1024 * 1024));
    await client.publish(key('changes'), '{"version": {"__proto__": 1}}');
    const view = await waitFor('the odd instance listed', async () => {
      const c = await getJson<ClusterResponse>(`${admin}/lb/cluster`);
      return c.instances.some((i) => i.id === 'odd') ? c : null;
    });
    expect(view.instances.map((i) => i.id).sort()).toEqual(['odd', view.instances.find((i) => i.self)!.id].sort());
    const odd = view.instances.find((i) => i.id === 'odd')!;
    expect(odd.url.length).toBeLessThanOrEqual(200);
    expect(odd).toMatchObject({ requests: 0, failures: 0, requestsPerSecond: 0 });
    expect(odd.serversDown.length).toBeLessThanOrEqual(100);
    expect(Number.isFinite(view.totals.requestsPerSecond)).toBe(true);

    // Still alive and serving after all of it.
    expect(proc.child.exitCode).toBeNull();
    const last = await fetch(url);
    await last.arrayBuffer();
    expect(last.status).toBe(200);
    expect(proc.stderr()).not.toMatch(/unexpected error|\n\s+at /);
  });
});
