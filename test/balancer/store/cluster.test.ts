/**
 * Several `lb serve` processes sharing one Redis (a real redis-server, started here): the list,
 * end to end through the CLI. Each test uses its own cluster name, so they share the file's Redis
 * except the one that kills it.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterResponse, HistoryResponse, StatsSnapshot } from '../../../src/shared/api-types.js';
import type { TestServerHandle } from '../../../src/testserver/server.js';
import { runLb } from '../../helpers/cli.js';
import { startRedis, type RedisHandle } from '../../helpers/redis.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';

const scope = closedAfterEach();
let redis: RedisHandle;

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});

interface Instance {
  url: string;
  admin: string;
  kill(): Promise<unknown>;
  stderr(): string;
}

const cluster = (): string => `t-${randomBytes(4).toString('hex')}`;

/** `extra` replaces `--no-health-check` when it turns health checks on. */
async function startInstance(store: string, name: string, servers: TestServerHandle[], extra: string[] = []): Promise<Instance> {
  const file = join(await tempDir(), 'servers.json');
  await writeFile(file, JSON.stringify(servers.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name }))));
  const proc = scope.spawnLb(['serve', '--servers', file, '--host', '127.0.0.1', '--port', '0', '--admin-port', '0', ...(extra.includes('--health-check') ? [] : ['--no-health-check']), '--store', store, '--cluster', name, ...extra]);
  const match = await proc.waitForOutput(/lb serve: (\S+) -> [^\n]*\nadmin API: (\S+)\/lb\/stats/);
  return { url: match[1]!, admin: match[2]!, kill: () => proc.stop('SIGKILL'), stderr: () => proc.stderr() };
}

