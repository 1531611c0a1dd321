/**
 * The admin API JSON contract: what `lb serve` answers and what `lb monitor`, `lb loadtest` and the web
 * dashboard read. Changing a field here changes the contract for every client; add, never rename.
 */

export const ALGORITHM_NAMES = [
  'round_robin',
  'least_connections',
  'weighted',
  'least_response_time',
  'consistent_hash',
  'p2c',
  'random',
] as const;
export type AlgorithmName = (typeof ALGORITHM_NAMES)[number];

export function isAlgorithmName(value: unknown): value is AlgorithmName {
  return typeof value === 'string' && (ALGORITHM_NAMES as readonly string[]).includes(value);
}

/** What a Server is doing, as one word for tables: the operator's decision first, then observations. */
export type ServerState = 'up' | 'down' | 'ejected' | 'draining' | 'drained';

/** Passive health: `open` takes no requests, `half_open` lets one trial through. */
export type CircuitState = 'closed' | 'open' | 'half_open';

export interface HealthCheckSnapshot {
  /** null before the first check, or when checks are off. */
  ok: boolean | null;
  /** Status code or error of the last check. */
  detail: string | null;
  at: string | null;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
}

export interface ServerSnapshot {
  /** tcp mode: bytes client -> this server and back (open connections included), and failed connects. */
  bytesIn?: number;
  bytesOut?: number;
  connectFailures?: number;
  id: string;
  host: string;
  port: number;
  url: string;
  weight: number;
  /** The weight in use now: below `weight` while the server ramps up after coming back (slow_start). */
  effectiveWeight: number;
  state: ServerState;
  /** The operator's decision (false while draining). */
  enabled: boolean;
  /** What health checks observed. */
  healthy: boolean;
  activeRequests: number;
  totalRequests: number;
  totalSuccesses: number;
  totalFailures: number;
  /** Failures / requests, 0..1. */
  errorRate: number;
  avgResponseTimeMs: number;
  p50ResponseTimeMs: number;
  p99ResponseTimeMs: number;
  /** Over the last minute (10 s slots): what viewers show, so an incident is forgotten once it is over. */
  recentRequests: number;
  recentAvgResponseTimeMs: number;
  recentP99ResponseTimeMs: number;
  /** least_response_time's cost for this server now: peak-EWMA latency x (active + 1); lower wins. */
  latencyScoreMs: number;
  ewmaLatencyMs: number;
  lastError: string | null;
  addedAt: string;
  circuit: CircuitState;
  /** Consecutive failed requests as the breaker counts them. */
  circuitFailures: number;
  /** Most requests in flight; 0 = no limit. */
  maxConns: number;
  healthCheck: HealthCheckSnapshot;
  /** Requests finished more often than started: a bookkeeping bug if ever above 0 (reported, not hidden). */
  counterUnderflows: number;
}

export interface StatusClassCounts {
  '1xx': number;
  '2xx': number;
  '3xx': number;
  '4xx': number;
  '5xx': number;
}

export interface StatsTotals {
  requests: number;
  successes: number;
  failures: number;
  errorRate: number;
  activeRequests: number;
  retries: number;
  /** Requests answered 503 because no server was available. */
  noServerAvailable: number;
  upstreamTimeouts: number;
  upstreamErrors: number;
  clientAborts: number;
  /** Retries refused because the retry budget was spent. */
  retriesSkipped: number;
  /** Requests that waited for a free server (max_conns), and those that waited too long. */
  queued: number;
  queueTimeouts: number;
  queueLength: number;
  /** Requests lb refused itself as not forwardable (400 bad target or Host, 431 too many headers). */
  badRequests: number;
  /** Requests refused by the rate limit (429). */
  rateLimited: number;
  /** Bugs caught on the traffic path; each cost its request a 502, never the process. */
  internalErrors: number;
  /** Client connections closed at once because their address had max_conns_per_client open. */
  connectionsRejected: number;
  status: StatusClassCounts;
  /** tcp mode: bytes client -> servers and back, over all connections (open ones included). */
  bytesIn?: number;
  bytesOut?: number;
  /** tcp mode: most client connections open at once (max_connections). */
  maxConnections?: number;
}

