/**
 * The HTTP health check: a connection of its own per check (HAProxy's default), `GET <path>` with
 * `Connection: close`, the answer read by AnswerReader and judged by its status. One deadline covers the
 * connect, the TLS handshake and the answer.
 *
 * Not through undici, on purpose. V8 optimises undici's client code for the objects the proxy's traffic
 * shows it; a check going through the same code with objects of other shapes (its own handler, its own
 * pool) threw that optimised code away every interval, and recompiling it on the proxy's core stalled
 * every connection for a while. proxy-bench.sh, lb beside the undici reference, 5 rounds: p99 82 ms with
 * checks through undici, 29 ms with checks off, the reference 28 ms.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { Server } from '../server.js';
import type { UpstreamTls } from '../upstreams.js';
import type { HealthCheckConfig, ProbeResult } from './active.js';
import { AnswerReader, type AnswerVerdict } from './answer-reader.js';

/**
 * The most of an answer's body a check reads. Its status is the verdict; past this the connection is
 * dropped rather than read to the end.
 */
export const PROBE_BODY_LIMIT = 128 * 1024;

export function probeHttp(server: Server, config: HealthCheckConfig, tls: UpstreamTls, stop?: AbortSignal): Promise<ProbeResult> {
  const startedAt = performance.now();
  return new Promise((resolve) => {
    if (stop?.aborted === true) return resolve({ ok: false, detail: 'check stopped', durationMs: 0 });
    let socket: Socket;
    try {
      socket = open(server, tls);
    } catch (err) {
      // tls.connect throws at once on a CA bundle it cannot load.
      resolve({ ok: false, detail: (err as NodeJS.ErrnoException).code ?? 'connection error', durationMs: 0 });
      return;
    }
    const reader = new AnswerReader(PROBE_BODY_LIMIT);
    const settle = (ok: boolean, detail: string): void => {
      if (deadline === null) return;
      clearTimeout(deadline);
      deadline = null;
      stop?.removeEventListener('abort', stopped);
      socket.destroy();
      resolve({ ok, detail, durationMs: performance.now() - startedAt });
    };
    const stopped = (): void => settle(false, 'check stopped');
    const judge = (verdict: AnswerVerdict): void => {
      if ('failure' in verdict) return settle(false, verdict.failure);
      const { min, max } = config.expectedStatus;
      settle(verdict.status >= min && verdict.status <= max, `HTTP ${verdict.status}`);
    };
    let deadline: NodeJS.Timeout | null = setTimeout(() => settle(false, `timeout after ${config.timeoutMs} ms`), config.timeoutMs);
    stop?.addEventListener('abort', stopped);
    // Stays attached after the verdict: an error on a socket being destroyed must not go unhandled.
    socket.on('error', (err: NodeJS.ErrnoException) => settle(false, err.code ?? 'connection error'));
    socket.on('data', (chunk: Buffer) => {
      const verdict = reader.feed(chunk);
      if (verdict !== null) judge(verdict);
    });
    socket.on('end', () => judge(reader.end()));
    socket.on('close', () => settle(false, 'connection closed'));
    // Written as soon as the connection (and TLS) is up: sockets hold writes until then.
    socket.write(`GET ${config.path} HTTP/1.1\r\nhost: ${authorityOf(server)}\r\nuser-agent: lb-health-check\r\nconnection: close\r\n\r\n`);
  });
}

function open(server: Server, tls: UpstreamTls): Socket {
  if (!server.origin.startsWith('https:')) return connectTcp({ host: server.host, port: server.port });
  return connectTls({
    host: server.host,
    port: server.port,
    // SNI carries names only (RFC 6066): none for an address.
    ...(isIP(server.host) === 0 ? { servername: server.host } : {}),
    rejectUnauthorized: tls.rejectUnauthorized,
    ...(tls.ca !== null ? { ca: tls.ca } : {}),
  });
}

/** host:port as the Host header wants it (an IPv6 address in brackets): the origin without its scheme. */
function authorityOf(server: Server): string {
  return server.origin.slice(server.origin.indexOf('//') + 2);
}
