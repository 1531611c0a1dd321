/**
 * Raw HTTP for edge tests: a client that writes exact bytes and reads everything back, and a server that
 * records every request head it receives and answers by path with exact bytes, legal or not (1xx before
 * the answer, 304 with a Content-Length, 101 to a plain GET, a header flood). Node's own http modules
 * would refuse to send or receive half of these.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  target: string;
  /** Header lines as received, name and value split at the first colon; names lower-cased. */
  headers: Array<[string, string]>;
  header(name: string): string | undefined;
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

/** What the raw server answers, by path (query ignored); anything else gets a plain 200. */
export const MISBEHAVIOURS: Record<string, string> = {
  '/unsolicited-100': `HTTP/1.1 100 Continue\r\n\r\n${OK}`,
  '/early-hints': `HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n${OK}`,
  '/processing': `HTTP/1.1 102 Processing\r\n\r\n${OK}`,
  '/not-modified': 'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n',
  '/no-content': 'HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n',
  '/not-http': 'hello there\r\n\r\n',
  '/switching': 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
  '/header-flood': `HTTP/1.1 200 OK\r\n${Array.from({ length: 2000 }, (_, i) => `X-Flood-${i}: ${i}\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
};

export interface RawServer {
  readonly port: number;
  readonly received: RecordedRequest[];
  close(): Promise<void>;
}

/** Several raw servers may share one `received` list, so a test sees every request whichever got it. */
export async function startRawServer(received: RecordedRequest[] = []): Promise<RawServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end === -1) return;
        const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const [method = '', target = ''] = lines[0]!.split(' ');
        const headers = lines.slice(1).map((line): [string, string] => {
          const colon = line.indexOf(':');
          return [line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim()];
        });
        const length = Number(headers.find(([name]) => name === 'content-length')?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        buffer = buffer.subarray(end + 4 + length);
        received.push({ method, target, headers, header: (name) => headers.find(([n]) => n === name)?.[1] });
        socket.write(MISBEHAVIOURS[target.split('?')[0]!] ?? OK);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface RawReply {
  text: string;
  /** Every status line's code, 1xx included, in order. */
  statuses: number[];
  /** True when the connection was reset instead of closed. */
  reset: boolean;
}

/** Writes `bytes`, reads until the peer closes (or `timeoutMs`, then gives up and closes). */
export function rawRequest(port: number, bytes: string | Buffer, timeoutMs = 5000): Promise<RawReply> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let reset = false;
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => (reset = true));
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const statuses = [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1]));
      resolve({ text, statuses, reset });
    });
    socket.write(bytes);
  });
}
