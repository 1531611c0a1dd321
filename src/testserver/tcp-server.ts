/**
 * `lb testserver --tcp`: a TCP backend for layer-4 mode. Every byte it receives is echoed back, with
 * backpressure (a client that does not read stops being read), and a client's FIN is answered with a FIN
 * once the echo is out. One line protocol on top, so a client can tell which server it reached:
 *
 *   a connection whose first bytes are the line `NAME` (LF or CRLF) gets `<name>\n` back, then echo;
 *   a connection whose first bytes are the line `PEER` gets one JSON line with the client address this
 *   server believes in (the PROXY header's, with --accept-proxy, else the socket's), then echo.
 *
 * With `acceptProxy`, a connection must start with a PROXY protocol v1 or v2 header (lb's `send_proxy`);
 * one without a valid header is closed, as HAProxy's `accept-proxy` does.
 */
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { LbError } from '../shared/errors.js';
import { parseProxyHeader, type ProxyAddresses } from '../shared/proxy-protocol.js';

export interface TcpTestServerOptions {
  port: number;
  host?: string;
  /** Default `Server-<port>`. */
  name?: string;
  acceptProxy?: boolean;
}

export interface TcpTestServerHandle {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  /** Connections accepted so far. */
  readonly connectionCount: number;
  /** Open connections now. */
  readonly openConnections: number;
  /** The PROXY headers received, newest last (at most 100; `null` for v1 UNKNOWN and v2 LOCAL). */
  readonly proxyHeaders: readonly (ProxyAddresses | null)[];
  close(): Promise<void>;
}

/** Longest first line looked at for NAME/PEER, and longest PROXY header waited for. */
const MAX_PREFIX = 16 + 1024;
const KEPT_HEADERS = 100;
const COMMANDS = ['NAME\n', 'NAME\r\n', 'PEER\n', 'PEER\r\n'];

export async function startTcpTestServer(options: TcpTestServerOptions): Promise<TcpTestServerHandle> {
  const sockets = new Set<Socket>();
  const proxyHeaders: (ProxyAddresses | null)[] = [];
  let connectionCount = 0;
  let name = options.name ?? '';
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
    connectionCount += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    let peer = { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    let pending: Buffer = Buffer.alloc(0);
    let needHeader = options.acceptProxy === true;
    // Reads the prefix (PROXY header, then a possible NAME/PEER line) and hands over to echo.
    const onData = (chunk: Buffer): void => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (needHeader) {
        const result = parseProxyHeader(pending.subarray(0, MAX_PREFIX));
        if (result.kind === 'incomplete' && pending.length < MAX_PREFIX) return;
        if (result.kind !== 'header') {
          socket.destroy();
          return;
        }
        needHeader = false;
        proxyHeaders.push(result.addresses);
        if (proxyHeaders.length > KEPT_HEADERS) proxyHeaders.shift();
        if (result.addresses !== null) peer = { address: result.addresses.sourceAddress, port: result.addresses.sourcePort };
        pending = pending.subarray(result.length);
      }
      // Wait for a whole first line only while it could still be NAME or PEER.
      const lf = pending.indexOf(0x0a);
      const head = pending.toString('latin1', 0, Math.min(pending.length, 6));
      if (lf === -1 && COMMANDS.some((c) => c.startsWith(head))) return;
      socket.off('data', onData);
      socket.off('end', onEnd);
      const line = lf === -1 ? '' : pending.toString('latin1', 0, lf).replace(/\r$/, '');
      if (line === 'NAME' || line === 'PEER') {
        socket.write(line === 'NAME' ? `${name}\n` : `${JSON.stringify(peer)}\n`);
        pending = pending.subarray(lf + 1);
      }
      if (pending.length > 0) socket.write(pending);
      socket.pipe(socket);
    };
    const onEnd = (): void => {
      if (pending.length > 0 && !needHeader) socket.write(pending);
      socket.end();
    };
    socket.on('data', onData);
    socket.once('end', onEnd);
  });
  server.listen(options.port, options.host ?? '127.0.0.1');
  try {
    await once(server, 'listening');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new LbError('LB_LISTEN_FAILED', `cannot listen on ${options.host ?? '127.0.0.1'}:${options.port}: ${code === 'EADDRINUSE' ? 'address already in use' : String(code ?? err)}`);
  }
  const port = (server.address() as AddressInfo).port;
  if (name === '') name = `Server-${port}`;
  const host = options.host ?? '127.0.0.1';
  return {
    url: `tcp://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    name,
    get connectionCount() {
      return connectionCount;
    },
    get openConnections() {
      return sockets.size;
    },
    proxyHeaders,
    close: async () => {
      const closed = new Promise((resolve) => server.close(resolve));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
