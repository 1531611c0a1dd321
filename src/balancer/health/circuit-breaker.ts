/**
 * Passive health of one server: closed -> (fail_threshold consecutive failures) -> open for open_time ->
 * half_open (one trial request) -> closed on success, open again on failure. Clock-driven and timer-free:
 * every method takes `nowMs`, so tests drive it with a fake clock and nothing fires in the background.
 *
 * Whether it may open at all is asked of a guard (the ejection cap): the breaker only counts.
 */
import type { CircuitState } from '../../shared/api-types.js';

export interface BreakerSettings {
  /** Consecutive failures that open the circuit. Default 3 (the seed's fail_threshold). */
  failThreshold: number;
  /** How long it stays open before a trial, ms. Default 5 000 (the seed's open_time). */
  openTimeMs: number;
}

export type BreakerTransition = 'opened' | 'half-opened' | 'closed' | null;

export class CircuitBreaker {
  #state: CircuitState = 'closed';
  #consecutiveFailures = 0;
  #openUntilMs = 0;
  #trialInFlight = false;
  readonly #settings: BreakerSettings;

  constructor(settings: BreakerSettings) {
    this.#settings = settings;
  }

  get failThreshold(): number {
    return this.#settings.failThreshold;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFailures;
  }

  /** The state as of `nowMs`: an open circuit whose time is up reads as half_open. */
  stateAt(nowMs: number): CircuitState {
    return this.#state === 'open' && nowMs >= this.#openUntilMs ? 'half_open' : this.#state;
  }

  /** May a new request go to this server now? Closed: yes. Open: no. Half-open: one trial at a time. */
  allows(nowMs: number): boolean {
    if (this.#state === 'closed') return true;
    return this.stateAt(nowMs) === 'half_open' && !this.#trialInFlight;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** A request was sent; in half-open it is the trial, and no other goes until it ends. */
  requestStarted(nowMs: number): BreakerTransition {
    if (this.#state === 'closed' || this.stateAt(nowMs) !== 'half_open') return null;
    this.#trialInFlight = true;
    if (this.#state === 'open') {
      this.#state = 'half_open';
      return 'half-opened';
    }
    return null;
  }

  /**
   * One finished request. `mayOpen` is the ejection guard, asked only when the circuit would open.
   * Returns the transition this caused, if any.
   */
  record(ok: boolean, nowMs: number, mayOpen: () => boolean): BreakerTransition {
    const wasTrial = this.#state === 'half_open' && this.#trialInFlight;
    if (wasTrial) this.#trialInFlight = false;
    if (ok) {
      this.#consecutiveFailures = 0;
      if (this.#state !== 'closed' && wasTrial) {
        this.#state = 'closed';
        return 'closed';
      }
      return null;
    }
    this.#consecutiveFailures += 1;
    if (wasTrial) {
      this.#open(nowMs);
      return 'opened';
    }
    if (this.#state === 'closed' && this.#consecutiveFailures >= this.#settings.failThreshold && mayOpen()) {
      this.#open(nowMs);
      return 'opened';
    }
    return null;
  }

  /** Opens a closed circuit without a failure of its own (another worker saw them); false if it was not closed. */
  forceOpen(nowMs: number): boolean {
    if (this.#state !== 'closed') return false;
    this.#open(nowMs);
    return true;
  }

  /** The trial ended without a verdict (client gone): let the next request be the trial. */
  abandon(): void {
    this.#trialInFlight = false;
  }

  reset(): void {
    this.#state = 'closed';
    this.#consecutiveFailures = 0;
    this.#trialInFlight = false;
    this.#openUntilMs = 0;
  }

  #open(nowMs: number): void {
    this.#state = 'open';
    this.#openUntilMs = nowMs + this.#settings.openTimeMs;
  }
}
