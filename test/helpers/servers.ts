/** Real servers on port 0 for tests: test servers, a balancer in-process, a refusing address, polling. */
import { createServer } from 'node:net';
import { afterEach } from 'vitest';
import type { AddressInfo } from 'node:net';
import { startBalancer, type BalancerHandle } from '../../src/balancer/balancer.js';
import { spawnLb, type LbProcess } from './cli.js';
import { resolveConfig, type ConfigFlags } from '../../src/balancer/config.js';
import { startTestServer, type TestServerHandle, type TestServerOptions } from '../../src/testserver/server.js';

export async function startServers(count: number, options: Partial<TestServerOptions> = {}): Promise<TestServerHandle[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startTestServer({ port: 0, name: `s${i + 1}`, ...options })));
}

/** A loopback port that refuses connections: bound once, then released. */
export async function deadAddress(): Promise<{ host: string; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return { host: '127.0.0.1', port };
}

export interface LbOptions extends ConfigFlags {
  file?: unknown;
}

/**
 * A balancer on loopback port 0 in front of `servers` (named by their test-server names). Active health
 * checks are off unless `healthCheck: true`: most tests want to see only their own requests.
 */
export async function startLb(servers: Array<TestServerHandle | { host: string; port: number; name?: string }>, options: LbOptions = {}): Promise<BalancerHandle> {
  const { file, ...flags } = options;
  const config = resolveConfig({
    file:
      file ??
      servers.map((s) => ('url' in s ? { host: '127.0.0.1', port: s.port, name: s.name } : s)),
    filePath: null,
    env: {},
    flags: { port: 0, host: '127.0.0.1', adminPort: 0, adminHost: '127.0.0.1', healthCheck: false, ...flags },
  });
  return startBalancer(config);
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws with `what`). */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 10_000, everyMs = 10): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

export async function closeAll(...handles: Array<{ close(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(handles.map((h) => h?.close()));
}

interface Closable {
  close(): Promise<void>;
}

/** Starts servers and processes for one test file and closes them after each test, even a failed one. */
export interface TestScope {
  startServers(count: number, options?: Partial<TestServerOptions>): Promise<TestServerHandle[]>;
  startTestServer(options: TestServerOptions): Promise<TestServerHandle>;
  startLb(...args: Parameters<typeof startLb>): Promise<BalancerHandle>;
  /** `lb <args>` as a child process, killed after the test. */
  spawnLb(...args: Parameters<typeof spawnLb>): LbProcess;
  /** Anything else with a close(): a raw node server, a balancer started directly. */
  track<T extends Closable>(handle: T): T;
}

/** Call once at the top of a test file: its afterEach closes whatever the scope started. */
export function closedAfterEach(): TestScope {
  const open = new Set<Closable>();
  afterEach(async () => {
    const handles = [...open];
    open.clear();
    await Promise.all(handles.map((h) => h.close()));
  });
  const track = <T extends Closable>(handle: T): T => {
    open.add(handle);
    return handle;
  };
  return {
    track,
    startServers: async (count, options) => (await startServers(count, options)).map(track),
    startTestServer: async (options) => track(await startTestServer(options)),
    startLb: async (...args) => track(await startLb(...args)),
    spawnLb: (...args) => {
      const proc = spawnLb(...args);
      track({ close: async () => void (await proc.stop('SIGKILL')) });
      return proc;
    },
  };
}
