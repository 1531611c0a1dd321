import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../../src/balancer/balancer.js';
import type { BalancerEventType } from '../../../src/shared/api-types.js';
import { seededRandom } from '../../../src/shared/random.js';
import { type TestServerHandle } from '../../../src/testserver/server.js';
import { closedAfterEach, waitFor } from '../../helpers/servers.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

async function get(path = '/'): Promise<{ status: number; server: string; code: string | null }> {
  const res = await fetch(`${lb!.url}${path}`);
  const body = await res.text();
  const code = res.status >= 500 ? ((JSON.parse(body) as { error?: { code?: string } }).error?.code ?? null) : null;
  return { status: res.status, server: res.headers.get('x-lb-server') ?? '', code };
}

const events = (type: BalancerEventType, server?: string) =>
  lb!.history().events.filter((e) => e.type === type && (server === undefined || e.server === server));

function file(servers: TestServerHandle[], extraConfig: Record<string, unknown> = {}) {
  return { servers: servers.map((s) => ({ host: '127.0.0.1', port: s.port, name: s.name })), ...extraConfig };
}

describe('active health checks', () => {
  it('takes a server out after `fall` failed checks and back after `rise` passed ones', async () => {
    backends = await scope.startServers(2);
    // A long interval: only the first scheduled round runs by itself; the test runs the others.
    lb = await scope.startLb([], { healthCheck: true, file: file(backends, { health_check: { interval: 3600, fall: 3, rise: 2 } }) });
    const s1 = lb.pool.get('s1')!;
    await waitFor('the first round', () => s1.healthCheck.at !== null);
    await fetch(`${backends[0]!.url}/control?healthy=false`);
    const states: string[] = [];
    for (let i = 0; i < 3; i++) {
      await lb.checkHealth();
      states.push(s1.state);
    }
    expect(states).toEqual(['up', 'up', 'down']);
    expect(s1.healthCheck).toMatchObject({ ok: false, detail: 'HTTP 503', consecutiveFailures: 3 });
    expect(new Set(await Promise.all([get(), get(), get(), get()]).then((r) => r.map((x) => x.server)))).toEqual(new Set(['s2']));

    await fetch(`${backends[0]!.url}/control?healthy=true`);
    await lb.checkHealth();
    expect(s1.state).toBe('down');
    await lb.checkHealth();
    expect(s1.state).toBe('up');
    expect(events('server-down', 's1')).toHaveLength(1);
    expect(events('server-up', 's1')[0]!.detail).toBe('2 checks passed (HTTP 200)');
  });

  it('counts a hanging health endpoint as a failed check, at the check timeout', async () => {
    const hanging = createServer(() => undefined); // accepts, never answers
    hanging.listen(0, '127.0.0.1');
    await once(hanging, 'listening');
    scope.track({ close: async () => { hanging.closeAllConnections(); hanging.close(); } });
    backends = await scope.startServers(1);
    const port = (hanging.address() as AddressInfo).port;
    lb = await scope.startLb([], {
      healthCheck: true,
      file: { servers: [{ host: '127.0.0.1', port, name: 'hang' }, { host: '127.0.0.1', port: backends[0]!.port }], health_check: { interval: 3600, timeout: 0.2, fall: 1 } },
    });
    await waitFor('the hanging server to be marked down', () => lb!.pool.get('hang')!.state === 'down');
    expect(lb.pool.get('hang')!.healthCheck.detail).toBe('timeout after 200 ms');
  });
});

