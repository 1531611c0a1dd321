/**
 * `lb loadtest --tcp`: N connections, at most C open at once; each (optionally) asks the server its name
 * with a `NAME` line (lb testserver --tcp answers it; see testserver/tcp-server.ts), sends M bytes,
 * reads M bytes back, and closes. Measured per connection: connect time, the whole exchange, bytes;
 * per run: connections/s, MB/s each way, connect-time percentiles, and the spread over servers.
 *
 * Bounded: at most C sockets, one M-byte payload shared by all (written, never copied), the received
 * bytes counted and dropped; a connection longer than `timeoutMs` is cut and counted.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { LatencyRecorder, type LatencySummary } from './histogram.js';

export interface TcpLoadOptions {
  host: string;
  port: number;
  connections: number;
  concurrency: number;
  /** Bytes each connection sends and expects back. */
  bytes: number;
  /** Ask each connection's server its name first (an lb testserver --tcp behind). */
  names: boolean;
  timeoutMs: number;
}

export interface TcpLoadResult {
  connections: number;
  completed: number;
  failed: number;
  errors: Map<string, number>;
  /** Connections per server name (with `names`). */
  servers: Map<string, number>;
  bytesSent: number;
  bytesReceived: number;
  elapsedMs: number;
  connect: LatencySummary;
  exchange: LatencySummary;
  interrupted: boolean;
}

export interface TcpRunEvents {
  progress: [{ completed: number; failed: number; elapsedMs: number }];
}

/** Most distinct server names kept: a server answering garbage must not grow the table. */
const MAX_SERVER_NAMES = 1000;
const MAX_NAME = 200;

export class TcpLoadRun extends EventEmitter<TcpRunEvents> {
  readonly #options: TcpLoadOptions;
  readonly #payload: Buffer;
  readonly #open = new Set<Socket>();
  #stopped = false;

  constructor(options: TcpLoadOptions) {
    super();
    this.#options = options;
    // Printable and varied, so a byte lost or reordered does not go unseen by the count check.
    this.#payload = Buffer.alloc(options.bytes);
    for (let i = 0; i < options.bytes; i++) this.#payload[i] = 97 + (i % 26);
  }

  stop(): void {
    this.#stopped = true;
    for (const s of this.#open) s.destroy();
  }

  async run(): Promise<TcpLoadResult> {
    const o = this.#options;
    const connectTimes = new LatencyRecorder();
    const exchangeTimes = new LatencyRecorder();
    const result = { completed: 0, failed: 0, errors: new Map<string, number>(), servers: new Map<string, number>(), bytesSent: 0, bytesReceived: 0 };
    const started = performance.now();
    let next = 0;
    const ticker = setInterval(() => this.emit('progress', { completed: result.completed, failed: result.failed, elapsedMs: performance.now() - started }), 250);
    const worker = async (): Promise<void> => {
      while (!this.#stopped && next < o.connections) {
        next += 1;
        const one = await this.#one();
        result.bytesSent += one.sent;
        result.bytesReceived += one.received;
        if (one.error === null) {
          result.completed += 1;
          connectTimes.record(one.connectMs);
          exchangeTimes.record(one.totalMs);
          if (one.server !== null && (result.servers.has(one.server) || result.servers.size < MAX_SERVER_NAMES)) {
            result.servers.set(one.server, (result.servers.get(one.server) ?? 0) + 1);
          }
        } else {
          result.failed += 1;
          result.errors.set(one.error, (result.errors.get(one.error) ?? 0) + 1);
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.min(o.concurrency, o.connections) }, worker));
    } finally {
      clearInterval(ticker);
    }
    return {
      connections: result.completed + result.failed,
      ...result,
      elapsedMs: performance.now() - started,
      connect: connectTimes.summary(),
      exchange: exchangeTimes.summary(),
      interrupted: this.#stopped,
    };
  }

  #one(): Promise<{ error: string | null; server: string | null; connectMs: number; totalMs: number; sent: number; received: number }> {
    const o = this.#options;
    const started = performance.now();
    return new Promise((resolve) => {
      const socket = connect({ host: o.host, port: o.port, noDelay: true });
      this.#open.add(socket);
      let connectMs = 0;
      let server: string | null = null;
      let head = '';
      let received = 0;
      let sent = 0;
      let settled = false;
      const finish = (error: string | null): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#open.delete(socket);
        socket.destroy();
        resolve({ error, server, connectMs, totalMs: performance.now() - started, sent, received });
      };
      const timer = setTimeout(() => finish('timeout'), o.timeoutMs);
      socket.once('connect', () => {
        connectMs = performance.now() - started;
        if (o.names) socket.write('NAME\n');
        socket.write(this.#payload, () => (sent = o.bytes));
        socket.end();
      });
      socket.on('data', (chunk: Buffer) => {
        let data = chunk;
        if (o.names && server === null) {
          const lf = chunk.indexOf(0x0a);
          if (lf === -1) {
            head += chunk.toString('latin1');
            if (head.length > MAX_NAME) finish('no name line');
            return;
          }
          server = (head + chunk.toString('latin1', 0, lf)).slice(0, MAX_NAME);
          data = chunk.subarray(lf + 1);
        }
        received += data.length;
      });
      socket.once('end', () => finish(received === o.bytes ? null : `short answer`));
      socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNREFUSED' ? 'connect refused' : (err.code ?? 'error')));
    });
  }
}
