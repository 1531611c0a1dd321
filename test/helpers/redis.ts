/**
 * A real redis-server for a test: started on a free loopback port with no persistence
 * (`--save '' --appendonly no`), stopped by its pid. `kill()` is a crash (SIGKILL); `restart()` starts a
 * fresh, empty one on the same port, as a restarted Redis without persistence comes back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { deadAddress } from './servers.js';

export interface RedisHandle {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>;
  /** A new, empty redis-server on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server on ${port} did not start within 10 s: ${out}`)), 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start redis-server (is it installed?): ${err.message}`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server on ${port} exited with ${code}: ${out}`));
    });
    // With --loglevel warning it prints little; a PING over a socket is the readiness check.
    const poll = async (): Promise<void> => {
      while (child.exitCode === null) {
        if (await pingOk(port)) {
          clearTimeout(timer);
          resolve();
          return;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    void poll();
  });
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (out += c));
  await ready;
  return child;
}

async function pingOk(port: number): Promise<boolean> {
  const { connect } = await import('node:net');
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(500, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.destroy();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.on('error', () => resolve(false));
  });
}

export async function startRedis(): Promise<RedisHandle> {
  const { port } = await deadAddress();
  let child = await launch(port);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    process.kill(child.pid!, 'SIGKILL');
    await exited;
  };
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child.pid!;
    },
    kill: stop,
    restart: async () => {
      await stop();
      child = await launch(port);
    },
    close: stop,
  };
}
