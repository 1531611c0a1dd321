/**
 * Prometheus metrics (prom-client) for `GET /metrics` on the admin listener. Names follow Prometheus
 * conventions (`lb_` prefix, `_total` counters, `_seconds` and `_bytes` units); label cardinality is
 * bounded: server ids (the pool is bounded), a fixed set of method classes, status classes. No paths, no
 * client addresses.
 *
 * Only the request counter and the duration histogram are updated per request (through cached label
 * children, ~0.6 µs together); everything the balancer already counts (retries, states, health checks,
 * bytes) is read at scrape time by collect() callbacks, so it costs the hot path nothing.
 */
import type { Socket } from 'node:net';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerPool } from './pool.js';
import type { Server } from './server.js';
import type { BalancerStats } from './stats.js';

const METHOD_CLASSES = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'] as const;
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;
const CIRCUIT_VALUE = { closed: 0, half_open: 1, open: 2 } as const;
/** Label for requests the balancer answered itself with no server (503 with an empty pool). */
const NO_SERVER = 'none';

interface ServerChildren {
  requests: Array<Counter.Internal | undefined>;
  duration: Histogram.Internal<'server'>;
}

export interface MetricsSources {
  pool: ServerPool;
  stats: BalancerStats;
  sessionsActive: () => number;
  queueLength: () => number;
}

export class BalancerMetrics {
  readonly registry = new Registry();
  readonly #requests: Counter<'server' | 'method' | 'status_class'>;
  readonly #duration: Histogram<'server'>;
  readonly #children = new Map<string, ServerChildren>();
  readonly #sockets = new Set<Socket>();
  #closedBytesIn = 0;
  #closedBytesOut = 0;

  constructor(sources: MetricsSources) {
    const { pool, stats } = sources;
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'lb_process_' });
    this.#requests = new Counter({
      name: 'lb_requests_total',
      help: 'Client requests answered, by server, method class and status class.',
      labelNames: ['server', 'method', 'status_class'],
      registers,
    });
    this.#duration = new Histogram({
      name: 'lb_request_duration_seconds',
      help: 'Time from a request arriving to its answer ending, by server.',
      labelNames: ['server'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    const perServer = (name: string, help: string, value: (s: Server) => number): void => {
      new Gauge({
        name,
        help,
        labelNames: ['server'],
        registers,
        collect() {
          this.reset();
          for (const s of pool.servers) this.set({ server: s.id }, value(s));
        },
      });
    };
    perServer('lb_server_active_requests', 'Requests in flight to the server.', (s) => s.activeRequests);
    perServer('lb_server_up', '1 when the server takes traffic (state up), else 0.', (s) => (s.state === 'up' ? 1 : 0));
    perServer('lb_server_healthy', '1 when active health checks pass, else 0.', (s) => (s.healthy ? 1 : 0));
    perServer('lb_server_circuit_state', 'Passive health: 0 closed, 1 half-open, 2 open.', (s) => CIRCUIT_VALUE[s.circuit.stateAt(performance.now())]);
    perServer('lb_server_weight', 'Configured weight.', (s) => s.weight);
    const serverCounter = (name: string, help: string, labels: string[], fill: (c: Counter<string>) => void): void => {
      new Counter({
        name,
        help,
        labelNames: labels,
        registers,
        collect() {
          // Counts live in the servers; the counter is refilled from them at each scrape.
          this.reset();
          fill(this);
        },
      });
    };
    serverCounter('lb_health_checks_total', 'Active health checks, by server and result.', ['server', 'result'], (c) => {
      for (const s of pool.servers) {
        c.inc({ server: s.id, result: 'pass' }, s.healthChecksPassed);
        c.inc({ server: s.id, result: 'fail' }, s.healthChecksFailed);
      }
    });
    const total = (name: string, help: string, value: () => number): void => {
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(value());
        },
      });
    };
    total('lb_retries_total', 'Requests sent again to another server after a failed connection.', () => stats.retries);
    total('lb_retries_skipped_total', 'Retries refused by the retry budget.', () => stats.retriesSkipped);
    total('lb_upstream_timeouts_total', 'Requests answered 504: the server did not answer in time.', () => stats.upstreamTimeouts);
    total('lb_upstream_errors_total', 'Requests whose server failed (502, or cut mid-answer).', () => stats.upstreamErrors);
    total('lb_no_server_total', 'Requests answered 503: no server available.', () => stats.noServerAvailable);
    total('lb_client_aborts_total', 'Requests whose client went away before the answer.', () => stats.clientAborts);
    total('lb_client_received_bytes_total', 'Bytes read from client connections (requests, headers included).', () => this.#bytes('in'));
    total('lb_client_sent_bytes_total', 'Bytes written to client connections (answers, headers included).', () => this.#bytes('out'));
    const gauge = (name: string, help: string, value: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value());
        },
      });
    };
    gauge('lb_sessions_active', 'Sticky sessions seen within their idle timeout.', sources.sessionsActive);
    gauge('lb_queue_length', 'Requests waiting for a server below max_conns.', sources.queueLength);
    gauge('lb_servers', 'Servers in the pool.', () => pool.size);

    pool.on('server-removed', (server) => this.#forget(server.id));
  }

  /** One client request answered: `server` null when the balancer answered without one. */
  requestFinished(server: Server | null, method: string, status: number, durationMs: number): void {
    const id = server?.id ?? NO_SERVER;
    let children = this.#children.get(id);
    if (children === undefined) {
      children = { requests: [], duration: this.#duration.labels(id) };
      this.#children.set(id, children);
    }
    const m = methodIndex(method);
    const c = Math.min(4, Math.max(0, Math.floor(status / 100) - 1));
    const slot = m * STATUS_CLASSES.length + c;
    let counter = children.requests[slot];
    if (counter === undefined) {
      counter = this.#requests.labels(id, METHOD_CLASSES[m]!, STATUS_CLASSES[c]!);
      children.requests[slot] = counter;
    }
    counter.inc();
    children.duration.observe(durationMs / 1000);
  }

  /** Counts a client connection's bytes: live ones at scrape time, closed ones when they close. */
  trackConnection(socket: Socket): void {
    this.#sockets.add(socket);
    socket.once('close', () => {
      this.#sockets.delete(socket);
      this.#closedBytesIn += socket.bytesRead;
      this.#closedBytesOut += socket.bytesWritten;
    });
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  #bytes(direction: 'in' | 'out'): number {
    let sum = direction === 'in' ? this.#closedBytesIn : this.#closedBytesOut;
    for (const socket of this.#sockets) sum += direction === 'in' ? socket.bytesRead : socket.bytesWritten;
    return sum;
  }

  /** A removed server's series go, so a churning pool cannot grow the label set without bound. */
  #forget(id: string): void {
    this.#children.delete(id);
    for (const method of METHOD_CLASSES) {
      for (const status of STATUS_CLASSES) this.#requests.remove(id, method, status);
    }
    this.#duration.remove(id);
  }
}

function methodIndex(method: string): number {
  switch (method) {
    case 'GET':
      return 0;
    case 'HEAD':
      return 1;
    case 'POST':
      return 2;
    case 'PUT':
      return 3;
    case 'PATCH':
      return 4;
    case 'DELETE':
      return 5;
    case 'OPTIONS':
      return 6;
    default:
      return 7;
  }
}
