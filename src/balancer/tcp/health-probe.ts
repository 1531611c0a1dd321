/**
 * The TCP health check (HAProxy's plain `check` in mode tcp): a server passes when a connection to it
 * opens within the check timeout; it is closed at once, nothing is sent. Plugged into the same
 * ActiveHealthChecker as the HTTP probe, so rise/fall, scheduling and verdicts are shared.
 */
import { connect } from 'node:net';
import type { HealthCheckConfig, ProbeResult } from '../health/active.js';
import type { Server } from '../server.js';

export function probeTcp(server: Server, config: HealthCheckConfig, stop?: AbortSignal): Promise<ProbeResult> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: server.host, port: server.port });
    const stopped = (): void => done(false, 'check stopped');
    const done = (ok: boolean, detail: string): void => {
      clearTimeout(timer);
      stop?.removeEventListener('abort', stopped);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve({ ok, detail, durationMs: performance.now() - started });
    };
    const timer = setTimeout(() => done(false, `timeout after ${config.timeoutMs} ms`), config.timeoutMs);
    stop?.addEventListener('abort', stopped);
    socket.once('connect', () => done(true, 'TCP connect'));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? 'error'));
  });
}

/** What a health check does when the file does not say: connect in tcp mode, GET the health path otherwise. */
export function effectiveCheckType(config: { mode: 'http' | 'tcp'; healthCheck: Pick<HealthCheckConfig, 'type'> }): 'tcp' | 'http' {
  return config.healthCheck.type ?? (config.mode === 'tcp' ? 'tcp' : 'http');
}
