/**
 * Passive health (outlier ejection): feeds each finished request into its server's circuit breaker and
 * applies the ejection cap. A circuit may open only while fewer than max_ejection_percent of the pool
 * (at least one server) are ejected, and never for the last available server (nginx's rule): a bad
 * deploy that fails everywhere degrades to "errors from servers", not "503 from the balancer".
 */
import type { BalancerEventType } from '../../shared/api-types.js';
import type { ServerPool } from '../pool.js';
import type { Server } from '../server.js';
import type { BreakerTransition } from './circuit-breaker.js';

export interface CircuitBreakerConfig {
  enabled: boolean;
  /** Consecutive failures (connect errors, resets, timeouts, 5xx) that open a server's circuit. */
  failThreshold: number;
  openTimeMs: number;
  /** Most servers ejected at once, as a share of the pool (Envoy's max_ejection_percent); at least one. */
  maxEjectionPercent: number;
}

export type HealthEventSink = (type: BalancerEventType, server: Server, detail: string) => void;

const EVENT_OF: Record<Exclude<BreakerTransition, null>, BalancerEventType> = {
  opened: 'circuit-open',
  'half-opened': 'circuit-half-open',
  closed: 'circuit-closed',
};

export class PassiveHealth {
  readonly #pool: ServerPool;
  readonly #config: CircuitBreakerConfig;
  readonly #onEvent: HealthEventSink;
  readonly #nowMs: () => number;

  constructor(pool: ServerPool, config: CircuitBreakerConfig, onEvent: HealthEventSink, nowMs: () => number = () => performance.now()) {
    this.#pool = pool;
    this.#config = config;
    this.#onEvent = onEvent;
    this.#nowMs = nowMs;
  }

  /** A request goes to `server`; for a half-open circuit this is the trial. */
  requestStarted(server: Server): void {
    if (server.circuit.isClosed) return;
    this.#report(server, server.circuit.requestStarted(this.#nowMs()), 'trial request');
  }

  /** A request to `server` finished; `ok` false for connect errors, resets, timeouts and 5xx. */
  record(server: Server, ok: boolean, detail: string | null): void {
    if (!this.#config.enabled) return;
    // The common case, a success on a healthy circuit, changes nothing: skip the clock and the guard.
    if (ok && server.circuit.isClosed && server.circuit.consecutiveFailures === 0) return;
    const transition = server.circuit.record(ok, this.#nowMs(), () => this.#mayEject(server));
    const why =
      transition === 'opened'
        ? `${server.circuit.consecutiveFailures} consecutive failures (last: ${detail ?? 'unknown'}); open for ${this.#config.openTimeMs / 1000} s`
        : transition === 'closed'
          ? 'trial request succeeded'
          : '';
    this.#report(server, transition, why);
  }

  /** A request ended with no verdict on the server (the client went away): release a trial slot. */
  abandon(server: Server): void {
    server.circuit.abandon();
  }

  /**
   * With `--workers`, one worker's breaker decides for all: the primary relays its opening (or closing)
   * and the others follow here, within the same ejection cap, reporting nothing (the primary records the
   * event once). Each follower then half-opens on its own clock, so a recovering server sees at most one
   * trial per worker.
   */
  follow(server: Server, open: boolean): void {
    if (!this.#config.enabled) return;
    if (!open) {
      server.circuit.reset();
      return;
    }
    if (server.circuit.isClosed && this.#mayEject(server, false)) server.circuit.forceOpen(this.#nowMs());
  }

  #mayEject(server: Server, report = true): boolean {
    const servers = this.#pool.servers;
    const cap = Math.max(1, Math.floor((this.#config.maxEjectionPercent / 100) * servers.length));
    const ejected = servers.filter((s) => s !== server && !s.circuit.isClosed).length;
    const othersAvailable = servers.some((s) => s !== server && s.isAvailable());
    const allowed = this.#config.maxEjectionPercent > 0 && ejected < cap && othersAvailable;
    // Report a refusal once, when the threshold is first reached, not on every failure after it.
    if (report && !allowed && server.circuit.consecutiveFailures === server.circuit.failThreshold) {
      const why = othersAvailable ? `${ejected} of ${servers.length} servers already ejected (cap ${cap})` : 'it is the last available server';
      this.#onEvent('ejection-refused', server, why);
    }
    return allowed;
  }

  #report(server: Server, transition: BreakerTransition, detail: string): void {
    if (transition !== null) this.#onEvent(EVENT_OF[transition], server, detail);
  }
}
