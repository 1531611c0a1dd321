/**
 * The access log: one JSON line per finished request (time, client, method, path, status, server,
 * duration, bytes sent), written to a stream the command layer opens (a file, or stdout for `-`).
 * Bounded: when the stream cannot keep up (a full disk, a stalled pipe) lines are dropped and counted,
 * never queued without limit in memory.
 */
import type { Writable } from 'node:stream';
import { round } from '../shared/round.js';
import type { RequestOutcome } from './outcome.js';

export interface AccessEntry {
  time: string;
  /** `http`, or `websocket` for an upgrade (logged when the tunnel closes). */
  kind: RequestOutcome['kind'];
  client: string;
  method: string;
  path: string;
  status: number;
  server: string | null;
  duration_ms: number;
  bytes: number;
  retries: number;
  error: string | null;
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
