import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { type AccessEntry, AccessLog } from '../../../src/balancer/access-log.js';
import { type BalancerHandle, type ServerStateEvent, startBalancer } from '../../../src/balancer/balancer.js';
import { resolveConfig } from '../../../src/balancer/config.js';
import type { RequestEvent } from '../../../src/balancer/outcome.js';
import type { StatsSnapshot } from '../../../src/shared/api-types.js';
import { createLogger } from '../../../src/shared/log.js';
import type { TestServerHandle } from '../../../src/testserver/server.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

const configFor = (servers: TestServerHandle[], extra: Record<string, unknown> = {}) =>
  resolveConfig({
    file: { servers: servers.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name })), ...extra },
    filePath: null,
    env: {},
    flags: { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false },
  });

describe('access log', () => {
  it('writes exactly one JSON line per request with time, client, method, path, status, server, duration and bytes', async () => {
    backends = await scope.startServers(2);
    const file = join(await tempDir(), 'access.log');
    const stream = createWriteStream(file);
    await once(stream, 'open');
    lb = scope.track(await startBalancer(configFor(backends), { accessLog: new AccessLog(stream, true) }));
    for (let i = 0; i < 25; i++) await (await fetch(`${lb.url}/item/${i}?q=${i}`)).text();
    await (await fetch(`${lb.url}/up`, { method: 'POST', body: 'abc' })).text();
    lb.admin.removeServer('s1');
    lb.admin.removeServer('s2');
    await (await fetch(`${lb.url}/none`)).text();
    await lb.close();
    const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as AccessEntry);
    expect(lines).toHaveLength(27);
    expect(lines[0]).toMatchObject({ client: '127.0.0.1', method: 'GET', path: '/item/0?q=0', status: 200, server: 's1', retries: 0, error: null });
    expect(lines[0]!.bytes).toBeGreaterThan(100);
    expect(lines[0]!.duration_ms).toBeGreaterThan(0);
    expect(Date.parse(lines[0]!.time)).not.toBeNaN();
    expect(lines[25]).toMatchObject({ method: 'POST', path: '/up', status: 200 });
    expect(lines[26]).toMatchObject({ path: '/none', status: 503, server: null, error: 'LB_NO_AVAILABLE_SERVER' });
  });
});

describe('logs', () => {
  it('logs each routing decision at debug level', async () => {
    backends = await scope.startServers(2);
    const lines: string[] = [];
    lb = scope.track(await startBalancer(configFor(backends), { logger: createLogger('debug', (l) => lines.push(l)) }));
    await (await fetch(`${lb.url}/a`)).text();
    expect(lines.some((l) => / DEBUG route GET \/a -> s1 \(round_robin, attempt 1\)\n$/.test(l))).toBe(true);
  });

  it('lb serve writes JSON log lines (pino) when stderr is not a terminal', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, '[]');
    const serve = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file, '--log-level', 'debug']);
    const adminUrl = (await serve.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;
    await fetch(`${adminUrl}/lb/algorithm`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"algorithm":"p2c"}' });
    await waitFor('the log line', () => serve.stderr().includes('algorithm-switched'));
    const line = JSON.parse(serve.stderr().trim().split('\n').find((l) => l.includes('algorithm-switched'))!) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, app: 'lb', msg: 'algorithm-switched: round_robin -> p2c', event: 'algorithm-switched', server: null, detail: 'round_robin -> p2c' });
    // Routing decisions at debug carry their parts as fields, not only in the message.
    await fetch(`${adminUrl}/lb/add-server`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ host: '127.0.0.1', port: 9, name: 'nine' }) }).then((r) => r.text());
    const url = (await serve.waitForOutput(/lb serve: (http:\/\/\S+)/))[1]!;
    await (await fetch(`${url}/some/path`)).text();
    await waitFor('the route line', () => serve.stderr().includes('"msg":"route GET /some/path'));
    const route = JSON.parse(serve.stderr().trim().split('\n').find((l) => l.includes('"msg":"route GET /some/path'))!) as Record<string, unknown>;
    expect(route).toMatchObject({ level: 20, method: 'GET', path: '/some/path', server: 'nine', algorithm: 'p2c', attempt: 1 });
    expect(typeof line.time).toBe('string');
  });
});

