/**
 * `GET /lb/config`: the running configuration in the servers-file format, so it can be read back, saved
 * and started from. Servers and the algorithm are as they run (runtime changes included); everything
 * else is as the file and flags set it. Secrets (admin token, sticky secret) are redacted.
 */
import type { AlgorithmName } from '../../shared/api-types.js';
import type { BalancerConfig } from '../config.js';
import { formatHashKey } from '../hash-key.js';
import type { Server } from '../server.js';

const REDACTED = '<redacted>';
const seconds = (ms: number): number => ms / 1000;

export function configView(config: BalancerConfig, servers: readonly Server[], algorithm: AlgorithmName): Record<string, unknown> {
  const l = config.limits;
  const h = config.healthCheck;
  return {
    load_balancer: {
      port: config.port,
      host: config.host,
      algorithm,
      timeout: seconds(config.timeoutMs),
      connect_timeout: seconds(config.connectTimeoutMs),
      retries: config.retries,
      max_conns: l.maxConnsPerServer,
      max_queue: l.maxQueue,
      queue_timeout: seconds(l.queueTimeoutMs),
      retry_budget: l.retryBudgetRatio,
      client_header_timeout: seconds(l.clientHeaderTimeoutMs),
      idle_timeout: seconds(l.clientIdleTimeoutMs),
      max_headers: l.maxHeaders,
      max_header_size: l.maxHeaderBytes,
      max_conns_per_client: l.maxConnsPerClient,
      allow_hosts: config.allowHosts,
      server_header: config.serverHeader,
    },
    admin: { port: config.adminPort, host: config.adminHost, ...(config.adminToken !== null ? { token: REDACTED } : {}) },
    servers: servers.map((s) => ({
      host: s.host,
      port: s.port,
      weight: s.weight,
      ...(s.name !== null ? { name: s.name } : {}),
      ...(s.maxConns !== l.maxConnsPerServer ? { max_conns: s.maxConns } : {}),
      ...(s.origin.startsWith('https:') ? { tls: true } : {}),
    })),
    health_check: {
      enabled: h.enabled,
      path: h.path,
      interval: seconds(h.intervalMs),
      timeout: seconds(h.timeoutMs),
      fall: h.fall,
      rise: h.rise,
      expected_status: `${h.expectedStatus.min}-${h.expectedStatus.max}`,
      start_healthy: h.startHealthy,
    },
    circuit_breaker: {
      enabled: config.circuitBreaker.enabled,
      fail_threshold: config.circuitBreaker.failThreshold,
      open_time: seconds(config.circuitBreaker.openTimeMs),
      max_ejection_percent: config.circuitBreaker.maxEjectionPercent,
    },
    consistent_hash: { virtual_nodes: config.consistentHash.virtualNodes, hash_function: config.consistentHash.hashFunction, key: formatHashKey(config.hashKey) },
    sticky_sessions: {
      mode: config.sticky.mode,
      cookie_name: config.sticky.cookieName,
      ttl: seconds(config.sticky.ttlMs),
      max_sessions: config.sticky.maxSessions,
      ...(config.sticky.secret !== null ? { secret: REDACTED } : {}),
    },
    rate_limit: {
      rate: config.rateLimit.ratePerSecond,
      ...(config.rateLimit.burst !== null ? { burst: config.rateLimit.burst } : {}),
      key: formatHashKey(config.rateLimit.key),
      max_clients: config.rateLimit.maxKeys,
    },
  };
}
