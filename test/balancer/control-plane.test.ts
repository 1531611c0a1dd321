/**
 * The control plane: every change is a command, every effect one numbered event; a reload applies the
 * file's changes and keeps the operator's; runtime changes survive a restart with --state-file.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { resolveConfig, type ConfigFlags } from '../../src/balancer/config.js';
import type { ChangeEvent } from '../../src/balancer/control/commands.js';
import type { HistoryResponse } from '../../src/shared/api-types.js';
import { DynamicWeights } from '../../src/balancer/health/dynamic-weights.js';
import { ServerPool } from '../../src/balancer/pool.js';
import { Server } from '../../src/balancer/server.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const scope = closedAfterEach();

const fileConfig = (file: unknown, flags: ConfigFlags = {}) =>
  resolveConfig({ file, filePath: null, env: {}, flags: { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false, ...flags } });

const servers = (lb: BalancerHandle) => lb.pool.servers.map((s) => `${s.id}:w${s.weight}${s.draining ? ':drain' : ''}`);

const a = { host: '127.0.0.1', port: 3001, name: 'a' };
const b = { host: '127.0.0.1', port: 3002, name: 'b' };
const c = { host: '127.0.0.1', port: 3003, name: 'c' };

describe('commands and change events', () => {
  it('each command emits one numbered event per effect, with the state after it', async () => {
    const lb = await scope.startLb([], { file: [a, b] });
    const events: ChangeEvent[] = [];
    lb.control.on('change', (e) => events.push(e));
    lb.apply({ type: 'addServer', server: c });
    lb.apply({ type: 'updateServer', server: 'c', weight: 5, drain: true, maxConns: 7 });
    lb.apply({ type: 'updateServer', server: 'c', weight: 5 });
    lb.apply({ type: 'setAlgorithm', algorithm: 'weighted' });
    lb.apply({ type: 'setHealth', server: 'a', healthy: false, detail: '3 checks failed' });
    lb.apply({ type: 'removeServer', server: '127.0.0.1:3003' });
    lb.apply({ type: 'reset' });
    expect(events.map((e) => [e.type, e.server, e.detail, e.state])).toEqual([
      ['server-added', 'c', 'http://127.0.0.1:3003, weight 1', 'up'],
      ['weight-changed', 'c', '1 -> 5', 'up'],
      ['max-conns-changed', 'c', '0 -> 7', 'up'],
      ['server-draining', 'c', '0 in flight', 'drained'],
      ['algorithm-switched', null, 'round_robin -> weighted', null],
      ['server-down', 'a', '3 checks failed', 'down'],
      ['server-removed', 'c', '0 in-flight requests finish', 'drained'],
      ['counters-reset', null, 'counters, history and sessions', null],
    ]);
    // An update that changes nothing emits nothing; ids are consecutive.
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => events[0]!.id + i));
  });

  it('serves events after a cursor: GET /lb/history?since=<id>', async () => {
    const lb = await scope.startLb([], { file: [a] });
    lb.apply({ type: 'addServer', server: b });
    const first = (await (await fetch(`${lb.adminUrl}/lb/history`)).json()) as HistoryResponse;
    expect(first.events.map((e) => e.type)).toEqual(['server-added']);
    lb.apply({ type: 'setHealth', server: 'b', healthy: false, detail: 'x' });
    lb.apply({ type: 'setHealth', server: 'b', healthy: true, detail: 'y' });
    const next = (await (await fetch(`${lb.adminUrl}/lb/history?since=${first.lastEventId}`)).json()) as HistoryResponse;
    // A down -> up flap between two polls shows as both events.
    expect(next.events.map((e) => [e.type, e.state])).toEqual([
      ['server-down', 'down'],
      ['server-up', 'up'],
    ]);
    expect(next.lastEventId).toBe(first.lastEventId + 2);
    for (const bad of ['-1', 'x', '1e3', '9'.repeat(20)]) expect((await fetch(`${lb.adminUrl}/lb/history?since=${bad}`)).status).toBe(400);
  });
});

describe('a reload applies what changed in the file and keeps runtime changes', () => {
  const reload = (lb: BalancerHandle, file: unknown) => lb.reload(fileConfig(file));

  it('keeps a server added, a server removed and a weight set at runtime when the file did not touch them', async () => {
    const lb = await scope.startLb([], { file: [a, b] });
    lb.apply({ type: 'addServer', server: c });
    lb.apply({ type: 'removeServer', server: 'b' });
    lb.apply({ type: 'updateServer', server: 'a', weight: 4 });
    lb.apply({ type: 'setAlgorithm', algorithm: 'least_connections' });
    const report = reload(lb, [a, b]);
    expect(servers(lb)).toEqual(['a:w4', 'c:w1']);
    expect(lb.algorithm()).toBe('least_connections');
    expect(report.keptRuntime).toEqual(['c added', 'b removed', 'a weight 4', 'algorithm least_connections']);
    expect(report.overridden).toEqual([]);
  });

  it('lets the file win for the servers it changed, and says so', async () => {
    const lb = await scope.startLb([], { file: { servers: [a, b], load_balancer: { algorithm: 'round_robin' } } });
    lb.apply({ type: 'updateServer', server: 'a', weight: 4 });
    lb.apply({ type: 'removeServer', server: 'b' });
    lb.apply({ type: 'addServer', server: c });
    lb.apply({ type: 'setAlgorithm', algorithm: 'least_connections' });
    const report = reload(lb, { servers: [{ ...a, weight: 2 }, { ...b, weight: 3 }, c], load_balancer: { algorithm: 'p2c' } });
    expect(servers(lb)).toEqual(['a:w2', 'c:w1', 'b:w3']);
    expect(lb.algorithm()).toBe('p2c');
    expect(report.overridden).toEqual([
      'a: weight from the file',
      'b: removed at runtime, back from the file',
      'c: added at runtime, now in the file',
      'algorithm: p2c from the file',
    ]);
    expect(report.keptRuntime).toEqual([]);
    // From now on c is the file's: removing it from the file removes it.
    reload(lb, { servers: [{ ...a, weight: 2 }, { ...b, weight: 3 }], load_balancer: { algorithm: 'p2c' } });
    expect(servers(lb)).toEqual(['a:w2', 'b:w3']);
  });

  it('removes a server the file removed, even one re-weighted at runtime', async () => {
    const lb = await scope.startLb([], { file: [a, b] });
    lb.apply({ type: 'updateServer', server: 'b', weight: 9 });
    const report = reload(lb, [a]);
    expect(servers(lb)).toEqual(['a:w1']);
    expect(report.removed).toEqual(['b']);
    expect(report.overridden).toEqual(['b: the file removed it']);
  });

  it('refuses a reload whose new server clashes with a runtime one, and changes nothing', async () => {
    const lb = await scope.startLb([], { file: [a] });
    lb.apply({ type: 'addServer', server: { host: '127.0.0.1', port: 3003, name: 'runtime-c' } });
    expect(() => reload(lb, [{ ...a, weight: 7 }, c])).toThrow('servers[1]: c clashes with runtime-c, in the pool since a runtime change; remove it first');
    expect(servers(lb)).toEqual(['a:w1', 'runtime-c:w1']);
  });
});

describe('through lb serve, as a new user', () => {
  it('a server added through the admin API survives kill -HUP (the log says so), shows in GET /lb/config, and survives a restart with --state-file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    const stateFile = join(dir, 'state.json');
    await writeFile(file, JSON.stringify({ servers: [a], sticky_sessions: { mode: 'cookie', secret: 'do-not-show' } }));
    const args = ['serve', '--servers', file, '--port', '0', '--admin-port', '0', '--no-health-check', '--state-file', stateFile, '--admin-token', 'tok-123'];
    const auth = { authorization: 'Bearer tok-123', 'content-type': 'application/json' };
    const first = scope.spawnLb(args);
    const [, adminUrl] = await first.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/);
    const added = await fetch(`${adminUrl}/lb/add-server`, { method: 'POST', headers: auth, body: JSON.stringify({ host: '127.0.0.1', port: 3009, weight: 3 }) });
    expect(added.status).toBe(201);
    first.child.kill('SIGHUP');
    await waitFor('the reload log line', () => /reloaded \(SIGHUP\): kept runtime changes: 127\.0\.0\.1:3009 added/.test(first.stderr()));
    const config = (await (await fetch(`${adminUrl}/lb/config`, { headers: auth })).json()) as { servers: unknown[]; admin: { token: string }; sticky_sessions: { secret: string } };
    expect(config.servers).toEqual([
      { host: '127.0.0.1', port: 3001, weight: 1, name: 'a' },
      { host: '127.0.0.1', port: 3009, weight: 3 },
    ]);
    expect(config.admin.token).toBe('<redacted>');
    expect(config.sticky_sessions.secret).toBe('<redacted>');
    await first.stop('SIGTERM');

    const second = scope.spawnLb(args);
    const [, secondAdmin] = await second.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/);
    const stats = (await (await fetch(`${secondAdmin}/lb/stats`, { headers: auth })).json()) as { servers: Array<{ id: string; weight: number }> };
    expect(stats.servers.map((s) => [s.id, s.weight])).toEqual([
      ['a', 1],
      ['127.0.0.1:3009', 3],
    ]);
  });
});

describe('slow_start', () => {
  it('a server that comes back starts at a tenth of its weight and ramps to all of it; weighted follows the effective weight', async () => {
    const backends = await scope.startServers(2);
    const lb = await scope.startLb(backends, { algorithm: 'weighted', slowStart: '10s' });
    const s2 = lb.pool.get('s2')!;
    expect(s2.effectiveWeight).toBe(1);
    lb.apply({ type: 'setHealth', server: 's2', healthy: false, detail: 'down' });
    lb.apply({ type: 'setHealth', server: 's2', healthy: true, detail: 'back' });
    expect(s2.effectiveWeight).toBeCloseTo(0.1, 2);
    const served: string[] = [];
    for (let i = 0; i < 110; i++) {
      const res = await fetch(`${lb.url}/`);
      await res.text();
      served.push(res.headers.get('x-lb-server')!);
    }
    // In its first second the restarted server gets about 0.1 / 1.1 of the traffic, not half.
    const share = served.filter((id) => id === 's2').length / served.length;
    expect(share).toBeGreaterThan(0.03);
    expect(share).toBeLessThan(0.25);
    const stats = lb.stats().servers.find((s) => s.id === 's2')!;
    expect(stats.weight).toBe(1);
    expect(stats.effectiveWeight).toBeLessThan(0.5);
    const metrics = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/^lb_server_effective_weight\{server="s2"\} 0\.\d+$/m);
  });

  it('ramps linearly over the window and ends at the configured weight (fake clock)', () => {
    const server = new Server({ host: '127.0.0.1', port: 1, weight: 4 });
    server.startRamp(0);
    expect(server.effectiveWeight).toBeCloseTo(0.4);
    expect(server.advanceRamp(5000, 10_000)).toBe(true);
    expect(server.effectiveWeight).toBeCloseTo(4 * (0.1 + 0.9 * 0.5));
    expect(server.advanceRamp(10_000, 10_000)).toBe(false);
    expect([server.effectiveWeight, server.isRamping]).toEqual([4, false]);
  });
});

describe('dynamic weights', () => {
  it('moves a slow server\'s effective weight down in steps of at most 0.2, never below a tenth, back up when it recovers, with events', () => {
    let now = 1000;
    const pool = new ServerPool([{ host: '127.0.0.1', port: 1, name: 'fast', weight: 2 }, { host: '127.0.0.1', port: 2, name: 'slow', weight: 2 }]);
    const events: string[] = [];
    const dynamic = new DynamicWeights(pool, 1000, (type, server, detail) => events.push(`${type} ${server.id}: ${detail}`), () => now);
    const [fast, slow] = pool.servers as [Server, Server];
    const answer = (server: Server, ms: number) => {
      server.requestStarted();
      server.requestFinished(true, ms, null, now);
    };
    answer(fast, 5);
    answer(slow, 50);
    const factors: number[] = [];
    for (let i = 0; i < 6; i++) {
      dynamic.step();
      factors.push(Math.round(slow.dynamicFactor * 100) / 100);
    }
    expect(factors).toEqual([0.8, 0.6, 0.4, 0.2, 0.1, 0.1]);
    expect([fast.effectiveWeight, slow.effectiveWeight]).toEqual([2, 0.2]);
    expect(events[0]).toBe('weight-adjusted slow: effective weight 2.00 -> 1.60 of 2 (latency 50.0 ms, fastest 5.0 ms, errors 0%)');
    // Recovered: fast answers pull its estimate down and its weight climbs back, step by step.
    for (let i = 0; i < 8; i++) answer(slow, 5);
    now += 10;
    dynamic.step();
    dynamic.step();
    expect(slow.dynamicFactor).toBeCloseTo(0.5, 1);
    for (let i = 0; i < 5; i++) dynamic.step();
    expect(slow.effectiveWeight).toBe(2);
    dynamic.close();
  });
});

describe('dynamic weights through a running balancer', () => {
  it('a server slowed at runtime loses effective weight within seconds, shown in /lb/stats and as an event', async () => {
    const backends = await scope.startServers(2);
    const lb = await scope.startLb(backends, { algorithm: 'weighted', dynamicWeights: true });
    await (await fetch(`${backends[1]!.url}/control?set_delay_ms=60`)).text();
    await waitFor('s2 to lose weight', async () => {
      await Promise.all(Array.from({ length: 4 }, async () => (await fetch(`${lb.url}/`)).text()));
      return lb.stats().servers.find((s) => s.id === 's2')!.effectiveWeight <= 0.6;
    }, 15_000, 50);
    const history = lb.history();
    expect(history.events.some((e) => e.type === 'weight-adjusted' && e.server === 's2')).toBe(true);
    expect(lb.stats().servers.find((s) => s.id === 's1')!.effectiveWeight).toBe(1);
  });
});

describe('a state file that is not what lb wrote', () => {
  const write = async (content: string) => {
    const dir = await tempDir();
    const path = join(dir, 'state.json');
    await writeFile(path, content);
    return path;
  };

  it.each([
    ['not JSON', '{"version": 1,', /state\.json: not valid JSON/],
    ['another version', '{"version": 2}', /state\.json: not an lb state file/],
    ['a list', '[1, 2]', /state\.json: not an lb state file/],
    ['an added server with a port in its host', '{"version": 1, "added": [{"host": "127.0.0.1:3001", "port": 3001}]}', /added\[0\]\.host: must be a host name/],
    ['an unknown algorithm', '{"version": 1, "algorithm": "fastest"}', /state\.json: algorithm: unknown "fastest"/],
    ['an update that is not an object', '{"version": 1, "updated": {"a": 5}}', /state\.json: updated\.a: must be an object/],
  ])('%s: refused at start with one line naming the file', async (_name, content, message) => {
    const path = await write(content);
    await expect(scope.startLb([], { file: [a], stateFile: path })).rejects.toThrow(message);
  });

  it('replays what it can: a risky destination, an unknown server and a __proto__ id are passed over without harm', async () => {
    const path = await write(
      '{"version": 1, "added": [{"host": "169.254.169.254", "port": 80}, {"host": "127.0.0.1", "port": 3005, "name": "e"}],' +
        ' "removed": ["nope"], "updated": {"__proto__": {"weight": 9}, "a": {"weight": 4}}, "algorithm": "p2c"}',
    );
    const lb = await scope.startLb([], { file: [a], stateFile: path });
    expect(servers(lb)).toEqual(['a:w4', 'e:w1']);
    expect(lb.algorithm()).toBe('p2c');
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
  });
});