const json = async <T>(url: string, init?: RequestInit): Promise<{ status: number; body: T }> => {
  const res = await fetch(url, init);
  return { status: res.status, body: (await res.json()) as T };
};
const send = (url: string, method: string, body: unknown): Promise<{ status: number; body: { error?: { code: string } } }> =>
  json(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const stats = async (i: Instance): Promise<StatsSnapshot> => (await json<StatsSnapshot>(`${i.admin}/lb/stats`)).body;
const clusterOf = async (i: Instance): Promise<ClusterResponse> => (await json<ClusterResponse>(`${i.admin}/lb/cluster`)).body;
const servedBy = async (url: string, headers: Record<string, string> = {}): Promise<{ server: string | null; setCookie: string | null; status: number }> => {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return { server: res.headers.get('x-lb-server'), setCookie: res.headers.get('set-cookie'), status: res.status };
};

/** Requests on `urls` in turn, 4 at a time, until stopped: counts what came back. */
function load(urls: string[]): { stop(): Promise<{ ok: number; failed: number; failures: string[] }> } {
  let running = true;
  let ok = 0;
  const failures: string[] = [];
  let n = 0;
  const worker = async (): Promise<void> => {
    while (running) {
      const url = urls[n++ % urls.length]!;
      try {
        const res = await fetch(`${url}/load`);
        await res.arrayBuffer();
        if (res.status === 200) ok++;
        else failures.push(`${url}: ${res.status}`);
      } catch (err) {
        failures.push(`${url}: ${(err as Error).message}`);
      }
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    stop: async () => {
      running = false;
      await Promise.all(workers);
      return { ok, failed: failures.length, failures: failures.slice(0, 5) };
    },
  };
}

describe('lb serve --store: several instances, one configuration', () => {
  it('a server added through instance A is in the store when A answers, and takes traffic on instance B within 1 s', async () => {
    const [s1, s2] = await scope.startServers(2);
    const name = cluster();
    const a = await startInstance(redis.url, name, [s1!]);
    const b = await startInstance(redis.url, name, [s1!]);
    expect((await servedBy(b.url)).server).toBe('s1');
    expect((await send(`${a.admin}/lb/add-server`, 'POST', { host: '127.0.0.1', port: s2!.port, name: 's2' })).status).toBe(201);
    const added = Date.now();
    // Answered once written: the store already holds it.
    expect((await clusterOf(a)).store).toMatchObject({ configVersion: '2', pendingChanges: 0 });
    await waitFor('B routes to s2', async () => (await servedBy(b.url)).server === 's2', 1_000, 5);
    expect(Date.now() - added).toBeLessThan(1_000);
  });

  it('a later instance adopts the cluster configuration instead of its own file, and says so; /metrics shows the store', async () => {
    const [s1, s2, s3] = await scope.startServers(3);
    const name = cluster();
    const a = await startInstance(redis.url, name, [s1!, s2!]);
    const b = await startInstance(redis.url, name, [s3!]);
    expect((await stats(b)).servers.map((s) => s.id)).toEqual(['s1', 's2']);
    expect(b.stderr()).toMatch(/adopted the cluster's configuration \(version 1: 2 server\(s\)/);
    expect(a.stderr()).toMatch(/seeded the cluster from \S+servers\.json/);
    await waitFor('both instances listed', async () => (await clusterOf(b)).instances.length === 2);
    const metrics = await (await fetch(`${b.admin}/metrics`)).text();
    expect(metrics).toMatch(/^lb_store_connected 1$/m);
    expect(metrics).toMatch(/^lb_cluster_instances 2$/m);
    expect(metrics).toMatch(/^lb_store_pending_changes 0$/m);
  });

  it('a server drained through B gets no new request from A', async () => {
    const [s1, s2] = await scope.startServers(2);
    const name = cluster();
    const a = await startInstance(redis.url, name, [s1!, s2!]);
    const b = await startInstance(redis.url, name, [s1!, s2!]);
    const before = new Set<string | null>();
    for (let i = 0; i < 4; i++) before.add((await servedBy(a.url)).server);
    expect(before).toEqual(new Set(['s1', 's2']));
    expect((await send(`${b.admin}/api/servers/s2`, 'PATCH', { drain: true })).status).toBe(200);
    await waitFor('A sees s2 drained', async () => (await stats(a)).servers.find((s) => s.id === 's2')?.state === 'drained', 1_000, 5);
    const s2Before = (await stats(a)).servers.find((s) => s.id === 's2')!.totalRequests;
    const after: Array<string | null> = [];
    for (let i = 0; i < 20; i++) after.push((await servedBy(a.url)).server);
    expect(after.every((s) => s === 's1')).toBe(true);
    expect((await stats(a)).servers.find((s) => s.id === 's2')!.totalRequests).toBe(s2Before);
  });

  it('a sticky cookie set by A keeps the client on its server on B (the secret comes from the store)', async () => {
    const servers = await scope.startServers(3);
    const name = cluster();
    const a = await startInstance(redis.url, name, servers, ['--sticky', 'cookie']);
    const b = await startInstance(redis.url, name, servers, ['--sticky', 'cookie']);
    const first = await servedBy(a.url);
    expect(first.setCookie).toMatch(/^lb_session=/);
    const cookie = first.setCookie!.split(';')[0]!;
    const seen: Array<string | null> = [];
    for (let i = 0; i < 12; i++) {
      const answer = await servedBy(i % 2 === 0 ? b.url : a.url, { cookie });
      seen.push(answer.server);
      expect(answer.setCookie).toBeNull();
    }
    expect(new Set(seen)).toEqual(new Set([first.server]));
    // Without the cookie B rotates: the stickiness above is the cookie's doing.
    const rotating = new Set<string | null>();
    for (let i = 0; i < 3; i++) rotating.add((await servedBy(b.url)).server);
    expect(rotating.size).toBe(3);
  });

  it('kill -9 of A: B serves on with 0 failed requests, and /lb/cluster drops A within 3 s (an instance-left event)', async () => {
    const servers = await scope.startServers(2);
    const name = cluster();
    const a = await startInstance(redis.url, name, servers);
    const b = await startInstance(redis.url, name, servers);
    await waitFor('B lists both instances', async () => (await clusterOf(b)).instances.length === 2);
    const running = load([b.url]);
    await a.kill();
    const killed = Date.now();
    await waitFor('B drops A', async () => (await clusterOf(b)).instances.length === 1, 5_000, 20);
    const gone = Date.now() - killed;
    const result = await running.stop();
    expect(gone).toBeLessThan(3_000);
    expect(result.failed, result.failures.join('; ')).toBe(0);
    expect(result.ok).toBeGreaterThan(20);
    const history = (await json<HistoryResponse>(`${b.admin}/lb/history`)).body;
    expect(history.events.some((e) => e.type === 'instance-left')).toBe(true);
    const view = await clusterOf(b);
    expect(view.instances[0]).toMatchObject({ self: true, url: b.url });
    expect(view.totals.instances).toBe(1);
  });

  it('concurrent weight changes on A and B converge to the same state on both, no update lost', async () => {
    const servers = await scope.startServers(3);
    const name = cluster();
    const a = await startInstance(redis.url, name, servers);
    const b = await startInstance(redis.url, name, servers);
    let last = { s1: 0, s2: 0, s3: 0, s1Options: [0, 0] };
    for (let round = 1; round <= 8; round++) {
      const fromA = { s1: round * 2, s2: round + 10 };
      const fromB = { s1: round * 2 + 1, s3: round + 20 };
      const answers = await Promise.all([
        send(`${a.admin}/api/servers/s1`, 'PATCH', { weight: fromA.s1 }),
        send(`${b.admin}/api/servers/s1`, 'PATCH', { weight: fromB.s1 }),
        send(`${a.admin}/api/servers/s2`, 'PATCH', { weight: fromA.s2 }),
        send(`${b.admin}/api/servers/s3`, 'PATCH', { weight: fromB.s3 }),
      ]);
      expect(answers.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      last = { s1: 0, s2: fromA.s2, s3: fromB.s3, s1Options: [fromA.s1, fromB.s1] };
    }
    const weights = async (i: Instance): Promise<Record<string, number>> => Object.fromEntries((await stats(i)).servers.map((s) => [s.id, s.weight]));
    const settled = await waitFor(
      'A and B agree',
      async () => {
        const [wa, wb] = await Promise.all([weights(a), weights(b)]);
        const [ca, cb] = await Promise.all([clusterOf(a), clusterOf(b)]);
        const same = JSON.stringify(wa) === JSON.stringify(wb) && ca.store.configVersion === cb.store.configVersion && ca.store.pendingChanges === 0 && cb.store.pendingChanges === 0;
        return same ? wa : null;
      },
      5_000,
    );
    // Each field holds its last round's write: s2 (only A wrote it) and s3 (only B) lost nothing to the other's writes.
    expect(settled.s2).toBe(last.s2);
    expect(settled.s3).toBe(last.s3);
    expect(last.s1Options).toContain(settled.s1);
  });
});

describe('lb serve --store: health verdicts', () => {
  // A sees s2 fail its /health; B probes a path s2 always answers: a partition, as far as checks go.
  const checks = (path: string, quorum: number): string[] => ['--health-check', '--health-path', path, '--health-interval', '100ms', '--health-fall', '2', '--health-rise', '1', '--health-quorum', String(quorum)];
  const stateOf = async (i: Instance, id: string): Promise<string | undefined> => (await stats(i)).servers.find((s) => s.id === id)?.state;

  it('each instance goes by its own checks, and /lb/stats shows how many instances see each server up', async () => {
    const [s1, s2] = await scope.startServers(2);
    const name = cluster();
    const a = await startInstance(redis.url, name, [s1!, s2!], checks('/health', 0));
    const b = await startInstance(redis.url, name, [s1!, s2!], checks('/other', 0));
    await waitFor('both instances listed', async () => (await stats(a)).cluster?.instances.length === 2 && (await stats(b)).cluster?.instances.length === 2);
    expect((await stats(a)).cluster?.seenUp).toEqual({ s1: 2, s2: 2 });
    await fetch(`${s2!.url}/control?healthy=false`);
    await waitFor('A takes s2 out', async () => (await stateOf(a, 's2')) === 'down');
    await waitFor('B sees that A sees s2 down', async () => (await stats(b)).cluster?.seenUp.s2 === 1);
    expect(await stateOf(b, 's2')).toBe('up');
    expect((await stats(a)).cluster?.seenUp).toEqual({ s1: 2, s2: 1 });
  });

  it('health_check.quorum 2: a server leaves rotation only when 2 instances see it down', async () => {
    const [s1, s2] = await scope.startServers(2);
    const name = cluster();
    const a = await startInstance(redis.url, name, [s1!, s2!], checks('/health', 2));
    const b = await startInstance(redis.url, name, [s1!, s2!], checks('/other', 2));
    await waitFor('both instances listed', async () => (await stats(a)).cluster?.instances.length === 2 && (await stats(b)).cluster?.instances.length === 2);
    await fetch(`${s2!.url}/control?healthy=false`);
    await waitFor('A publishes its verdict', async () => (await stats(b)).cluster?.seenUp.s2 === 1);
    // One of two sees it down: still in rotation on A too, and A still sends it requests.
    expect(await stateOf(a, 's2')).toBe('up');
    const routed = new Set<string | null>();
    for (let i = 0; i < 4; i++) routed.add((await servedBy(a.url)).server);
    expect(routed.has('s2')).toBe(true);
    // Now B's checks fail too (s2 stops answering at all): 2 of 2, out on both.
    await s2!.close();
    await waitFor('s2 out on both', async () => (await stateOf(a, 's2')) === 'down' && (await stateOf(b, 's2')) === 'down');
    expect((await json<HistoryResponse>(`${a.admin}/lb/history`)).body.events.find((e) => e.type === 'server-down' && e.server === 's2')?.detail).toMatch(/2 of 2 instance\(s\) see it down \(quorum 2\)/);
  });
});

describe('lb serve --store: Redis goes away and comes back', () => {
  it('kill Redis under load: 0 failed requests, changes answer 503 LB_STORE_UNAVAILABLE; Redis back: both resync and replicate again', async () => {
    const own = scope.track(await startRedis());
    const [s1, s2, s3] = await scope.startServers(3);
    const name = cluster();
    const a = await startInstance(own.url, name, [s1!, s2!]);
    const b = await startInstance(own.url, name, [s1!, s2!]);
    const running = load([a.url, b.url]);
    await own.kill();
    await waitFor('both see the store gone', async () => !(await clusterOf(a)).store.connected && !(await clusterOf(b)).store.connected);
    const refused = await send(`${a.admin}/lb/add-server`, 'POST', { host: '127.0.0.1', port: s3!.port, name: 's3' });
    expect(refused.status).toBe(503);
    expect(refused.body.error?.code).toBe('LB_STORE_UNAVAILABLE');
    expect((await send(`${b.admin}/lb/algorithm`, 'POST', { algorithm: 'random' })).status).toBe(503);
    expect((await stats(a)).servers.map((s) => s.id)).toEqual(['s1', 's2']);
    expect((await stats(b)).algorithm).toBe('round_robin');
    await own.restart();
    const resynced = async (i: Instance): Promise<boolean> =>
      (await json<HistoryResponse>(`${i.admin}/lb/history`)).body.events.some((e) => e.type === 'store-resynced') && (await clusterOf(i)).store.connected;
    await waitFor('both resync', async () => (await resynced(a)) && (await resynced(b)), 10_000, 50);
    const result = await running.stop();
    expect(result.failed, result.failures.join('; ')).toBe(0);
    expect(result.ok).toBeGreaterThan(20);
    expect(a.stderr()).toMatch(/reconnected to redis:\/\/127\.0\.0\.1:\d+ and resynced/);
    expect(b.stderr()).toMatch(/reconnected to redis:\/\/127\.0\.0\.1:\d+ and resynced/);
    // The empty Redis was seeded again from the instances' last state, and changes flow again.
    expect((await send(`${a.admin}/lb/add-server`, 'POST', { host: '127.0.0.1', port: s3!.port, name: 's3' })).status).toBe(201);
    await waitFor('B has s3', async () => (await stats(b)).servers.some((s) => s.id === 's3'), 1_000, 5);
  });

  it('an instance started while Redis is unreachable serves its file and joins when Redis answers', async () => {
    const own = scope.track(await startRedis());
    await own.kill();
    const [s1] = await scope.startServers(1);
    const a = await startInstance(own.url, cluster(), [s1!]);
    expect((await servedBy(a.url)).server).toBe('s1');
    expect(a.stderr()).toMatch(/is unreachable .*serving/);
    expect((await send(`${a.admin}/api/servers/s1`, 'PATCH', { weight: 3 })).status).toBe(503);
    await own.restart();
    await waitFor('A connected', async () => (await clusterOf(a)).store.connected && (await clusterOf(a)).store.configVersion === '1', 10_000, 50);
    expect((await send(`${a.admin}/api/servers/s1`, 'PATCH', { weight: 3 })).status).toBe(200);
  });
});

describe('lb serve --store: bad settings', () => {
  it.each<{ title: string; args: string[]; env: Record<string, string>; code: number; message: RegExp }>([
    { title: '--store http://127.0.0.1:6379', args: ['--store', 'http://127.0.0.1:6379'], env: {}, code: 2, message: /^lb: --store: must be a redis:\/\/ URL .*scheme http is not redis/ },
    { title: '--store redis://host/db-name', args: ['--store', 'redis://127.0.0.1/zero'], env: {}, code: 2, message: /^lb: --store: .*the path is a database number/ },
    { title: '--cluster with a space', args: ['--cluster', 'a b'], env: {}, code: 2, message: /^lb: --cluster: must be 1-64 letters/ },
    // The same check from the environment is a configuration error (exit 1), as for every setting.
    { title: 'LB_STORE=not a url', args: [], env: { LB_STORE: 'not a url' }, code: 1, message: /^lb: LB_STORE: must be a redis:\/\/ URL/ },
  ])('$title: one line, no stack, exit $code', async ({ args, env, code, message }) => {
    const result = await runLb(['serve', '--port', '0', '--admin-port', '0', ...args], env);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});

describe('lb demo --cluster', () => {
  it('starts Redis, two instances sharing it and three test servers; Ctrl-C stops all of them, Redis included', async () => {
    const demo = scope.spawnLb(['demo', '--cluster', '--no-monitor', '--port', '0', '--admin-port', '0', '--server-port', '0']);
    const [, adminA] = (await demo.waitForOutput(/admin API\s+(http:\/\/\S+)\/lb\/stats/, 20_000)) as unknown as [string, string];
    const [, , adminB] = (await demo.waitForOutput(/second instance\s+(http:\/\/\S+)\s+admin (http:\/\/\S+)\/lb\/stats/)) as unknown as [string, string, string];
    const pid = Number((await demo.waitForOutput(/redis-server pid (\d+), started for the demo/))[1]);
    await waitFor('both instances listed', async () => (await json<ClusterResponse>(`${adminA}/lb/cluster`)).body.instances.length === 2);
    expect((await send(`${adminA}/api/servers/Server-2`, 'PATCH', { drain: true })).status).toBe(200);
    await waitFor('the drain on the second instance', async () => (await json<StatsSnapshot>(`${adminB}/lb/stats`)).body.servers.find((s) => s.id === 'Server-2')?.state === 'drained', 1_000, 5);
    expect(() => process.kill(pid, 0)).not.toThrow();
    expect(await demo.stop('SIGINT')).toEqual({ code: 0, signal: null });
    expect(() => process.kill(pid, 0)).toThrow();
  });
});
