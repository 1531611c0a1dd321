/**
 * tcp mode's own series on the balancer's Prometheus registry (the rest, per-server state, active
 * connections as lb_server_active_requests, client bytes, retries, errors, come from metrics.ts):
 * bytes per server each way, failed connects per server, open client connections and their limit.
 * Label cardinality: server ids only (the pool is bounded).
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import type { TcpTallies } from './tallies.js';

export interface TcpMetricsSources {
  pool: ServerPool;
  tallies: TcpTallies;
  /** Bytes of the open connections (of one server, or all when null). */
  liveBytes: (server: Server | null) => { bytesIn: number; bytesOut: number };
  openConnections: () => number;
  maxConnections: number;
}

export function registerTcpMetrics(registry: Registry, sources: TcpMetricsSources): void {
  const registers = [registry];
  const { pool, tallies, liveBytes } = sources;
  const perServer = (name: string, help: string, value: (s: Server) => number): void => {
    new Counter({
      name,
      help,
      labelNames: ['server'],
      registers,
      collect() {
        this.reset();
        for (const s of pool.servers) this.inc({ server: s.id }, value(s));
      },
    });
  };
  perServer('lb_tcp_server_sent_bytes_total', 'tcp mode: bytes forwarded from clients to the server.', (s) => tallies.of(s).bytesIn + liveBytes(s).bytesIn);
  perServer('lb_tcp_server_received_bytes_total', 'tcp mode: bytes forwarded from the server to clients.', (s) => tallies.of(s).bytesOut + liveBytes(s).bytesOut);
  perServer('lb_tcp_server_connect_failures_total', 'tcp mode: connects to the server that failed (refused, unreachable, timed out).', (s) => tallies.of(s).connectFailures);
  new Gauge({
    name: 'lb_tcp_client_connections',
    help: 'tcp mode: client connections open now.',
    registers,
    collect() {
      this.set(sources.openConnections());
    },
  });
  new Gauge({
    name: 'lb_tcp_max_client_connections',
    help: 'tcp mode: most client connections open at once (max_connections); more are closed at accept and counted in lb_client_connections_rejected_total.',
    registers,
    collect() {
      this.set(sources.maxConnections);
    },
  });
}
