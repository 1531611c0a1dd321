/**
 * `lb serve --workers 2` as a real process tree (a primary and two node:cluster workers) in front of real
 * test servers. Requests go over a new connection each (agent: false), so the primary hands each to the
 * next worker and both serve.
 */
import { request } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { HistoryResponse, StatsSnapshot } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { runLb, type LbProcess } from '../helpers/cli.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const scope = closedAfterEach();

interface Answer {
  status: number;
  server: string | null;
  setCookie: string | null;
}

/**
 * One GET on a connection of its own; status 0 when the connection failed or was silent for 5 s (a
 * connection node:cluster's primary handed to a worker at the instant it was killed is never answered).
 */
function get(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers, timeout: 5000 }, (res) => {
      res.resume();
      // 'close' without a complete body: the connection was cut mid-answer.
      res.on('close', () =>
        resolve(res.complete ? { status: res.statusCode ?? 0, server: (res.headers['x-lb-server'] as string | undefined) ?? null, setCookie: res.headers['set-cookie']?.[0] ?? null } : { status: 0, server: null, setCookie: null }),
      );
    });
    req.on('error', () => resolve({ status: 0, server: null, setCookie: null }));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function getMany(url: string, count: number, concurrency = 8, headers: Record<string, string> = {}): Promise<Answer[]> {
  const limit = pLimit(concurrency);
  return Promise.all(Array.from({ length: count }, () => limit(() => get(url, headers))));
}

