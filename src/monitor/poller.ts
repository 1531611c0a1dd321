/**
 * Polls the balancer's stats. Polls never overlap: the next one is scheduled only when the last has
 * finished. After a failure the delay doubles up to 10 s (backoff), and the first success returns to the
 * interval, so a balancer that goes away and comes back is picked up again without a restart.
 * Each poll also reads the balancer's events after the last one seen (`/lb/history?since=`), so every
 * change shows in the log, even one undone within a poll interval.
 */
import type { AdminClient } from '../shared/admin-client.js';
import type { BalancerEvent, StatsSnapshot } from '../shared/api-types.js';

export const MAX_BACKOFF_MS = 10_000;

export interface PollerHandlers {
  /** `events`: what changed since the previous poll, oldest first. */
  snapshot(snapshot: StatsSnapshot, atMs: number, events: BalancerEvent[]): void;
  error(message: string, atMs: number, retryInMs: number): void;
}

export class Poller {
  readonly #client: Pick<AdminClient, 'stats' | 'history'>;
  /** Id of the newest event seen; 0 before the first poll. */
  #sinceEventId = 0;
  readonly #handlers: PollerHandlers;
  #intervalMs: number;
  #timer: NodeJS.Timeout | null = null;
  #failures = 0;
  #polling = false;
  #stopped = false;
  #paused = false;

  constructor(client: Pick<AdminClient, 'stats' | 'history'>, intervalMs: number, handlers: PollerHandlers) {
    this.#client = client;
    this.#intervalMs = intervalMs;
    this.#handlers = handlers;
  }

  get intervalMs(): number {
    return this.#intervalMs;
  }

  get paused(): boolean {
    return this.#paused;
  }

  start(): void {
    this.#schedule(0);
  }

  setInterval(ms: number): void {
    this.#intervalMs = ms;
    if (!this.#polling && !this.#paused) this.#schedule(ms);
  }

  pause(): void {
    this.#paused = true;
    this.#clear();
  }

  resume(): void {
    this.#paused = false;
    if (!this.#polling) this.#schedule(0);
  }

  /** Polls now (after an action), unless a poll is already running. */
  pollNow(): void {
    if (!this.#polling && !this.#stopped) this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    this.#clear();
  }

  #clear(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #schedule(delayMs: number): void {
    this.#clear();
    if (this.#stopped || this.#paused) return;
    this.#timer = setTimeout(() => void this.#poll(), delayMs);
  }

  async #poll(): Promise<void> {
    this.#timer = null;
    this.#polling = true;
    let next = this.#intervalMs;
    try {
      const snapshot = await this.#client.stats();
      let history = await this.#client.history(this.#sinceEventId);
      // Event ids start again when the balancer restarts: read its events from the beginning.
      if (history.lastEventId < this.#sinceEventId) history = await this.#client.history(0);
      this.#sinceEventId = history.lastEventId;
      this.#failures = 0;
      if (!this.#stopped) this.#handlers.snapshot(snapshot, Date.now(), history.events);
    } catch (err) {
      this.#failures += 1;
      next = Math.min(MAX_BACKOFF_MS, this.#intervalMs * 2 ** this.#failures);
      if (!this.#stopped) this.#handlers.error((err as Error).message, Date.now(), next);
    } finally {
      this.#polling = false;
    }
    this.#schedule(next);
  }
}
