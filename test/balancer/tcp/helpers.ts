/** Raw-socket clients and servers for the tcp-mode tests: real bytes on loopback, port 0 everywhere. */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import type { BalancerHandle } from '../../../src/balancer/balancer.js';
import { startTcpTestServer, type TcpTestServerHandle } from '../../../src/testserver/tcp-server.js';
import { waitFor, type TestScope } from '../../helpers/servers.js';

export async function startTcpServers(scope: TestScope, count: number, options: { acceptProxy?: boolean } = {}): Promise<TcpTestServerHandle[]> {
  return Promise.all(Array.from({ length: count }, (_, i) => startTcpTestServer({ port: 0, name: `t${i + 1}`, ...options }).then((s) => scope.track(s))));
}

/** A tcp-mode balancer in front of `servers` (file entries), health checks off unless asked. */
export function startTcpLb(scope: TestScope, servers: Array<{ host?: string; port: number; name?: string; [key: string]: unknown }>, flags: Record<string, unknown> = {}, file: Record<string, unknown> = {}): Promise<BalancerHandle> {
  return scope.startLb([], { file: { ...file, servers: servers.map((s) => ({ host: '127.0.0.1', ...s })) }, mode: 'tcp', ...flags } as never);
}

/**
 * Waits until lb has recorded `count` finished connections: a client can see its close a moment before
 * lb's side of the same connection closes (and its outcome is recorded).
 */
export async function recorded(lb: BalancerHandle, count: number): Promise<void> {
  await waitFor(`${count} connection outcomes`, () => lb.stats().totals.requests >= count);
}

/** Connects, writes `payload`, half-closes, and resolves with everything received until the close. */
export async function exchange(port: number, payload: string | Buffer): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  // A connection lb closes at once (no server, a refused header) may arrive as a reset: it ends the same.
  socket.on('error', () => undefined);
  socket.end(payload);
  await new Promise((resolve) => socket.once('close', resolve));
  return Buffer.concat(chunks);
}

/** Which server answers a connection: the first line of NAME's answer. */
export async function nameVia(port: number): Promise<string> {
  return (await exchange(port, 'NAME\n')).toString().split('\n')[0]!;
}

/** A connection kept open after the server said its name. */
export async function held(port: number): Promise<{ socket: Socket; name: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.write('NAME\n');
  let text = '';
  socket.setEncoding('latin1');
  return new Promise((resolve, reject) => {
    const onData = (c: string): void => {
      text += c;
      const lf = text.indexOf('\n');
      if (lf === -1) return;
      socket.off('data', onData);
      resolve({ socket, name: text.slice(0, lf) });
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a name (got ${JSON.stringify(text)})`)));
  });
}

/** Writes a line on a held connection and resolves with the echo of that many bytes. */
export async function echoOn(socket: Socket, line: string): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (c: string | Buffer): void => {
      text += c.toString();
      if (text.length < line.length) return;
      socket.off('data', onData);
      resolve(text);
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error('closed')));
    socket.write(line);
  });
}

/** A server that records the first bytes of each connection (PROXY headers as lb sends them), then echoes. */
export async function startRawCapture(scope: TestScope): Promise<{ port: number; firsts: Buffer[] }> {
  const firsts: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => sockets.delete(socket));
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => {
      firsts.push(Buffer.concat(chunks));
      socket.end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  scope.track({
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return { port: (server.address() as AddressInfo).port, firsts };
}
