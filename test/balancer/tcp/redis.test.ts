/**
 * Real clients no one here wrote, against a real service: two redis-server processes behind
 * lb --mode tcp, driven by redis-cli and by ioredis. Killing one Redis moves new connections to the
 * other with no failed connect seen by a client (lb retries the connect before a byte is read).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, deadAddress, waitFor } from '../../helpers/servers.js';
import { startTcpLb } from './helpers.js';

const scope = closedAfterEach();
const run = promisify(execFile);

async function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.on('data', (c) => {
      text += c.toString();
      if (text.includes('\r\n')) {
        socket.destroy();
        resolve(text.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
    socket.write('PING\r\n');
  });
}

async function startRedis(): Promise<{ port: number; process: ChildProcess }> {
  const { port } = await deadAddress();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  scope.track({
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    },
  });
  await waitFor(`redis-server on ${port}`, () => ping(port));
  return { port, process: child };
}

async function redisCli(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args]);
  return stdout.trim();
}

describe('two redis-server instances behind lb --mode tcp', () => {
  it('redis-cli set/get and ioredis work through lb; killing one Redis moves new connections with 0 failed connects', async () => {
    const r1 = await startRedis();
    const r2 = await startRedis();
    // Health checks on (TCP connect, fast), as a user would run it; the retry covers the gap before the checks notice.
    const lb = await startTcpLb(scope, [{ port: r1.port, name: 'r1' }, { port: r2.port, name: 'r2' }], { healthCheck: true, healthInterval: '200ms', healthFall: 1 });

    // Round robin: the SET goes to one Redis, the GET on the next connection to the other, so write and
    // read on one connection (redis-cli runs one per call), and learn which Redis answered from its port.
    expect(await redisCli(lb.port, 'set', 'greeting', 'hello')).toBe('OK');
    expect(await redisCli(lb.port, 'set', 'greeting', 'hello')).toBe('OK');
    expect(await redisCli(r1.port, 'get', 'greeting')).toBe('hello');
    expect(await redisCli(r2.port, 'get', 'greeting')).toBe('hello');
    const ports = new Set<string>();
    for (let i = 0; i < 4; i++) ports.add(await redisCli(lb.port, 'config', 'get', 'port'));
    expect([...ports].map((p) => p.split('\n')[1]).sort()).toEqual([String(r1.port), String(r2.port)].sort());

    const client = new Redis({ host: '127.0.0.1', port: lb.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    scope.track({ close: async () => void client.disconnect() });
    await client.connect();
    await client.set('counter', '0');
    for (let i = 0; i < 100; i++) await client.incr('counter');
    expect(await client.get('counter')).toBe('100');
    const bulk = 'x'.repeat(1024 * 1024);
    await client.set('bulk', bulk);
    expect(await client.get('bulk')).toBe(bulk);
    client.disconnect();

    r1.process.kill('SIGKILL');
    await waitFor('r1 gone', async () => !(await ping(r1.port)));
    // New connections right after the kill: before or after a health check notices, none fails.
    const failures: string[] = [];
    for (let i = 0; i < 20; i++) {
      const c = new Redis({ host: '127.0.0.1', port: lb.port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      try {
        await c.connect();
        expect(await c.ping()).toBe('PONG');
      } catch (err) {
        failures.push((err as Error).message);
      } finally {
        c.disconnect();
      }
    }
    expect(failures).toEqual([]);
    const stats = lb.stats();
    expect(stats.totals.failures).toBe(0);
    expect(stats.servers.find((s) => s.id === 'r2')!.totalRequests).toBeGreaterThanOrEqual(20);
  }, 30_000);
});
