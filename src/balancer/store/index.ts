/**
 * `--store redis://...`: this instance joins a cluster of `lb serve` instances that share their state
 * through Redis. The one entry point is `attachStore`, called once by the composition root; it wires
 * the parts, each in its own module:
 *
 *   connection.ts       the Redis connections, the key layout, the read and compare-and-set scripts
 *   shared-config.ts    the shared configuration document (pure): parse, merge a command, plan a sync
 *   replication.ts      control-plane commands <-> the document (versioned writes, publish, apply)
 *   instances.ts        heartbeats and the live instance list (`GET /lb/cluster`, joined/left events)
 *   health-verdicts.ts  each instance's health verdicts, shared; the optional quorum
 *   sticky-secret.ts    the sticky cookie's key, shared when none is configured
 *
 * It hooks into the control plane (a gate before commands, the `applied` stream after them) and the
 * admin target (`/lb/cluster`, the cluster view in `/lb/stats`); nothing on the traffic path ever waits
 * on Redis. With Redis away the instance serves on its last known state, refuses configuration changes
 * (503 LB_STORE_UNAVAILABLE), reconnects with a bounded backoff and resyncs when Redis is back.
 */
import { randomBytes } from 'node:crypto';
import { Counter, Gauge, type Registry } from 'prom-client';
import { hostname } from 'node:os';
import type { ClusterInstance, ClusterResponse, ClusterTotals, StatsSnapshot } from '../../shared/api-types.js';
import type { Logger } from '../../shared/log.js';
import { VERSION } from '../../shared/version.js';
import type { AdminTarget } from '../admin.js';
import type { BalancerConfig } from '../config.js';
import type { ControlPlane } from '../control/control-plane.js';
import type { StickySessions } from '../sticky.js';
import { StoreConnection } from './connection.js';
import { SharedHealth } from './health-verdicts.js';
import { HEARTBEAT_TTL_MS, InstanceRegistry, type InstanceBeat } from './instances.js';
import { parseRedisUrl, redactedUrl } from './redis-url.js';
import { ConfigReplicator } from './replication.js';
import { SharedStickySecret } from './sticky-secret.js';

/** How often the shared configuration's version is polled besides the published hints. */
const POLL_INTERVAL_MS = 1_000;
/** Longest an admin change waits for its write to the store before it is answered anyway. */
const WRITE_WAIT_MS = 2_000;

export interface StoreOptions {
  control: ControlPlane;
  config: BalancerConfig;
  logger: Logger;
  /** Gets `cluster()` and the cluster view in `stats()`. */
  admin: AdminTarget;
  sticky: StickySessions | null;
  /** The admin API's URL once it listens (heartbeats carry it, so viewers can drive any instance). */
  adminUrl: () => string;
  /** `/metrics`: the store's gauges and counters join the balancer's. */
  registry?: Registry;
}