/** The edge limits in force (README "Security" lists them with their defaults). */
export interface LimitsSnapshot {
  /** Requests per second per client; 0 = rate limiting off. */
  rateLimitPerSecond: number;
  rateLimitBurst: number;
  /** What identifies a client for the rate limit: ip, header:NAME, cookie:NAME... */
  rateLimitKey: string;
  /** Clients the rate limiter tracks now, and at most. */
  rateLimitClients: number;
  rateLimitMaxClients: number;
  maxConnsPerClient: number;
  maxHeaders: number;
  maxHeaderBytes: number;
}

export interface SessionStats {
  mode: 'off' | 'cookie' | 'ip';
  /** Sessions seen within the idle timeout. */
  active: number;
  capacity: number;
  ttlSeconds: number;
}

/** One process of `lb serve --workers N` that proxies traffic. */
export interface WorkerSnapshot {
  /** 1..N, kept by a restarted worker. */
  id: number;
  pid: number;
  /** `starting` until it listens; `unresponsive` when it missed the last report. */
  state: 'starting' | 'up' | 'unresponsive';
  requests: number;
  activeRequests: number;
  rssBytes: number;
  /** Times this worker slot was restarted after its process exited. */
  restarts: number;
}

export interface StatsSnapshot {
  version: string;
  /** http: requests; tcp: connections (requests count connections, activeRequests open ones; bytes in totals and servers). */
  mode?: 'http' | 'tcp';
  algorithm: AlgorithmName;
  algorithms: readonly AlgorithmName[];
  startedAt: string;
  uptimeSeconds: number;
  url: string;
  totals: StatsTotals;
  sessions: SessionStats;
  limits: LimitsSnapshot;
  servers: ServerSnapshot[];
  /** With `--workers`: the processes behind the totals (absent when one process serves). */
  workers?: WorkerSnapshot[];
  /** Present when the instance is part of a cluster (`--store`). */
  cluster?: ClusterView;
}

/** `GET /lb/cluster` (instances started with `--store`): the live instances of the cluster and their totals. */
export interface ClusterInstance {
  id: string;
  /** This instance (the one answering). */
  self: boolean;
  url: string;
  adminUrl: string;
  version: string;
  uptimeSeconds: number;
  /** The shared configuration version it runs. */
  configVersion: string;
  requests: number;
  failures: number;
  activeRequests: number;
  requestsPerSecond: number;
  /** Servers its own health checks see down. */
  serversDown: string[];
}

export interface ClusterResponse {
  cluster: string;
  store: {
    /** The Redis URL, password redacted. */
    url: string;
    connected: boolean;
    configVersion: string;
    /** Local changes not yet written (bounded). */
    pendingChanges: number;
    writes: number;
    /** Compare-and-set writes that lost to another instance's and were merged again. */
    conflicts: number;
    reconnects: number;
    lastError: string | null;
    /** When the instance list was last read; it goes stale while the store is away. */
    refreshedAt: string | null;
  };
  instances: ClusterInstance[];
  totals: ClusterTotals;
}

export interface ClusterTotals {
  instances: number;
  requests: number;
  failures: number;
  activeRequests: number;
  requestsPerSecond: number;
}

/**
 * In `/lb/stats` of an instance with `--store`: the cluster as this instance sees it (what viewers show
 * in their instances panel), and how many live instances' checks see each server up.
 */
export interface ClusterView {
  cluster: string;
  /** Whether the store answers; while it does not, the instance list is the last one read. */
  connected: boolean;
  quorum: number;
  instances: ClusterInstance[];
  totals: ClusterTotals;
  /** Server id -> live instances that see it up. */
  seenUp: Record<string, number>;
}

export interface HistoryEntry {
  time: string;
  method: string;
  path: string;
  server: string | null;
  status: number;
  durationMs: number;
  retries: number;
  /** Error code when the balancer answered for the server (502/503/504) or the client went away. */
  error: string | null;
  /** tcp mode (method "TCP", path the client's address, status 0): bytes client -> server and back. */
  bytesIn?: number;
  bytesOut?: number;
}

