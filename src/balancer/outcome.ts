/**
 * One value per client request, whatever happened to it: the proxy and the WebSocket path each produce
 * exactly one when the request is done, and every sink (stats and history, Prometheus counters, the
 * access log, the embedding `request` event) reads it. The sinks are subscribed in the composition root
 * (balancer.ts); the traffic path knows only `finished(outcome)`.
 */
import type { LbErrorCode } from '../shared/errors.js';
import type { Server } from './server.js';

export interface RequestOutcome {
  kind: 'http' | 'websocket';
  method: string;
  /** As the client sent it (origin form after the front door's rewrite). */
  path: string;
  clientIp: string;
  /** The server of the last attempt; null when lb answered without one. */
  server: Server | null;
  /** 0 when no answer could be sent; 101 for a WebSocket tunnel, reported when it closes. */
  status: number;
  /** Attempts on servers: 0 when none was tried, above 1 after retries. */
  attempts: number;
  /** Waited in the max_conns queue. */
  queued: boolean;
  durationMs: number;
  /** Body bytes sent to the client. */
  bytesOut: number;
  /** Why it did not end with the server's own answer; null when it did. */
  error: LbErrorCode | null;
}

export type OutcomeSink = (outcome: RequestOutcome) => void;

/** What an embedding application hears about each request (the seed's monitoring callback). */
export interface RequestEvent {
  server: string | null;
  ok: boolean;
  status: number;
  durationMs: number;
  method: string;
  path: string;
  retries: number;
  /** `tcp` for a connection in tcp mode (method `TCP`, path the client's address, status 0). */
  kind: RequestOutcome['kind'] | 'tcp';
}

export function requestEventOf(o: RequestOutcome): RequestEvent {
  return {
    server: o.server?.id ?? null,
    ok: o.status > 0 && o.status < 500,
    status: o.status,
    durationMs: o.durationMs,
    method: o.method,
    path: o.path,
    retries: o.attempts > 1 ? o.attempts - 1 : 0,
    kind: o.kind,
  };
}
