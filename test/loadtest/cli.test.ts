import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import type { Summary } from '../../src/loadtest/report.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { runLb } from '../helpers/cli.js';
import { closedAfterEach, deadAddress, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

let backends: TestServerHandle[] = [];
let lb: BalancerHandle | undefined;

const scope = closedAfterEach();

describe('lb loadtest through its bin', () => {
  it('prints the summary with the spread over servers; --json carries the same figures', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends, { file: backends.map((b, i) => ({ host: '127.0.0.1', port: b.port, name: b.name, weight: i + 1 })), algorithm: 'weighted' });
    const text = await runLb(['loadtest', '--url', lb.url, '--requests', '60', '--concurrent', '6', '--admin-url', lb.adminUrl]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('Requests    60 sent, 60 succeeded, 0 failed (error rate 0.0%)');
    expect(text.stdout).toMatch(/^ {2}s1 +10 +16\.7% +16\.7%/m);
    expect(text.stdout).toMatch(/^ {2}s3 +30 +50\.0% +50\.0%/m);
    expect(text.stdout).toContain("fairness (against the configured weights): max/min 1.00, Jain's index 1.0000");

    lb.admin.reset();
    const json = await runLb(['loadtest', '--url', lb.url, '--requests', '60', '--concurrent', '6', '--admin-url', lb.adminUrl, '--json']);
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.requests).toEqual({ issued: 60, completed: 60, succeeded: 60, failed: 0, cancelled: 0 });
    expect(summary.servers.map((s) => [s.id, s.requests, s.expectedShare])).toEqual([
      ['s1', 10, 1 / 6],
      ['s2', 20, 2 / 6],
      ['s3', 30, 3 / 6],
    ]);
    expect(summary.fairness).toEqual({ maxMinRatio: 1, jainIndex: 1, againstWeights: true });
    expect(json.stderr).toBe('');
  });

  it('--fail-on sets exit code 3 when a threshold is crossed, 0 when not', async () => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 30 })];
    const crossed = await runLb(['loadtest', '--url', backends[0]!.url, '--requests', '10', '--fail-on', 'p50>1ms', '--fail-on', 'error-rate>1%']);
    expect(crossed.code).toBe(3);
    expect(crossed.stderr).toBe('lb: thresholds crossed: p50>1ms\n');
    expect(crossed.stdout).toMatch(/FAILED {2}p50>1ms/);
    expect(crossed.stdout).toMatch(/ok {6}error-rate>1%/);
    const fine = await runLb(['loadtest', '--url', backends[0]!.url, '--requests', '10', '--fail-on', 'p99>10s', '--fail-on', 'rps<1']);
    expect(fine.code).toBe(0);
  });

  it('Ctrl-C prints the summary so far and exits 130', async () => {
    backends = [await scope.startTestServer({ port: 0, delayMs: 5 })];
    const run = scope.spawnLb(['loadtest', '--url', backends[0]!.url, '--duration', '60s', '--concurrent', '4']);
    await waitFor('requests to flow', () => backends[0]!.requestCount > 50);
    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(run.stdout()).toContain('(interrupted: the summary so far)');
    expect(run.stderr()).toMatch(/^lb: interrupted after \d+ requests; the summary above covers them\n$/);
  });

  it.each([
    ['refused', async () => ['--url', `http://127.0.0.1:${(await deadAddress()).port}/`, '--requests', '3'], 1, /^lb: cannot connect to http:\/\/127\.0\.0\.1:\d+: connect refused \(3 of 3 requests\)\n$/],
    ['unknown host', async () => ['--url', 'http://no-such-host.invalid/'], 1, /^lb: cannot resolve no-such-host\.invalid/],
    ['bad url', async () => ['--url', 'localhost:8080'], 2, /^lb: --url must be an http:\/\/ or https:\/\/ URL/],
    ['both count and duration', async () => ['--requests', '5', '--duration', '5s'], 2, /^lb: give --requests or --duration, not both/],
    ['bad duration', async () => ['--duration', 'soon'], 2, /^lb: --duration must be a duration like 30s/],
    ['bad threshold', async () => ['--fail-on', 'p98>1ms'], 2, /^lb: --fail-on "p98>1ms": expected METRIC OP VALUE/],
    ['bad header', async () => ['--header', 'nocolon'], 2, /^lb: --header must be name:value, got "nocolon"/],
  ])('bad input (%s): one line and the documented exit code', async (_name, args, code, message) => {
    const result = await runLb(['loadtest', ...(await args())]);
    expect(result.code).toBe(code);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('lb loadtest as oha, hey and autocannon users type it', () => {
  it('-n and -c mean --requests and --concurrent, and --json records every option that shaped the run', async () => {
    backends = await scope.startServers(1);
    const json = await runLb(['loadtest', '--url', backends[0]!.url, '-n', '12', '-c', '3', '--header', 'x-api-key: secret', '--json']);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.requests.issued).toBe(12);
    expect(summary.options).toMatchObject({ requests: 12, concurrency: 3, method: 'GET', insecure: false, headers: ['x-api-key'], timeoutMs: 10_000 });
    // Header values can be secrets: only names are recorded.
    expect(json.stdout).not.toContain('secret');
  });

  it('-z and -q mean --duration and --rate', async () => {
    backends = await scope.startServers(1);
    const json = await runLb(['loadtest', '--url', backends[0]!.url, '-z', '500ms', '-q', '40', '--json']);
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.options).toMatchObject({ durationMs: 500, rateRps: 40, requests: null });
    expect(summary.requests.issued).toBeGreaterThanOrEqual(15);
    expect(summary.requests.issued).toBeLessThanOrEqual(25);
  });

  it('says in one line, exit 1, when every request failed on a self-signed certificate; --insecure gets through', async () => {
    const dir = await tempDir();
    const certFile = join(dir, 'cert.pem');
    const keyFile = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost'], { stdio: 'ignore' });
    const server = createHttpsServer({ cert: readFileSync(certFile), key: readFileSync(keyFile) }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    scope.track({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    const refused = await runLb(['loadtest', '--url', url, '-n', '5']);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^lb: every request to https:\/\/127\.0\.0\.1:\d+ failed: tls \(a self-signed certificate\? add --insecure\) \(5 of 5 requests\)\n$/);
    const insecure = await runLb(['loadtest', '--url', url, '-n', '5', '--insecure']);
    expect(insecure.code).toBe(0);
    expect(insecure.stdout).toContain('Requests    5 sent, 5 succeeded, 0 failed');
  });
});

describe('lb loadtest --path', () => {
  it('breaks the results down per path when --path spreads requests', async () => {
    backends = await scope.startServers(1);
    const text = await runLb(['loadtest', '--url', backends[0]!.url, '-n', '20', '-c', '2', '--path', '/fast,/slow?delay=40']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^By path$/m);
    expect(text.stdout).toMatch(/^ {2}\/fast +10 +0 /m);
    const slow = /^ {2}\/slow\?delay=40 +10 +0 +\S+ ms +(\S+) ms/m.exec(text.stdout);
    expect(Number(slow?.[1])).toBeGreaterThanOrEqual(40);
    const json = JSON.parse((await runLb(['loadtest', '--url', backends[0]!.url, '-n', '20', '-c', '2', '--path', '/fast,/slow?delay=40', '--json'])).stdout) as Summary;
    expect(json.paths!.map((p) => [p.path, p.requests, p.failures])).toEqual([
      ['/fast', 10, 0],
      ['/slow?delay=40', 10, 0],
    ]);
    expect(json.paths![1]!.p50Ms).toBeGreaterThanOrEqual(40);
  });
});