export interface StoreHandle {
  readonly instanceId: string;
  /** Resolves when no sync round is running (tests). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function attachStore({ control, config, logger, admin, sticky, adminUrl, registry: metricsRegistry }: StoreOptions): Promise<StoreHandle> {
  const url = config.store.url!;
  const shownUrl = redactedUrl(url);
  const cluster = config.store.cluster;
  const instanceId = `${hostname().replace(/[^A-Za-z0-9_.-]/g, '').slice(0, 40) || 'host'}-${process.pid}-${randomBytes(3).toString('hex')}`;
  const conn = new StoreConnection(parseRedisUrl(url), cluster);
  const startedAt = Date.now();
  const baseStats = admin.stats;
  const baseSettled = admin.settled;

  const replicator = new ConfigReplicator(control, conn, {
    instanceId,
    allowHosts: config.allowHosts,
    defaultMaxConns: config.limits.maxConnsPerServer,
    logger,
    source: config.serversFile ?? 'its own configuration',
    onResynced: (version) => {
      logger.info(`store: reconnected to ${shownUrl} and resynced (configuration version ${version})`);
      control.observe('store-resynced', null, `configuration version ${version}`);
    },
  });

  // Requests per second over the last heartbeat interval, from the totals' growth. The stats are the
  // admin API's: with --workers, the primary's sum over its workers.
  let previous = { requests: 0, at: startedAt };
  let rate = 0;
  /** `advance`: a heartbeat (the rate moves on); a reader of `/lb/cluster` only looks. */
  const beatOf = (stats: StatsSnapshot, advance: boolean): InstanceBeat => {
    const now = Date.now();
    if (advance) {
      rate = ((stats.totals.requests - previous.requests) * 1000) / Math.max(1, now - previous.at);
      previous = { requests: stats.totals.requests, at: now };
    }
    return {
      id: instanceId,
      url: stats.url,
      adminUrl: adminUrl(),
      version: VERSION,
      uptimeSeconds: stats.uptimeSeconds,
      configVersion: replicator.stats().configVersion,
      requests: stats.totals.requests,
      failures: stats.totals.failures,
      activeRequests: stats.totals.activeRequests,
      requestsPerSecond: Math.max(0, Math.round(rate * 10) / 10),
      down: health.localDown(),
    };
  };
  // Not before the admin API listens: the heartbeat carries its URL.
  const registry = new InstanceRegistry(conn, instanceId, async () => (adminUrl() === '' ? null : beatOf(await baseStats(), true)));
  const health = new SharedHealth(control, { quorum: config.healthCheck.quorum, selfId: instanceId, live: () => registry.live, storeUp: () => conn.isUp });
  const secret = sticky !== null && sticky.mode === 'cookie' && config.sticky.secret === null ? new SharedStickySecret(conn, sticky, logger) : null;

  control.setGate((command) => {
    const admitted = replicator.admits(command) && health.admits(command);
    // A verdict of ours reaches the others now, not at the next heartbeat.
    if (command.type === 'setHealth') void registry.beat();
    return admitted;
  });
  registry.on('joined', (beat) => control.observe('instance-joined', null, `${beat.id} (${beat.url || 'no url'})`));
  registry.on('left', (beat) => control.observe('instance-left', null, `${beat.id} (${beat.url || 'no url'}): no heartbeat for ${HEARTBEAT_TTL_MS / 1000} s`));
  registry.on('refreshed', () => health.reevaluate());
  conn.on('down', (reason) => {
    logger.warn(`store: lost ${shownUrl} (${reason}): serving on the last known state; configuration changes are refused until it is back`);
    control.observe('store-lost', null, reason);
    health.reevaluate();
  });
  conn.on('up', (first) => {
    if (first) return;
    logger.info(`store: ${shownUrl} is back: resyncing`);
    void secret?.share();
    void registry.beat();
    replicator.markResync();
  });

  await conn.open(() => replicator.kick());
  if (conn.isUp) {
    await secret?.share();
    replicator.kick();
    await replicator.settle();
  } else {
    logger.warn(`store: ${shownUrl} is unreachable (${conn.lastError ?? 'no answer'}): serving ${config.serversFile ?? 'the configured servers'}; retrying, and configuration changes are refused until it answers`);
  }
  // A first connection made later is a resync like any other.
  conn.on('up', (first) => {
    if (first) {
      void secret?.share();
      replicator.markResync();
    }
  });
  registry.start();
  const poll = setInterval(() => replicator.kick(), POLL_INTERVAL_MS);
  const metricNames = metricsRegistry === undefined ? [] : registerMetrics(metricsRegistry, { isUp: () => conn.isUp, reconnects: () => conn.reconnects, instances: () => registry.live.filter((beat) => beat.id !== instanceId).length + 1, replication: () => replicator.stats() });

