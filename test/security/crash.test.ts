/**
 * Regression tests for the crashes: a typo'd server host used to be accepted everywhere and kill the
 * process on the first request routed to it; a bug anywhere on the traffic path must cost one request.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { isLbError } from '../../src/shared/errors.js';
import { runLb } from '../helpers/cli.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';
import { tempDir } from '../helpers/temp.js';

const scope = closedAfterEach();

const metric = async (lb: BalancerHandle, name: string): Promise<number> => {
  const text = await (await fetch(`${lb.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
};

const get = async (lb: BalancerHandle, path = '/'): Promise<{ status: number; server: string | null; body: string }> => {
  const res = await fetch(`${lb.url}${path}`);
  return { status: res.status, server: res.headers.get('x-lb-server'), body: await res.text() };
};

describe('a bug on the traffic path costs one request, never the process', () => {
  it('a server that throws when a request starts: that request gets 502 and a counter, the next one is served', async () => {
    const backends = await scope.startServers(2);
    const lb = await scope.startLb(backends, { algorithm: 'round_robin' });
    lb.pool.servers[0]!.requestStarted = () => {
      throw new Error('injected fault');
    };
    const broken = await get(lb);
    expect(broken.status).toBe(502);
    expect(JSON.parse(broken.body)).toMatchObject({ error: { code: 'LB_PROXY_INTERNAL', message: expect.stringMatching(/internal error in the balancer \(request #\d+\)/) } });
    expect(await get(lb)).toMatchObject({ status: 200, server: 's2' });
    expect(await metric(lb, 'lb_internal_errors_total')).toBe(1);
    // The fault is lb's, not the server's: no failure is held against s1.
    expect(lb.pool.servers[0]!.totalFailures).toBe(0);
  });

  it('an algorithm that throws (a server whose availability check throws): 502 for every request, the admin API still answers', async () => {
    const backends = await scope.startServers(1);
    const lb = await scope.startLb(backends);
    lb.pool.servers[0]!.isAvailable = () => {
      throw new Error('injected fault');
    };
    expect((await Promise.all([get(lb), get(lb), get(lb)])).map((r) => r.status)).toEqual([502, 502, 502]);
    expect(await metric(lb, 'lb_internal_errors_total')).toBe(3);
    expect((await fetch(`${lb.adminUrl}/lb/stats`)).status).toBe(200);
  });

  it('an embedding listener that throws on the request event does not take the balancer down', async () => {
    const backends = await scope.startServers(1);
    const lb = await scope.startLb(backends);
    lb.on('request', () => {
      throw new Error('listener bug');
    });
    // The answer was already complete when the listener ran: the client still gets it.
    expect((await get(lb)).status).toBe(200);
    expect((await get(lb)).status).toBe(200);
    expect(await metric(lb, 'lb_internal_errors_total')).toBe(2);
  });

  it('the embedding API refuses a typo\'d host in pool.add, and the pool is unchanged', async () => {
    const backends = await scope.startServers(1);
    const lb = await scope.startLb(backends);
    for (const host of ['127.0.0.1:3001', 'a\u0000b', '169.254.169.254']) {
      let error: unknown;
      try {
        lb.pool.add({ host, port: 3001 });
      } catch (err) {
        error = err;
      }
      expect(isLbError(error) && error.code).toBe('LB_CONFIG_INVALID');
    }
    expect(() => lb.pool.add({ host: '127.0.0.1', port: 3002, name: 'a\r\nb' })).toThrow('server.name: must be 1-64 letters');
    expect(lb.pool.servers.map((s) => s.id)).toEqual(['s1']);
  });
});

describe('through the CLI', () => {
  it('a servers file with a port inside a host stops lb serve at start with one line and exit 1', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    await writeFile(file, JSON.stringify([{ host: '127.0.0.1:3001', port: 3001 }]));
    const { code, stderr } = await runLb(['serve', '--servers', file, '--port', '0', '--admin-port', '0']);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toEqual([
      `lb: ${file}: servers[0].host: must be a host name (letters, digits, -, _ and .) or an IP address, got "127.0.0.1:3001" (put the port in "port", not in "host")`,
    ]);
  });

  it('a reload (SIGHUP) of a file with a bad host is refused and the running servers keep serving', async () => {
    const dir = await tempDir();
    const file = join(dir, 'servers.json');
    const [backend] = await scope.startServers(1);
    await writeFile(file, JSON.stringify([{ host: '127.0.0.1', port: backend!.port }]));
    const lb = scope.spawnLb(['serve', '--servers', file, '--port', '0', '--admin-port', '0', '--no-health-check']);
    const [, url] = await lb.waitForOutput(/lb serve: (http:\/\/\S+)/);
    await writeFile(file, JSON.stringify([{ host: '127.0.0.1', port: backend!.port }, { host: '169.254.169.254', port: 80 }]));
    lb.child.kill('SIGHUP');
    await waitFor('the reload to be refused', () => /reload \(SIGHUP\) failed, keeping the running config: .*servers\[1\]\.host: 169\.254\.169\.254 is a link-local address/.test(lb.stderr()));
    const res = await fetch(`${url}/`);
    expect(res.status).toBe(200);
    await res.text();
  });
});