describe('passive health (circuit breaker) through the proxy', () => {
  it('a hanging server: 504 within the timeout, then its circuit opens and traffic goes elsewhere', async () => {
    const slow = await scope.startTestServer({ port: 0, name: 'slow', delayMs: 10_000 });
    const fast = await scope.startTestServer({ port: 0, name: 'fast' });
    backends = [slow, fast];
    lb = await scope.startLb([], { timeout: 0.2, file: file([slow, fast], { circuit_breaker: { fail_threshold: 3, open_time: 60 } }) });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await get());
    const toSlow = results.filter((r) => r.server === 'slow');
    expect(toSlow.map((r) => `${r.status} ${r.code}`)).toEqual(Array(3).fill('504 LB_UPSTREAM_TIMEOUT'));
    expect(results.slice(-3).map((r) => `${r.status} ${r.server}`)).toEqual(Array(3).fill('200 fast'));
    expect(lb.pool.get('slow')!.snapshot()).toMatchObject({ state: 'ejected', circuit: 'open' });
  });

  it('half-open: one trial after open_time; success closes the circuit', async () => {
    backends = await scope.startServers(2, { errorRate: 1 });
    await fetch(`${backends[1]!.url}/control?error_rate=0`);
    lb = await scope.startLb([], { file: file(backends, { circuit_breaker: { fail_threshold: 2, open_time: 0.3 } }) });
    for (let i = 0; i < 4; i++) await get();
    const s1 = lb.pool.get('s1')!;
    expect(s1.snapshot().circuit).toBe('open');
    await fetch(`${backends[0]!.url}/control?error_rate=0`);
    await waitFor('open_time to pass', () => s1.snapshot().circuit === 'half_open', 5000);
    const seen: string[] = [];
    for (let i = 0; i < 4; i++) seen.push((await get()).server);
    expect(seen).toContain('s1');
    expect(s1.snapshot().circuit).toBe('closed');
    expect(events('circuit-half-open', 's1')).toHaveLength(1);
    expect(events('circuit-closed', 's1')[0]!.detail).toBe('trial request succeeded');
  });

  it('an error-rate server (--error-rate 0.5) is ejected, and re-admitted once it recovers', async () => {
    const flaky = await scope.startTestServer({ port: 0, name: 'flaky', errorRate: 0.5, random: seededRandom(3) });
    const good = await scope.startTestServer({ port: 0, name: 'good' });
    backends = [flaky, good];
    lb = await scope.startLb([], { file: file(backends, { circuit_breaker: { fail_threshold: 3, open_time: 0.3 } }) });
    await waitFor('the flaky server to be ejected', async () => {
      await get();
      return events('circuit-open', 'flaky').length > 0;
    });
    await fetch(`${flaky.url}/control?error_rate=0`);
    await waitFor('the flaky server to be re-admitted', async () => {
      await get();
      return lb!.pool.get('flaky')!.state === 'up';
    });
    expect(events('circuit-closed', 'flaky')).toHaveLength(1);
    const after: string[] = [];
    for (let i = 0; i < 6; i++) after.push((await get()).server);
    expect(after.filter((s) => s === 'flaky')).toHaveLength(3);
  });
});

