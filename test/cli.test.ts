import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { LB_BIN, runLb } from './helpers/cli.js';
import { closedAfterEach, waitFor } from './helpers/servers.js';
import { tempDir } from './helpers/temp.js';

const exec = promisify(execFile);

const scope = closedAfterEach();

async function curl(...args: string[]): Promise<string> {
  const { stdout } = await exec('curl', ['-sS', '--max-time', '10', ...args]);
  return stdout;
}

async function tempFile(name: string, content: string): Promise<string> {
  const dir = await tempDir();
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

describe('lb through its bin', () => {
  it('testserver and serve work end to end with curl', async () => {
    const a = scope.spawnLb(['testserver', '--port', '0', '--name', 'alpha']);
    const b = scope.spawnLb(['testserver', '--port', '0', '--name', 'beta', '--delay', '0.05']);
    const portA = Number((await a.waitForOutput(/\(port (\d+)\)/))[1]);
    const portB = Number((await b.waitForOutput(/\(port (\d+)\)/))[1]);
    const servers = await tempFile('servers.json', JSON.stringify([{ host: '127.0.0.1', port: portA }, { host: '127.0.0.1', port: portB }]));
    const lb = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', servers]);
    const url = (await lb.waitForOutput(/lb serve: (http:\/\/\S+)/))[1]!;
    const adminUrl = (await lb.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;

    const first = await curl('-i', `${url}/hello?x=1`);
    expect(first).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(first).toMatch(new RegExp(`x-lb-server: 127\\.0\\.0\\.1:${portA}`, 'i'));
    expect(first).toContain('"server":"alpha"');
    expect(first).toContain('"path":"/hello"');
    const second = JSON.parse(await curl(`${url}/`)) as { server: string };
    expect(second.server).toBe('beta');

    const added = JSON.parse(await curl('-X', 'POST', `${adminUrl}/lb/add-server`, '-H', 'content-type: application/json', '-d', '{"host":"127.0.0.1","port":1}')) as { server: { id: string } };
    expect(added.server.id).toBe('127.0.0.1:1');
    const stats = JSON.parse(await curl(`${adminUrl}/lb/stats`)) as { totals: { requests: number }; servers: unknown[] };
    expect(stats.totals.requests).toBe(2);
    expect(stats.servers).toHaveLength(3);
    const bad = await curl('-i', '-X', 'POST', `${adminUrl}/lb/algorithm`, '-H', 'content-type: application/json', '-d', '{"algorithm":"nope"}');
    expect(bad).toMatch(/^HTTP\/1\.1 400/);

    expect(await lb.stop('SIGTERM')).toEqual({ code: 0, signal: null });
  });

  it('run as an executable (as npx and the lb command run it), serve starts node with the flags of its #! line', async () => {
    // process-tuning.ts: V8 must size the old generation before lb's modules load, which only the
    // command line does every time; without the flag tcp mode ran at half the bare proxy's rate.
    const servers = await tempFile('servers.json', '[]');
    const child = spawn(LB_BIN, ['serve', '--port', '0', '--admin-port', '0', '--servers', servers], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = once(child, 'exit');
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    try {
      await waitFor('lb serve to start', () => out.includes('lb serve: '), 15_000);
      const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0');
      const flags = argv.slice(argv.indexOf('--initial-old-space-size=64'), argv.indexOf(LB_BIN));
      expect(flags).toEqual(['--initial-old-space-size=64', '--interrupt-budget=16384']);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('finishes an in-flight request on SIGTERM, then exits 0', async () => {
    const backend = scope.spawnLb(['testserver', '--port', '0', '--delay', '0.5']);
    const port = Number((await backend.waitForOutput(/\(port (\d+)\)/))[1]);
    const servers = await tempFile('servers.json', JSON.stringify([{ host: '127.0.0.1', port }]));
    const lb = scope.spawnLb(['serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', servers]);
    const url = (await lb.waitForOutput(/lb serve: (http:\/\/\S+)/))[1]!;
    const slow = curl('-s', '-o', '/dev/null', '-w', '%{http_code}', `${url}/slow`);
    const adminUrl = (await lb.waitForOutput(/admin API: (http:\/\/\S+)\/lb\/stats/))[1]!;
    await waitFor('the slow request to be in flight', async () => {
      const stats = JSON.parse(await curl(`${adminUrl}/lb/stats`)) as { totals: { activeRequests: number } };
      return stats.totals.activeRequests === 1;
    });
    lb.child.kill('SIGTERM');
    expect(await slow).toBe('200');
    expect(await lb.exited).toEqual({ code: 0, signal: null });
  });

  it('demo starts three servers and the balancer, and stops on Ctrl-C', async () => {
    const demo = scope.spawnLb(['demo', '--port', '0', '--admin-port', '0', '--server-port', '0']);
    const url = (await demo.waitForOutput(/balancer\s+(http:\/\/\S+)/))[1]!;
    const seen = new Set<string>();
    for (let i = 0; i < 3; i++) seen.add((JSON.parse(await curl(`${url}/`)) as { server: string }).server);
    expect(seen).toEqual(new Set(['Server-1', 'Server-2', 'Server-3']));
    expect(await demo.stop('SIGINT')).toEqual({ code: 0, signal: null });
  });
});

describe('bad input: one line, the right exit code, no stack trace', () => {
  const cases: Array<[string, string[], number, RegExp, Record<string, string>?]> = [
    ['unknown option', ['serve', '--colour', 'red'], 2, /^lb: Unknown argument: colour \(see lb serve --help\)\n$/],
    ['mistyped option', ['serve', '--algoritm', 'p2c'], 2, /^lb: Unknown argument: algoritm \(did you mean --algorithm\?\) \(see lb serve --help\)\n$/],
    ['mistyped kebab-case option, named once', ['serve', '--helth-interval', '2s'], 2, /^lb: Unknown argument: helth-interval \(did you mean --health-interval\?\) \(see lb serve --help\)\n$/],
    ['mistyped option of another command', ['monitor', '--intervall', '1'], 2, /^lb: Unknown argument: intervall \(did you mean --interval\?\) \(see lb monitor --help\)\n$/],
    ['bad port', ['serve', '--port', 'eighty'], 2, /^lb: --port: must be an integer 0-65535, got "eighty" \(see lb serve --help\)\n$/],
    ['bad algorithm', ['serve', '--algorithm', 'fastest'], 2, /^lb: --algorithm: must be one of round_robin, least_connections, weighted, least_response_time, consistent_hash, p2c, random, got "fastest" \(see lb serve --help\)\n$/],
    ['bad duration', ['serve', '--timeout', '2 weeks'], 2, /^lb: --timeout: must be a duration 1ms-1h \(like 2s, 500ms, 1m, or seconds\), got "2 weeks" \(see lb serve --help\)\n$/],
    ['bad environment value', ['serve'], 1, /^lb: LB_HEALTH_INTERVAL: must be a duration 100ms-1h/, { LB_HEALTH_INTERVAL: 'often' }],
    ['no command', [], 2, /^lb: name a command/],
    ['unknown command', ['serv'], 2, /^lb: unknown command "serv". Did you mean serve\? \(see lb --help\)\n$/],
    ['bad error rate', ['testserver', '--error-rate', '2'], 2, /^lb: --error-rate must be a number 0-1, got "2"/],
    ['missing servers file', ['serve', '--servers', '/nonexistent/servers.json'], 1, /^lb: \/nonexistent\/servers\.json: file not found\n$/],
  ];

  it.each(cases)('%s', async (_name, args, code, message, env = {}) => {
    const result = await runLb(args, env);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('names the bad field of a bad servers file and exits 1', async () => {
    const file = await tempFile('servers.json', JSON.stringify([{ host: 'a', port: 1 }, { host: 'b', port: 2 }, { host: 'c', port: 99999 }]));
    const result = await runLb(['serve', '--servers', file, '--port', '0', '--admin-port', '0']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lb: ${file}: servers[2].port: must be an integer 1-65535, got 99999\n`);
  });

  it('says which address is taken and exits 1', async () => {
    const first = scope.spawnLb(['testserver', '--port', '0']);
    const port = (await first.waitForOutput(/\(port (\d+)\)/))[1]!;
    const result = await runLb(['testserver', '--port', port]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`lb: cannot listen on 127.0.0.1:${port}: address already in use\n`);
  });

  it('prints every option of serve with its default in --help', async () => {
    const result = await runLb(['serve', '--help']);
    expect(result.code).toBe(0);
    for (const option of ['--port', '--host', '--admin-port', '--admin-host', '--servers', '--algorithm', '--timeout', '--retries']) {
      expect(result.stdout).toContain(option);
    }
    expect(result.stdout).toMatch(/--port\s+traffic port .*\(env LB_PORT\) \[default:\s+8080\]/s);
    // Every setting has a flag and an LB_ variable, durations show as durations.
    expect(result.stdout).toMatch(/--breaker-open-time\s+.*\(env\s+LB_BREAKER_OPEN_TIME\) \[default: 5s\]/s);
  });
});

describe('a reader that stops reading', () => {
  it.each([
    ['lb monitor --interval 0.2 | head -3', ['--interval', '0.2'], 3],
    ['lb monitor --json | head -c 400', ['--json', '--interval', '0.2'], 1],
  ])('%s: lb ends quietly with exit 0 when its stdout closes', async (_name, flags, lines) => {
    const backends = await scope.startServers(1);
    const lb = await scope.startLb(backends);
    const monitor = scope.spawnLb(['monitor', '--url', lb.adminUrl, ...flags]);
    await waitFor(`${lines} line(s) of output`, () => monitor.stdout().split('\n').length > lines);
    // What `head` does once it has enough: close its end of the pipe. The next write gets EPIPE.
    monitor.child.stdout!.destroy();
    const { code, signal } = await monitor.exited;
    expect([code, signal]).toEqual([0, null]);
    expect(monitor.stderr()).not.toMatch(/EPIPE|Error|\n\s+at /);
  });
});

describe('lb monitor --command: every dashboard action, scripted', () => {
  it('drain, undrain, weight, algorithm and reset print the answer and exit 0; a refusal exits 1, a missing argument 2', async () => {
    const backends = await scope.startServers(2);
    const lb = await scope.startLb(backends);
    const run = (...args: string[]) => runLb(['monitor', '--url', lb.adminUrl, '--command', ...args]);
    expect(await run('drain', '--server', 's1')).toMatchObject({ code: 0, stdout: 's1: drained, weight 1\n' });
    expect(lb.pool.get('s1')!.draining).toBe(true);
    expect(await run('undrain', '--server', 's1')).toMatchObject({ code: 0, stdout: 's1: up, weight 1\n' });
    expect(await run('weight', '--host', '127.0.0.1', '--port', String(backends[1]!.port), '--weight', '7')).toMatchObject({ code: 0, stdout: 's2: up, weight 7\n' });
    expect(await run('algorithm', '--algorithm', 'p2c')).toMatchObject({ code: 0, stdout: 'algorithm round_robin -> p2c\n' });
    await (await fetch(`${lb.url}/`)).text();
    expect(await run('reset')).toMatchObject({ code: 0, stdout: 'counters reset\n' });
    expect(lb.stats().totals.requests).toBe(0);
    expect(await run('drain', '--server', 'nope')).toMatchObject({ code: 1, stderr: 'lb: drain: no server nope in the pool\n' });
    expect(await run('weight', '--server', 's1')).toMatchObject({ code: 2, stderr: 'lb: --command weight needs --weight N (see lb monitor --help)\n' });
    expect(await run('algorithm')).toMatchObject({ code: 2, stderr: 'lb: --command algorithm needs --algorithm NAME (see lb monitor --help)\n' });
  });
});
