/**
 * The access log: one JSON line per finished request (time, client, method, path, status, server,
 * duration, bytes sent), or per connection in tcp mode (with bytes each way and connect time), written to a stream the command layer opens (a file, or stdout for `-`).
 * Bounded: when the stream cannot keep up (a full disk, a stalled pipe) lines are dropped and counted,
 * never queued without limit in memory.
 */
import type { Writable } from 'node:stream';
import { round } from '../shared/round.js';
import type { RequestOutcome } from './outcome.js';
import type { ConnectionOutcome } from './tcp/connection-outcome.js';

export interface AccessEntry {
  time: string;
  /** `http`, `websocket` for an upgrade (logged when the tunnel closes), `tcp` for a connection in tcp mode. */
  kind: RequestOutcome['kind'] | 'tcp';
  client: string;
  method: string;
  path: string;
  status: number;
  server: string | null;
  duration_ms: number;
  bytes: number;
  retries: number;
  error: string | null;
  /** tcp mode: bytes from the client (`bytes` are those sent to it), the client's port, connect time. */
  bytes_in?: number;
  client_port?: number;
  connect_ms?: number;
}

/** How far the stream's own buffer may grow before lines are dropped. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

export class AccessLog {
  readonly #stream: Writable;
  readonly #closeStream: boolean;
  dropped = 0;

  /** `closeStream` false for a stream the process owns (stdout). */
  constructor(stream: Writable, closeStream: boolean) {
    this.#stream = stream;
    this.#closeStream = closeStream;
  }

  write(entry: AccessEntry): void {
    if (this.#stream.writableLength > MAX_BUFFERED_BYTES || this.#stream.destroyed) {
      this.dropped += 1;
      return;
    }
    this.#stream.write(`${JSON.stringify(entry)}\n`);
  }

  /** The access-log sink of the outcome stream. */
  record(o: RequestOutcome): void {
    this.write({
      time: new Date().toISOString(),
      kind: o.kind,
      client: o.clientIp,
      method: o.method,
      path: o.path,
      status: o.status,
      server: o.server?.id ?? null,
      duration_ms: round(o.durationMs),
      bytes: o.bytesOut,
      retries: o.attempts > 1 ? o.attempts - 1 : 0,
      error: o.error,
    });
  }

  /** The access-log sink of tcp mode's outcome stream: one line per connection, when it closes. */
  recordConnection(o: ConnectionOutcome): void {
    this.write({
      time: new Date().toISOString(),
      kind: 'tcp',
      client: o.clientIp,
      method: 'TCP',
      path: '',
      status: 0,
      server: o.server?.id ?? null,
      duration_ms: round(o.durationMs),
      bytes: o.bytesOut,
      retries: o.attempts > 1 ? o.attempts - 1 : 0,
      error: o.error,
      bytes_in: o.bytesIn,
      client_port: o.clientPort,
      connect_ms: round(o.connectMs),
    });
  }

  /** Flushes and closes the stream, unless the process owns it. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#closeStream || this.#stream.destroyed) {
        resolve();
        return;
      }
      this.#stream.end(() => resolve());
    });
  }
}
