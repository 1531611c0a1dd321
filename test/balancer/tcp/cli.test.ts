/**
 * The real CLI: `lb testserver --tcp` processes behind `lb serve --mode tcp`, as a new user runs them,
 * and the one-line refusals of bad tcp-mode input.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runLb } from '../../helpers/cli.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';
import { tempDir } from '../../helpers/temp.js';
import { exchange, nameVia } from './helpers.js';

const scope = closedAfterEach();

describe('lb serve --mode tcp through the CLI', () => {
  it('balances two lb testserver --tcp processes; drain through the admin API moves new connections', async () => {
    const t1 = scope.spawnLb(['testserver', '--tcp', '--port', '0', '--name', 'one']);
    const t2 = scope.spawnLb(['testserver', '--tcp', '--port', '0', '--name', 'two', '--accept-proxy']);
    const p1 = (await t1.waitForOutput(/port (\d+)/))[1]!;
    const p2 = (await t2.waitForOutput(/port (\d+)/))[1]!;
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, JSON.stringify({ servers: [{ host: '127.0.0.1', port: Number(p1), name: 'one' }, { host: '127.0.0.1', port: Number(p2), name: 'two', send_proxy: 'v1' }] }));
    const lb = scope.spawnLb(['serve', '--mode', 'tcp', '--servers', file, '--port', '0', '--admin-port', '0']);
    const [, port, admin] = (await lb.waitForOutput(/lb serve: tcp:\/\/127\.0\.0\.1:(\d+) .*\nadmin API: (http:\S+)\/lb\/stats/))!;
    expect(lb.stdout()).toContain('2 server(s), round_robin');
    expect([await nameVia(Number(port)), await nameVia(Number(port))]).toEqual(['one', 'two']);
    expect((await exchange(Number(port), 'through the CLI')).toString()).toBe('through the CLI');
    const drained = await fetch(`${admin}/api/servers/one`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drain: true }) });
    expect(drained.status).toBe(200);
    expect([await nameVia(Number(port)), await nameVia(Number(port))]).toEqual(['two', 'two']);
    type Stats = { mode: string; totals: { requests: number } };
    const stats = await waitFor('5 connections recorded', async () => {
      const s = (await (await fetch(`${admin}/lb/stats`)).json()) as Stats;
      return s.totals.requests >= 5 ? s : null;
    });
    expect(stats.mode).toBe('tcp');
    expect(stats.totals.requests).toBe(5);
    expect(await lb.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  }, 30_000);

  it.each([
    ['an unknown mode', ['serve', '--mode', 'udp'], /--mode: must be one of http, tcp, got "udp"/],
    ['an unknown health check type', ['serve', '--mode', 'tcp', '--health-type', 'icmp'], /--health-type: must be one of tcp, http, got "icmp"/],
    ['a zero max_connections', ['serve', '--mode', 'tcp', '--max-connections', '0'], /--max-connections: must be an integer 1-1000000/],
  ])('refuses %s in one line, exit 2 (a usage error)', async (_name, args, message) => {
    const result = await runLb([...args, '--port', '0', '--admin-port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('refuses a bad send_proxy in the servers file, naming the entry', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, JSON.stringify({ load_balancer: { mode: 'tcp' }, servers: [{ host: '127.0.0.1', port: 1, send_proxy: 'v3' }] }));
    const result = await runLb(['serve', '--servers', file, '--port', '0', '--admin-port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/servers\[0\]\.send_proxy: must be "v1" or "v2"/);
  });

  it('refuses --workers above 1 and --store with --mode tcp, in one line, exit 1', async () => {
    const result = await runLb(['serve', '--mode', 'tcp', '--workers', '2', '--port', '0', '--admin-port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('workers: tcp mode runs in one process, got 2 workers');
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const store = await runLb(['serve', '--mode', 'tcp', '--store', 'redis://127.0.0.1:1', '--port', '0', '--admin-port', '0']);
    expect(store.code).toBe(1);
    expect(store.stderr).toContain('store: tcp mode does not share state through a store yet');
  });

  it('lb testserver --accept-proxy without --tcp is a usage error (exit 2)', async () => {
    const result = await runLb(['testserver', '--accept-proxy', '--port', '0']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--accept-proxy needs --tcp');
  });
});