describe('embedding events', () => {
  it('emits a request event per request and server-state events', async () => {
    backends = await scope.startServers(2, { errorRate: 0 });
    lb = scope.track(await startBalancer(configFor(backends)));
    const requests: RequestEvent[] = [];
    const states: ServerStateEvent[] = [];
    lb.on('request', (e) => requests.push(e));
    lb.on('server-state', (e) => states.push(e));
    for (let i = 0; i < 4; i++) await (await fetch(`${lb.url}/`)).text();
    lb.admin.updateServer('s1', { drain: true });
    expect(requests.map((r) => [r.server, r.ok, r.status])).toEqual([
      ['s1', true, 200],
      ['s2', true, 200],
      ['s1', true, 200],
      ['s2', true, 200],
    ]);
    expect(requests[0]!.durationMs).toBeGreaterThan(0);
    expect(states).toEqual([{ server: 's1', type: 'server-draining', detail: '0 in flight', state: 'drained' }]);
  });
});

describe('reload', () => {
  it('applies a changed servers file on SIGHUP under load with zero failed requests; a bad file keeps the running config', async () => {
    backends = await scope.startServers(3, { delayMs: 2 });
    const [a, b, c] = backends as [TestServerHandle, TestServerHandle, TestServerHandle];
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    const write = (servers: TestServerHandle[], weights: number[] = [], algorithm = 'round_robin') =>
      writeFile(file, JSON.stringify({ load_balancer: { algorithm }, servers: servers.map((s, i) => ({ host: '127.0.0.1', port: s.port, name: s.name, weight: weights[i] ?? 1 })) }));
    await write([a, b]);
    const serve = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file]);
    const url = (await serve.waitForOutput(/lb serve: (http:\/\/\S+)/))[1]!;
    const adminUrl = (await serve.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;
    const stats = async () => (await (await fetch(`${adminUrl}/lb/stats`)).json()) as StatsSnapshot;

    const limit = pLimit(10);
    let reloads = 0;
    const statuses = await Promise.all(
      Array.from({ length: 900 }, (_, i) =>
        limit(async () => {
          if (i === 200) {
            await write([a, b, c], [1, 3, 1], 'least_connections');
            serve.child.kill('SIGHUP');
            await waitFor('the first reload', () => serve.stderr().includes('reloaded (SIGHUP)'));
            reloads += 1;
          }
          if (i === 500) {
            await write([b, c]);
            serve.child.kill('SIGHUP');
            await waitFor('the second reload', () => (serve.stderr().match(/reloaded \(SIGHUP\)/g) ?? []).length === 2);
            reloads += 1;
          }
          return (await fetch(`${url}/`)).status;
        }),
      ),
    );
    expect(reloads).toBe(2);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    const after = await stats();
    expect(after.servers.map((s) => [s.id, s.weight])).toEqual([
      ['s2', 1],
      ['s3', 1],
    ]);
    expect(after.algorithm).toBe('round_robin');
    expect(after.totals.failures).toBe(0);
    expect(serve.stderr()).toMatch(/reloaded \(SIGHUP\): \+s3; updated s2; algorithm round_robin -> least_connections/);

    await writeFile(file, '[{"host": "127.0.0.1", "port": 99999}]');
    serve.child.kill('SIGHUP');
    await waitFor('the rejection', () => serve.stderr().includes('failed, keeping the running config'));
    expect(serve.stderr()).toMatch(/reload \(SIGHUP\) failed, keeping the running config: .*servers\[0\]\.port: must be an integer 1-65535, got 99999/);
    expect((await stats()).servers.map((s) => s.id)).toEqual(['s2', 's3']);
    expect((await fetch(`${url}/`)).status).toBe(200);
  });

  it('--watch reloads when the file changes', async () => {
    backends = await scope.startServers(2);
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, JSON.stringify([{ host: '127.0.0.1', port: backends[0]!.port }]));
    const serve = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file, '--watch']);
    const adminUrl = (await serve.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;
    await writeFile(file, JSON.stringify(backends.map((s) => ({ host: '127.0.0.1', port: s.port }))));
    await waitFor('the watched reload', async () => ((await (await fetch(`${adminUrl}/lb/stats`)).json()) as StatsSnapshot).servers.length === 2);
    expect(serve.stderr()).toContain('reloaded (file changed)');
  });
});
