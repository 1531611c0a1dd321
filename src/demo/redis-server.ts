/**
 * `lb demo --cluster` starts its own Redis when none is given: `redis-server` from the PATH on a free
 * loopback port, without persistence (`--save '' --appendonly no`: a demo leaves nothing behind), stopped
 * by its pid when the demo ends. Not found on the PATH: a one-line error saying what to do instead.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { LbError } from '../shared/errors.js';

export interface RedisProcess {
  readonly url: string;
  readonly pid: number;
  close(): Promise<void>;
}

const READY = /Ready to accept connections/;
const START_TIMEOUT_MS = 10_000;

async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export async function startRedisServer(): Promise<RedisProcess> {
  const port = await freeLoopbackPort();
  const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new LbError('LB_LISTEN_FAILED', `redis-server did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        if (err === undefined) resolve();
        else reject(err);
      };
      child.on('error', (err: NodeJS.ErrnoException) =>
        done(err.code === 'ENOENT' ? new LbError('LB_CONFIG_INVALID', 'lb demo --cluster: redis-server is not on the PATH: install it (apt-get install redis-server) or give --store redis://host:port') : err),
      );
      child.on('exit', (code) => done(new LbError('LB_LISTEN_FAILED', `redis-server exited with ${code}: ${output.trim().split('\n').pop() ?? ''}`)));
      const watch = (chunk: Buffer): void => {
        output = (output + chunk.toString()).slice(-4096);
        if (READY.test(output)) done();
      };
      child.stdout!.on('data', watch);
      child.stderr!.on('data', watch);
    });
  } catch (err) {
    if (child.exitCode === null && child.pid !== undefined) child.kill('SIGKILL');
    throw err;
  }
  // Its output is not ours to show; keep the pipes drained.
  child.stdout!.resume();
  child.stderr!.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    pid: child.pid!,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