export type BalancerEventType =
  | 'server-added'
  | 'server-removed'
  | 'server-down'
  | 'server-up'
  | 'circuit-open'
  | 'circuit-half-open'
  | 'circuit-closed'
  | 'ejection-refused'
  | 'server-draining'
  | 'server-undrained'
  | 'weight-changed'
  | 'weight-adjusted'
  | 'max-conns-changed'
  | 'algorithm-switched'
  | 'counters-reset'
  | 'config-reloaded'
  /** Cluster (`--store`): another instance's heartbeat appeared, or stopped for more than 3 s. */
  | 'instance-joined'
  | 'instance-left'
  /** Cluster: the store (Redis) went away, or came back and this instance resynced. */
  | 'store-lost'
  | 'store-resynced';

export interface BalancerEvent {
  /** Increases by one per event of this process: `GET /lb/history?since=<id>` returns only newer ones. */
  id: number;
  time: string;
  type: BalancerEventType;
  server: string | null;
  detail: string;
  /** The server's state after the event; null for balancer-wide events. */
  state: ServerState | null;
}

export interface HistoryResponse {
  capacity: number;
  requests: HistoryEntry[];
  /** State changes, oldest first, at most `capacity` (only those after `since` when it was given). */
  events: BalancerEvent[];
  /** Id of the newest event so far (0 before any): the next `since`. */
  lastEventId: number;
}

export interface HealthResponse {
  status: 'ok';
  version: string;
  uptimeSeconds: number;
  servers: { total: number; available: number };
}

/** The seed's `GET /api/stats` shape, kept for scripts written against it. */
export interface SeedStatsResponse {
  total_requests: number;
  successful_requests: number;
  failed_requests: number;
  error_rate: number;
  algorithm: string;
  servers: Record<string, { requests: number; failures: number; active_connections: number; avg_response_time: number; healthy: boolean }>;
}

export interface ApiErrorBody {
  error: { code: string; message: string };
}

/** Body of add/remove requests (seed form) and of `POST /api/servers`. */
export interface ServerRequestBody {
  host: string;
  port: number;
  weight?: number;
  name?: string;
}

/** `PATCH /api/servers/:id`: at least one of the two. */
export interface ServerUpdate {
  /** 1 to MAX_WEIGHT (src/shared/limits.ts). */
  weight?: number;
  /** true stops new requests to the server (in-flight ones finish); false takes it back. */
  drain?: boolean;
}

/** `POST /lb/add-server`, `POST /api/servers` (201) and `PATCH /api/servers/:id`: the server as it is now. */
export interface ServerChangeResponse {
  server: ServerSnapshot;
}

/** `DELETE /api/servers/:id` and `POST /lb/remove-server`: the server as it was when removed. */
export interface ServerRemovedResponse {
  removed: ServerSnapshot;
}

/** `POST /lb/algorithm`. */
export interface AlgorithmSwitchResponse {
  algorithm: AlgorithmName;
  previous: AlgorithmName;
}

/** `POST /lb/reset`. */
export interface ResetResponse {
  reset: true;
}

/** `POST /api/loadtest`: the dashboard's built-in tests, run by the balancer against its own traffic port. */
export interface LoadTestSpec {
  kind: 'load' | 'stress' | 'custom';
  /** custom: requests (1-10 000); load: 50. */
  requests?: number;
  /** custom and stress: virtual clients (1-100). */
  concurrency?: number;
  /** stress: seconds (1-60); default 30. */
  durationSeconds?: number;
}

/** What the dashboard shows of a finished test: a subset of `lb loadtest --json`. */
export interface LoadTestSummaryView {
  requests: { issued: number; completed: number; succeeded: number; failed: number; cancelled: number };
  errorRate: number;
  throughputRps: number;
  durationSeconds: number;
  latencyMs: { meanMs: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number };
  servers: Array<{ id: string; requests: number; share: number; p99Ms: number; errors: number }>;
}

export interface LoadTestStatus {
  running: boolean;
  spec: LoadTestSpec | null;
  startedAt: string | null;
  progress: { done: number; total: number | null; elapsedMs: number; durationMs: number | null; currentRps: number; errors: number } | null;
  summary: LoadTestSummaryView | null;
  error: string | null;
}
