/**
 * One value per client connection in tcp mode, whatever happened to it (the DESIGN's RequestOutcome, per
 * connection): the connection proxy produces exactly one when both sides are closed, and the sinks
 * (stats and history, per-server tallies, metrics) read it, subscribed in tcp/balancer.ts.
 */
import type { LbErrorCode } from '../../shared/errors.js';
import type { Server } from '../server.js';

export interface ConnectionOutcome {
  /** The client's address as lb reports it: from the PROXY header when `accept_proxy` is on. */
  clientIp: string;
  clientPort: number;
  /** The server of the last attempt; null when none was tried (none available, a bad PROXY header). */
  server: Server | null;
  /** Servers tried: 0 when none was, above 1 after connect retries. */
  attempts: number;
  /** Time to connect to the server that took the connection; 0 when none did. */
  connectMs: number;
  durationMs: number;
  /** Bytes from the client to the server (without lb's own PROXY header). */
  bytesIn: number;
  /** Bytes from the server to the client. */
  bytesOut: number;
  /** Why it ended other than by a side closing normally; null when it did. */
  error: LbErrorCode | null;
}

export type ConnectionSink = (outcome: ConnectionOutcome) => void;

/** Errors that are no fault of the server: they do not count as its failures. */
export function blamesServer(error: LbErrorCode | null): boolean {
  return error === 'LB_UPSTREAM_ERROR' || error === 'LB_UPSTREAM_CONNECT' || error === 'LB_UPSTREAM_TIMEOUT';
}
