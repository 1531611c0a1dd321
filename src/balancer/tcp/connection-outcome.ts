/**
 * One value per client connection in tcp mode, whatever happened to it (the DESIGN's RequestOutcome, per
 * connection): the connection proxy produces exactly one when both sides are closed, and the sinks
 * (stats and history, per-server tallies, metrics) read it, subscribed in tcp/balancer.ts.
 */
import type { LbErrorCode } from '../../shared/errors.js';
import type { RequestEvent } from '../outcome.js';
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

/**
 * Did the connection do its job? Ended by either side, an idle timeout, a drain cut or shutdown: yes.
 * No server, a failed connect, a reset from the server or a refused PROXY header: no.
 */
export function connectionSucceeded(error: LbErrorCode | null): boolean {
  return error === null || error === 'LB_CLIENT_GONE' || error === 'LB_IDLE_TIMEOUT' || error === 'LB_DRAIN_TIMEOUT' || error === 'LB_INTERRUPTED';
}

/** The embedding API's `request` event for a connection (kind `tcp`, method `TCP`, path the client). */
export function connectionEventOf(o: ConnectionOutcome): RequestEvent {
  return {
    server: o.server?.id ?? null,
    ok: connectionSucceeded(o.error),
    status: 0,
    durationMs: o.durationMs,
    method: 'TCP',
    path: clientAddressOf(o),
    retries: o.attempts > 1 ? o.attempts - 1 : 0,
    kind: 'tcp',
  };
}

/** `ip:port`, IPv6 in brackets: how the history and events name the client. */
export function clientAddressOf(o: Pick<ConnectionOutcome, 'clientIp' | 'clientPort'>): string {
  return o.clientIp.includes(':') ? `[${o.clientIp}]:${o.clientPort}` : `${o.clientIp}:${o.clientPort}`;
}