async function admin<T>(adminUrl: string, path: string, method = 'GET', body?: unknown): Promise<T> {
  const res = await fetch(`${adminUrl}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface Started {
  proc: LbProcess;
  url: string;
  adminUrl: string;
  file: string;
}

async function startWorkers(backends: TestServerHandle[], extra: Record<string, unknown> = {}, args: string[] = []): Promise<Started> {
  const file = join(await tempDir(), 'servers.json');
  await writeFile(file, JSON.stringify({ servers: backends.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name })), ...extra }));
  const proc = scope.spawnLb(['serve', '--workers', '2', '--port', '0', '--host', '127.0.0.1', '--admin-port', '0', '--servers', file, '--health-check', 'false', ...args]);
  const [, url] = await proc.waitForOutput(/lb serve: (http:\/\/127\.0\.0\.1:\d+)/);
  const [, adminUrl] = await proc.waitForOutput(/admin API: (http:\/\/127\.0\.0\.1:\d+)/);
  return { proc, url: url!, adminUrl: adminUrl!, file };
}

const stats = (adminUrl: string): Promise<StatsSnapshot> => admin<StatsSnapshot>(adminUrl, '/lb/stats');

describe('lb serve --workers 2', () => {
  it('prints one traffic URL; both workers serve it, and /lb/stats sums them and lists each', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends);
    expect(lb.proc.stdout().match(/lb serve:/g)).toHaveLength(1);
    expect(lb.proc.stdout()).toContain('2 workers');
    const answers = await getMany(lb.url, 60);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(60);
    const snapshot = await stats(lb.adminUrl);
    expect(snapshot.workers).toHaveLength(2);
    const pids = new Set(snapshot.workers!.map((w) => w.pid));
    expect(pids.size).toBe(2);
    expect(pids.has(lb.proc.child.pid!)).toBe(false);
    expect(snapshot.totals.requests).toBe(60);
    expect(snapshot.servers.reduce((sum, s) => sum + s.totalRequests, 0)).toBe(60);
    // Workers report on their own once a second too; the figures asked for here are already whole.
    for (const w of snapshot.workers!) expect(w.requests).toBeGreaterThan(0);
    expect(snapshot.workers!.reduce((sum, w) => sum + w.requests, 0)).toBe(60);
    const history = await admin<HistoryResponse>(lb.adminUrl, '/lb/history');
    expect(history.requests).toHaveLength(60);
  });

  it('add, remove and drain through the admin API apply in every worker: 100 requests after each change see it', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends.slice(0, 2));
    await admin(lb.adminUrl, '/api/servers', 'POST', { host: '127.0.0.1', port: backends[2]!.port, name: 's3' });
    let answers = await getMany(lb.url, 100);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(answers.filter((a) => a.server === 's3').length).toBeGreaterThan(20);
    await admin(lb.adminUrl, '/api/servers/s1', 'PATCH', { drain: true });
    await admin(lb.adminUrl, '/lb/remove-server', 'POST', { host: '127.0.0.1', port: backends[1]!.port });
    answers = await getMany(lb.url, 100);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    expect(new Set(answers.map((a) => a.server))).toEqual(new Set(['s3']));
    const snapshot = await stats(lb.adminUrl);
    expect(snapshot.workers!.every((w) => w.requests > 0)).toBe(true);
    expect(snapshot.servers.map((s) => [s.id, s.state])).toEqual([
      ['s1', 'drained'],
      ['s3', 'up'],
    ]);
  });

  it('a killed worker is restarted with the current state; GETs through the kill fail only if they were on it', async () => {
    const backends = await scope.startServers(2);
    const lb = await startWorkers(backends);
    await admin(lb.adminUrl, '/api/servers/s1', 'PATCH', { weight: 3 });
    await admin(lb.adminUrl, '/lb/algorithm', 'POST', { algorithm: 'weighted' });
    const before = await stats(lb.adminUrl);
    const victim = before.workers![0]!;
    const limit = pLimit(8);
    let done = 0;
    let killed = false;
    const answers = await Promise.all(
      Array.from({ length: 1000 }, () =>
        limit(async () => {
          if (done === 250 && !killed) {
            killed = true;
            process.kill(victim.pid, 'SIGKILL');
          }
          const answer = await get(lb.url);
          done += 1;
          return answer;
        }),
      ),
    );
    const failed = answers.filter((a) => a.status !== 200).length;
    // Only requests in flight on the killed worker can fail, and at most 8 are in flight at any time.
    console.log(`worker kill: ${failed} of 1000 GETs failed (in flight on the killed worker)`);
    expect(failed).toBeLessThanOrEqual(8);
    const after = await waitFor('the worker restarted', async () => {
      const s = await stats(lb.adminUrl);
      const w = s.workers!.find((x) => x.id === victim.id)!;
      return w.restarts === 1 && w.state === 'up' && w.pid !== victim.pid ? s : null;
    });
    expect(after.workers!.find((w) => w.id === victim.id)!.pid).not.toBe(victim.pid);
    // The new worker took the runtime changes (weight 3, weighted): 3 of 4 requests to s1 in each worker
    // (each runs its own smooth weighted round robin), where the file alone would give half.
    const next = await getMany(lb.url, 80);
    expect(next.every((a) => a.status === 200)).toBe(true);
    expect(next.filter((a) => a.server === 's1').length).toBeGreaterThanOrEqual(56);
    expect(lb.proc.stderr()).toMatch(/worker 1 \(pid \d+\) exited \(SIGKILL\): restarting/);
  }, 120_000);

  it('a server killed mid-load costs 0 failed GETs', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends);
    const limit = pLimit(8);
    let done = 0;
    const answers = await Promise.all(
      Array.from({ length: 1500 }, () =>
        limit(async () => {
          if (done === 400) void backends[1]!.close();
          const answer = await get(lb.url);
          done += 1;
          return answer;
        }),
      ),
    );
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(answers.slice(-300).filter((a) => a.server === 's2')).toHaveLength(0);
  });

  it('a circuit opened in one worker is open in every worker: no request after the event reaches the failing server', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends, { circuit_breaker: { fail_threshold: 3, open_time: 60 } });
    await fetch(`${backends[1]!.url}/control?error_rate=1`);
    await waitFor('circuit-open for s2', async () => {
      await getMany(lb.url, 4, 1);
      const history = await admin<HistoryResponse>(lb.adminUrl, '/lb/history');
      return history.events.some((e) => e.type === 'circuit-open' && e.server === 's2');
    });
    // Without the relay the other worker would send s2 up to fail_threshold more requests (500s).
    const answers = await getMany(lb.url, 60, 4);
    expect(answers.filter((a) => a.server === 's2')).toEqual([]);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const snapshot = await stats(lb.adminUrl);
    expect(snapshot.servers.find((s) => s.id === 's2')).toMatchObject({ state: 'ejected', circuit: 'open' });
    const history = await admin<HistoryResponse>(lb.adminUrl, '/lb/history');
    expect(history.events.filter((e) => e.type === 'circuit-open')).toHaveLength(1);
  });

  it('sticky cookies set by one worker are honoured by the other', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends, {}, ['--sticky', 'cookie']);
    const first = await get(lb.url);
    expect(first.setCookie).not.toBeNull();
    const cookie = first.setCookie!.split(';')[0]!;
    const answers = await getMany(lb.url, 40, 4, { cookie });
    expect(new Set(answers.map((a) => a.server))).toEqual(new Set([first.server]));
    const snapshot = await stats(lb.adminUrl);
    expect(snapshot.workers!.every((w) => w.requests > 0)).toBe(true);
  });

  it('/metrics sums every worker: lb_requests_total equals what the client sent', async () => {
    const backends = await scope.startServers(2);
    const lb = await startWorkers(backends);
    const answers = await getMany(lb.url, 150);
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const text = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    const requests = [...text.matchAll(/^lb_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    expect(requests).toBe(150);
    // States every process holds alike are not multiplied by the number of processes.
    expect(text).toMatch(/^lb_server_up\{server="s1"\} 1$/m);
    expect(text).toMatch(/^lb_servers 2$/m);
  });

  it('SIGHUP reloads the file in every worker', async () => {
    const backends = await scope.startServers(3);
    const lb = await startWorkers(backends);
    await writeFile(lb.file, JSON.stringify({ servers: [{ host: '127.0.0.1', port: backends[2]!.port, name: 's3' }] }));
    lb.proc.child.kill('SIGHUP');
    await waitFor('the reload', () => /reloaded \(SIGHUP\)/.test(lb.proc.stderr()));
    const answers = await getMany(lb.url, 100);
    expect(new Set(answers.map((a) => a.server))).toEqual(new Set(['s3']));
    const snapshot = await stats(lb.adminUrl);
    expect(snapshot.workers!.every((w) => w.requests > 0)).toBe(true);
  });

  it('SIGTERM lets in-flight requests finish in every worker, then the whole tree exits 0', async () => {
    const [slow] = await scope.startServers(1, { delayMs: 400 });
    const lb = await startWorkers([slow!]);
    const inFlight = getMany(lb.url, 6, 6);
    await waitFor('requests in flight', async () => (await stats(lb.adminUrl)).totals.activeRequests === 6);
    lb.proc.child.kill('SIGTERM');
    const answers = await inFlight;
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(await lb.proc.exited).toEqual({ code: 0, signal: null });
  });
});

describe('--workers: bad values', () => {
  it.each([
    ['0', /--workers: must be an integer 1-64 or auto \(one per core\), got "0"/],
    ['65', /must be an integer 1-64 or auto/],
    ['two', /must be an integer 1-64 or auto/],
    ['1.5', /must be an integer 1-64 or auto/],
  ])('--workers %s is one line, exit 2', async (value, message) => {
    const { code, stderr } = await runLb(['serve', '--workers', value, '--port', '0', '--admin-port', '0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a traffic port in use is one line, exit 1 (the primary exits: it stopped its workers)', async () => {
    const [taken] = await scope.startServers(1);
    const { code, stderr } = await runLb(['serve', '--workers', '2', '--port', String(taken!.port), '--host', '127.0.0.1', '--admin-port', '0']);
    expect(code).toBe(1);
    expect(stderr).toMatch(/cannot listen for traffic on 127\.0\.0\.1:\d+: address already in use/);
  });
});