  const members = (stats: StatsSnapshot): { instances: ClusterInstance[]; totals: ClusterTotals } => {
    const others = registry.live.filter((beat) => beat.id !== instanceId);
    const instances: ClusterInstance[] = [beatOf(stats, false), ...others].map((beat) => ({
      id: beat.id,
      self: beat.id === instanceId,
      url: beat.url,
      adminUrl: beat.adminUrl,
      version: beat.version,
      uptimeSeconds: beat.uptimeSeconds,
      configVersion: beat.configVersion,
      requests: beat.requests,
      failures: beat.failures,
      activeRequests: beat.activeRequests,
      requestsPerSecond: beat.requestsPerSecond,
      serversDown: beat.down.slice(0, 100),
    }));
    const sum = (pick: (i: ClusterInstance) => number): number => Math.round(instances.reduce((total, i) => total + pick(i), 0) * 10) / 10;
    return {
      instances,
      totals: {
        instances: instances.length,
        requests: sum((i) => i.requests),
        failures: sum((i) => i.failures),
        activeRequests: sum((i) => i.activeRequests),
        requestsPerSecond: sum((i) => i.requestsPerSecond),
      },
    };
  };
  admin.stats = async (): Promise<StatsSnapshot> => {
    const stats = await baseStats();
    stats.cluster = {
      cluster,
      connected: conn.isUp,
      quorum: config.healthCheck.quorum,
      ...members(stats),
      // fromEntries: a server named __proto__ is a key like any other.
      seenUp: Object.fromEntries(control.pool.servers.map((server) => [server.id, health.seenUp(server).up])),
    };
    return stats;
  };
  // A change is answered once it is in the store too (and, with --workers, in every worker).
  admin.settled = async (): Promise<void> => {
    await baseSettled?.();
    await replicator.written(WRITE_WAIT_MS);
  };
  admin.cluster = async (): Promise<ClusterResponse> => {
    const stats = await baseStats();
    const replication = replicator.stats();
    return {
      cluster,
      store: {
        url: shownUrl,
        connected: conn.isUp,
        configVersion: replication.configVersion,
        pendingChanges: replication.pendingChanges,
        writes: replication.writes,
        conflicts: replication.conflicts,
        reconnects: conn.reconnects,
        lastError: conn.lastError,
        refreshedAt: registry.refreshedAt === 0 ? null : new Date(registry.refreshedAt).toISOString(),
      },
      ...members(stats),
    };
  };
  logger.info(`store: instance ${instanceId} in cluster "${cluster}" on ${shownUrl}`);

  return {
    instanceId,
    settle: () => replicator.settle(),
    close: async () => {
      clearInterval(poll);
      control.setGate(null);
      replicator.close();
      await registry.close();
      await conn.close();
      for (const name of metricNames) metricsRegistry?.removeSingleMetric(name);
      admin.stats = baseStats;
      admin.settled = baseSettled;
      admin.cluster = null;
    },
  };
}

/** The store's figures in `/metrics`, read when scraped; returns the names registered (removed at close). */
function registerMetrics(
  registry: Registry,
  read: { isUp(): boolean; reconnects(): number; instances(): number; replication(): { pendingChanges: number; writes: number; conflicts: number } },
): string[] {
  const registers = [registry];
  new Gauge({ name: 'lb_store_connected', help: 'Whether the cluster store (Redis) answers: 1 yes, 0 no.', registers, collect() { this.set(read.isUp() ? 1 : 0); } });
  new Gauge({ name: 'lb_cluster_instances', help: 'Live instances of the cluster: this one and the others whose heartbeat was last read.', registers, collect() { this.set(read.instances()); } });
  new Gauge({ name: 'lb_store_pending_changes', help: 'Configuration changes of this instance not yet written to the store (bounded).', registers, collect() { this.set(read.replication().pendingChanges); } });
  const counter = (name: string, help: string, value: () => number): void => {
    new Counter({ name, help, registers, collect() { this.reset(); this.inc(value()); } });
  };
  counter('lb_store_config_writes_total', 'Shared configuration versions this instance wrote.', () => read.replication().writes);
  counter('lb_store_config_conflicts_total', 'Compare-and-set writes that lost to another instance and were merged again.', () => read.replication().conflicts);
  counter('lb_store_reconnects_total', 'Reconnections to the store after a loss.', read.reconnects);
  return ['lb_store_connected', 'lb_cluster_instances', 'lb_store_pending_changes', 'lb_store_config_writes_total', 'lb_store_config_conflicts_total', 'lb_store_reconnects_total'];
}
