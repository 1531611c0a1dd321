/**
 * What the primary and its workers say to each other over node:cluster's IPC channel (structured clone,
 * so configs and commands travel as the plain data they are). The primary decides, workers replay:
 * every control-plane command the primary applies is sent to every worker in the order it was applied,
 * after the `start` that carried the state before it, so a worker never sees half a change.
 */
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { BalancerEventType, HistoryEntry, StatsSnapshot } from '../../shared/api-types.js';
import type { LbErrorCode } from '../../shared/errors.js';
import type { WorkerSeed } from '../balancer.js';
import type { BalancerConfig } from '../config.js';
import type { Command } from '../control/commands.js';
import type { HistogramData } from '../latency-histogram.js';

export type PrometheusJson = MetricObjectWithValues<MetricValue<string>>[];

export type ToWorker =
  | { type: 'start'; workerId: number; config: BalancerConfig; seed: WorkerSeed; accessLog: string | null }
  | { type: 'command'; command: Command }
  /** Another worker's breaker opened or closed for this server. */
  | { type: 'circuit'; server: string; open: boolean }
  | { type: 'report'; id: number; metrics: boolean }
  /** Answered with `pong` once every message before it was applied (IPC keeps the order). */
  | { type: 'ping'; id: number }
  | { type: 'shutdown' };

/** Data-path observations a worker reports; the primary records each once and relays circuits. */
export const RELAYED_EVENTS: ReadonlySet<BalancerEventType> = new Set<BalancerEventType>(['circuit-open', 'circuit-closed', 'ejection-refused']);

export type FromWorker =
  /** Listening for messages: the primary sends `start` only then. */
  | { type: 'ready' }
  | { type: 'listening'; port: number; url: string }
  | { type: 'start-failed'; code: LbErrorCode | null; message: string }
  | { type: 'observed'; event: BalancerEventType; server: string; detail: string }
  | { type: 'report'; id: number; report: WorkerReport }
  | { type: 'pong'; id: number };

/** One server's latency as a worker measured it: all time, and the last minute. */
export interface ServerLatency {
  total: HistogramData;
  recent: HistogramData;
}

/** Everything a worker counts, for the primary to sum into the balancer's views. */
export interface WorkerReport {
  pid: number;
  rssBytes: number;
  snapshot: StatsSnapshot;
  history: HistoryEntry[];
  /** By server id (a Map: a server may be named __proto__). */
  latency: Map<string, ServerLatency>;
  /** Only when asked (a /metrics scrape). */
  metrics: PrometheusJson | null;
}

export function isFromWorker(value: unknown): value is FromWorker {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

export function isToWorker(value: unknown): value is ToWorker {
  return isFromWorker(value);
}
