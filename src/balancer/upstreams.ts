/**
 * Keep-alive connection pools to the Servers, one undici Pool each, created on first use. undici's Pool
 * was measured at ~23k req/s through a minimal proxy against ~14k for node:http's Agent (bench/ in
 * ../shared), so it is the upstream client. A removed server's pool is closed gracefully: undici's
 * `close()` lets queued and in-flight requests finish before the sockets go. Only traffic goes through
 * undici: health checks have sockets of their own (health/http-probe.ts says why).
 */
import { Pool } from 'undici';
import type { Server } from './server.js';

export interface UpstreamOptions {
  /** Most sockets kept to one server (bounded, like nginx's keepalive or HAProxy's maxconn). Default 128. */
  connectionsPerServer: number;
  /** Connect timeout in ms. Default 5000 (HAProxy's usual `timeout connect 5s`). */
  connectTimeoutMs: number;
  /** For HTTPS servers: CA bundle (PEM), and whether to check their certificates at all. */
  tls: UpstreamTls;
}

export interface UpstreamTls {
  ca: Buffer | null;
  rejectUnauthorized: boolean;
}

export const DEFAULT_UPSTREAM_OPTIONS: UpstreamOptions = {
  connectionsPerServer: 128,
  connectTimeoutMs: 5000,
  tls: { ca: null, rejectUnauthorized: true },
};

/** undici connect options for a server: TLS settings only matter for https origins. */
export function connectOptions(timeoutMs: number, tls: UpstreamTls): { timeout: number; ca?: Buffer; rejectUnauthorized: boolean } {
  return { timeout: timeoutMs, rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca !== null ? { ca: tls.ca } : {}) };
}

export class Upstreams {
  readonly #pools = new Map<Server, Pool>();
  readonly #options: UpstreamOptions;
  readonly #closing = new Set<Promise<void>>();

  constructor(options: UpstreamOptions = DEFAULT_UPSTREAM_OPTIONS) {
    this.#options = options;
  }

  for(server: Server): Pool {
    let pool = this.#pools.get(server);
    if (pool === undefined) {
      pool = new Pool(server.origin, {
        connections: this.#options.connectionsPerServer,
        pipelining: 1,
        connect: connectOptions(this.#options.connectTimeoutMs, this.#options.tls),
        // Timeouts are set per request by the proxy; these are the pool-wide fallbacks.
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      this.#pools.set(server, pool);
    }
    return pool;
  }

  /** Closes the server's pool once its in-flight requests are done (removal). */
  release(server: Server): void {
    const pool = this.#pools.get(server);
    if (pool === undefined) return;
    this.#pools.delete(server);
    const closing = pool.close().catch(() => undefined);
    this.#closing.add(closing);
    void closing.finally(() => this.#closing.delete(closing));
  }

  /** Graceful close of every pool; after `graceMs` what is still open is destroyed. */
  async closeAll(graceMs: number): Promise<void> {
    const pools = [...this.#pools.values()];
    this.#pools.clear();
    const graceful = Promise.all([...pools.map((p) => p.close()), ...this.#closing]);
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const outcome = await Promise.race([graceful.then(() => 'closed' as const), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') await Promise.all(pools.map((p) => p.destroy().catch(() => undefined)));
  }
}
