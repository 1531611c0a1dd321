/** Real servers on port 0 for tests: test servers, a balancer in-process, a refusing address, polling. */
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { startBalancer, type BalancerHandle } from '../../src/balancer/balancer.js';
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
