/** Stats snapshots as `GET /lb/stats` returns them, built from a few numbers per server. */
import type { ServerSnapshot, StatsSnapshot, WorkerSnapshot } from '../../src/shared/api-types.js';

export function server(id: string, overrides: Partial<ServerSnapshot> = {}): ServerSnapshot {
  return {
    id,
    host: '127.0.0.1',
    port: 3001,
    url: 'http://127.0.0.1:3001',
    weight: 1,
    // Not ramping unless a test says so: the weight in use is the configured one.
    effectiveWeight: overrides.weight ?? 1,
    state: 'up',
    enabled: true,
    healthy: true,
    activeRequests: 0,
    totalRequests: 0,
    totalSuccesses: 0,
    totalFailures: 0,
    errorRate: 0,
    avgResponseTimeMs: 0,
    p50ResponseTimeMs: 0,
    p99ResponseTimeMs: 0,
    recentRequests: 0,
    recentAvgResponseTimeMs: 0,
    recentP99ResponseTimeMs: 0,
    latencyScoreMs: 0,
    ewmaLatencyMs: 0,
    lastError: null,
    addedAt: '2026-11-23T00:00:00.000Z',
    circuit: 'closed',
    circuitFailures: 0,
    maxConns: 0,
    healthCheck: { ok: true, detail: 'HTTP 200', at: null, consecutiveFailures: 0, consecutiveSuccesses: 3 },
    counterUnderflows: 0,
    ...overrides,
  };
}

export function snapshot(servers: ServerSnapshot[], overrides: Partial<StatsSnapshot> = {}): StatsSnapshot {
  const requests = servers.reduce((n, s) => n + s.totalRequests, 0);
  const failures = servers.reduce((n, s) => n + s.totalFailures, 0);
  return {
    version: '0.1.0',
    algorithm: 'round_robin',
    algorithms: ['round_robin', 'least_connections'],
    startedAt: '2026-11-23T00:00:00.000Z',
    uptimeSeconds: 100,
    url: 'http://127.0.0.1:8080',
    totals: {
      requests,
      successes: requests - failures,
      failures,
      errorRate: requests === 0 ? 0 : failures / requests,
      activeRequests: 0,
      retries: 0,
      noServerAvailable: 0,
      upstreamTimeouts: 0,
      upstreamErrors: 0,
      clientAborts: 0,
      retriesSkipped: 0,
      queued: 0,
      queueTimeouts: 0,
      queueLength: 0,
      badRequests: 0,
      rateLimited: 0,
      internalErrors: 0,
      connectionsRejected: 0,
      status: { '1xx': 0, '2xx': requests - failures, '3xx': 0, '4xx': 0, '5xx': failures },
    },
    sessions: { mode: 'off', active: 0, capacity: 0, ttlSeconds: 0 },
    limits: {
      rateLimitPerSecond: 0,
      rateLimitBurst: 0,
      rateLimitKey: 'ip',
      rateLimitClients: 0,
      rateLimitMaxClients: 100_000,
      maxConnsPerClient: 0,
      maxHeaders: 100,
      maxHeaderBytes: 16_384,
    },
    servers,
    ...overrides,
  };
}

/** One `--workers` process as `/lb/stats` lists it. */
export function worker(id: number, state: WorkerSnapshot['state'] = 'up'): WorkerSnapshot {
  return { id, pid: 100 + id, state, requests: 0, activeRequests: 0, rssBytes: 0, restarts: 0 };
}
