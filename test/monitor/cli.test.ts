import { execFile, execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { LB_BIN, runLb } from '../helpers/cli.js';
import { closedAfterEach, deadAddress, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const exec = promisify(execFile);
let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

describe('lb monitor, scripted and plain', () => {
  it('--once prints the table and exits 0; --json prints the snapshot', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends);
    const table = await runLb(['monitor', '--once', '--url', lb.adminUrl]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^SERVER\s+STATE\s+ACTIVE/m);
    expect(table.stdout).toMatch(/^s1\s+up\s+0/m);
    const json = await runLb(['monitor', '--once', '--json', '--url', lb.adminUrl]);
    expect((JSON.parse(json.stdout) as StatsSnapshot).servers.map((s) => s.id)).toEqual(['s1', 's2']);
  });

  it('--once exits 1 with one line when the balancer is not there', async () => {
    const { port } = await deadAddress();
    const result = await runLb(['monitor', '--once', '--url', `http://127.0.0.1:${port}`]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lb: monitor: cannot reach http://127.0.0.1:${port}/lb/stats: connection refused\n`);
  });

  it('--command add-server and remove-server, as the seed scripts them', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends.slice(0, 1));
    const port = String(backends[1]!.port);
    const added = await runLb(['monitor', '--url', lb.adminUrl, '--command', 'add-server', '--host', '127.0.0.1', '--port', port]);
    expect([added.code, added.stdout]).toEqual([0, `added 127.0.0.1:${port} (weight 1)\n`]);
    expect(lb.pool.size).toBe(2);
    const again = await runLb(['monitor', '--url', lb.adminUrl, '--command', 'add-server', '--host', '127.0.0.1', '--port', port]);
    expect([again.code, again.stderr]).toEqual([1, `lb: add-server: server 127.0.0.1:${port} is already in the pool\n`]);
    const removed = await runLb(['monitor', '--url', lb.adminUrl, '--command', 'remove-server', '--host', '127.0.0.1', '--port', port]);
    expect([removed.code, removed.stdout]).toEqual([0, `removed 127.0.0.1:${port}\n`]);
    const usage = await runLb(['monitor', '--command', 'add-server', '--host', 'x']);
    expect([usage.code, usage.stderr]).toEqual([2, 'lb: --command add-server needs --host and --port (see lb monitor --help)\n']);
  });

  it('prints the text table every interval when stdout is not a terminal, and keeps going while the balancer is away', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb(backends);
    const monitor = scope.spawnLb(['monitor', '--url', lb.adminUrl, '--interval', '0.2']);
    await waitFor('two tables', () => (monitor.stdout().match(/^SERVER/gm) ?? []).length >= 2);
    await lb.close();
    await waitFor('the failure reported', () => monitor.stderr().includes('connection refused'));
    expect(await monitor.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});

const hasTmux = (() => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!hasTmux)(hasTmux ? 'lb monitor in a real terminal (tmux)' : 'lb monitor in a real terminal: SKIPPED, tmux is not installed (apt-get install tmux)', () => {
  const socket = `lb-test-${process.pid}`;
  const tmux = (...args: string[]) => exec('tmux', ['-L', socket, ...args]);
  const screen = async () => (await tmux('capture-pane', '-p', '-t', 'mon')).stdout;
  afterEach(async () => {
    await tmux('kill-server').catch(() => undefined);
  });

  it('80 x 24 is a first-class layout: servers, one chart, events and the whole key help fit, and a dialog stays on top', async () => {
    backends = await scope.startServers(3);
    const lb = await scope.startLb(backends);
    await tmux('new-session', '-d', '-s', 'mon', '-x', '80', '-y', '24', `NCURSES_NO_UTF8_ACS=1 ${process.execPath} ${LB_BIN} monitor --url ${lb.adminUrl} --interval 0.2; echo MONITOR-EXITED; sleep 30`);
    await waitFor('the three servers on screen', async () => {
      const text = await screen();
      return ['s1', 's2', 's3'].every((id) => new RegExp(`${id}\\s+up`).test(text));
    });
    const lines = (await screen()).split('\n');
    const text = lines.join('\n');
    expect(text).toContain('req/s per server');
    expect(text).toContain('Events');
    // The line and bar charts are left out, not squeezed into a few columns.
    expect(text).not.toContain('total req/s');
    expect(text).not.toContain('p99 ms per server');
    expect(lines.find((l) => l.startsWith(' a add'))!.trimEnd().endsWith('q')).toBe(true);
    // The servers box holds its three rows and no more: its bottom border is within the first 8 lines.
    expect(lines.slice(0, 8).some((l) => /^└─+┘$/.test(l.trim()))).toBe(true);
    await tmux('send-keys', '-t', 'mon', 'w');
    await waitFor('the weight prompt', async () => (await screen()).includes('Weight for s1'));
    // Several redraws (one per 0.2 s poll) later the prompt is still on screen.
    const before = lb.stats().uptimeSeconds;
    await waitFor('time for redraws', () => lb.stats().uptimeSeconds >= before + 0.6, 5000, 50);
    expect(await screen()).toContain('Weight for s1');
    await tmux('send-keys', '-t', 'mon', 'Escape');
    // An Escape and a q that arrive together read as Alt-q (one escape sequence): wait for the prompt to go.
    await waitFor('the prompt closed', async () => !(await screen()).includes('Weight for s1'));
    await tmux('send-keys', '-t', 'mon', 'q');
    await waitFor('the monitor to exit', async () => (await screen()).includes('MONITOR-EXITED'));
  });

  it('adds a server with `a`, removes it with `d`, both seen on screen and in the admin API', async () => {
    backends = await scope.startServers(3);
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, JSON.stringify(backends.slice(0, 2).map((b) => ({ host: '127.0.0.1', port: b.port, name: b.name }))));
    const serve = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file]);
    const adminUrl = (await serve.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;
    const stats = async () => (await (await fetch(`${adminUrl}/lb/stats`)).json()) as StatsSnapshot;

    await tmux('new-session', '-d', '-s', 'mon', '-x', '120', '-y', '36', `NCURSES_NO_UTF8_ACS=1 ${process.execPath} ${LB_BIN} monitor --url ${adminUrl} --interval 0.3; echo MONITOR-EXITED; sleep 30`);
    await waitFor('the servers on screen', async () => /s1\s+up/.test(await screen()) && /s2\s+up/.test(await screen()));

    const port = backends[2]!.port;
    await tmux('send-keys', '-t', 'mon', 'a');
    await waitFor('the add prompt', async () => (await screen()).includes('Add server'));
    await tmux('send-keys', '-t', 'mon', `127.0.0.1:${port}`, 'Enter');
    await waitFor('the new server in the admin API', async () => (await stats()).servers.some((s) => s.port === port));
    await waitFor('the new server on screen', async () => new RegExp(`127\\.0\\.0\\.1:${port}\\s+up`).test(await screen()));
    await waitFor('the balancer\'s event in the log', async () => (await screen()).includes(`127.0.0.1:${port}: server-added`));

    await tmux('send-keys', '-t', 'mon', 'Down', 'Down');
    // The weight prompt starts empty: typing 5 sets 5 (it used to append to the old value: 1 -> 15).
    await tmux('send-keys', '-t', 'mon', 'w');
    await waitFor('the weight prompt', async () => (await screen()).includes(`Weight for 127.0.0.1:${port} (now 1`));
    await tmux('send-keys', '-t', 'mon', '5', 'Enter');
    await waitFor('weight 5 in the admin API', async () => (await stats()).servers.find((s) => s.port === port)?.weight === 5);
    await tmux('send-keys', '-t', 'mon', 'd');
    await waitFor('the confirmation', async () => (await screen()).includes(`Remove 127.0.0.1:${port}?`));
    await tmux('send-keys', '-t', 'mon', 'y');
    await waitFor('the server gone from the admin API', async () => !(await stats()).servers.some((s) => s.port === port));
    await waitFor('the removal on screen', async () => (await screen()).includes(`127.0.0.1:${port}: server-removed`));
    expect((await stats()).servers.map((s) => s.id)).toEqual(['s1', 's2']);

    await tmux('send-keys', '-t', 'mon', 'q');
    await waitFor('the monitor to exit', async () => (await screen()).includes('MONITOR-EXITED'));
  });
});