describe('failover under load', () => {
  it('a server killed mid-load costs zero failed GETs; it is marked down within (fall + 2) x interval and rejoins within (rise + 2) x interval', async () => {
    backends = await scope.startServers(3, { delayMs: 2 });
    const victim = backends[1]!;
    const interval = 0.1;
    lb = await scope.startLb([], { healthCheck: true, file: file(backends, { health_check: { interval, timeout: 0.2, fall: 3, rise: 2 } }) });
    const limit = pLimit(20);
    let killedAt = 0;
    let killing: Promise<void> | undefined;
    const statuses = await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        limit(async () => {
          if (i === 600) {
            killedAt = Date.now();
            killing = victim.close();
          }
          return (await get()).status;
        }),
      ),
    );
    await killing;
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
    await waitFor('the killed server to be marked down', () => lb!.pool.get(victim.name)!.state === 'down');
    const detectionMs = Date.parse(events('server-down', victim.name)[0]!.time) - killedAt;

    const restarted = await scope.startTestServer({ port: victim.port, name: victim.name });
    backends[1] = restarted;
    const restartedAt = performance.now();
    await waitFor('the restarted server to rejoin', () => lb!.pool.get(victim.name)!.state === 'up');
    const recoveryMs = performance.now() - restartedAt;
    // fall 3 checks 100 ms apart: the third failed one lands 200-300 ms after the kill; two intervals of
    // slack for the scheduler on a loaded machine. Rejoining takes rise 2 passed checks the same way.
    expect(detectionMs).toBeGreaterThanOrEqual(100);
    expect(detectionMs).toBeLessThanOrEqual((3 + 2) * interval * 1000);
    expect(recoveryMs).toBeLessThanOrEqual((2 + 2) * interval * 1000);
    expect(events('server-up', victim.name)[0]!.detail).toMatch(/^2 checks passed/);
    expect(lb.stats().totals.failures).toBe(0);
    expect((await get()).status).toBe(200);
  });

  it('drain under load: no request fails and none starts on the draining server after the PATCH', async () => {
    backends = await scope.startServers(3, { delayMs: 5 });
    lb = await scope.startLb(backends);
    const limit = pLimit(20);
    let drainedAt = Infinity;
    const results = await Promise.all(
      Array.from({ length: 800 }, (_, i) =>
        limit(async () => {
          if (i === 300) {
            const res = await fetch(`${lb!.adminUrl}/api/servers/s1`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ drain: true }) });
            expect(((await res.json()) as { server: { state: string } }).server.state).toMatch(/^drain(ing|ed)$/);
            drainedAt = performance.now();
          }
          const sentAt = performance.now();
          return { ...(await get()), sentAt };
        }),
      ),
    );
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(results.filter((r) => r.sentAt > drainedAt && r.server === 's1')).toEqual([]);
    await waitFor('s1 to be drained', () => lb!.pool.get('s1')!.state === 'drained');
    expect(events('server-draining', 's1')).toHaveLength(1);
  });
});

describe('max_conns', () => {
  async function countingServer(delayMs: number) {
    let active = 0;
    let maxActive = 0;
    const server = createServer((_req, res) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      setTimeout(() => {
        active -= 1;
        res.end('ok');
      }, delayMs);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.track({ close: async () => { server.closeAllConnections(); server.close(); } });
    return { port: (server.address() as AddressInfo).port, maxActive: () => maxActive };
  }

  it('never sends more than max_conns at once; the rest wait in the queue and all succeed', async () => {
    const upstream = await countingServer(30);
    lb = await scope.startLb([], { file: { servers: [{ host: '127.0.0.1', port: upstream.port, max_conns: 2 }], load_balancer: { queue_timeout: 10 } } });
    const statuses = await Promise.all(Array.from({ length: 12 }, () => get().then((r) => r.status)));
    expect(statuses).toEqual(Array(12).fill(200));
    expect(upstream.maxActive()).toBe(2);
    expect(lb.stats().totals.queued).toBeGreaterThanOrEqual(10);
  });

  it('answers 503 to a request that waits longer than queue_timeout, and when the queue is full', async () => {
    const upstream = await countingServer(1000);
    lb = await scope.startLb([], { file: { servers: [{ host: '127.0.0.1', port: upstream.port, max_conns: 1 }], load_balancer: { queue_timeout: 0.1, max_queue: 1 } } });
    const results = await Promise.all([get(), get(), get()]);
    expect(results.map((r) => `${r.status} ${r.code}`).sort()).toEqual(['200 null', '503 LB_QUEUE_FULL', '503 LB_QUEUE_TIMEOUT']);
    expect(lb.stats().totals).toMatchObject({ queueTimeouts: 1, queueLength: 0 });
  });
});

describe('client timeouts', () => {
  it('closes a client that sends its headers too slowly (slowloris) with 408', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb([], { file: { servers: [{ host: '127.0.0.1', port: backends[0]!.port }], load_balancer: { client_header_timeout: 0.3 } } });
    const { connect } = await import('node:net');
    const url = new URL(lb.url);
    const socket = connect(Number(url.port), url.hostname);
    await once(socket, 'connect');
    socket.write('GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    let answer = '';
    socket.setEncoding('utf8').on('data', (c: string) => (answer += c));
    await once(socket, 'close');
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(backends[0]!.requestCount).toBe(0);
  });
});
