/**
 * Requests waiting for a free server when every available one is at max_conns (HAProxy's queue).
 * Bounded in length (`maxLength`) and in time (`timeoutMs` each); FIFO; one waiter is woken per freed
 * slot, so a burst drains in order instead of stampeding.
 */
export interface Waiter {
  /** A slot freed: try to route again. */
  resume(): void;
  /** Waited `timeoutMs` without a slot. */
  expire(): void;
}

export class RequestQueue {
  readonly #waiting: Waiter[] = [];
  readonly #timers = new Map<Waiter, NodeJS.Timeout>();

  constructor(
    readonly maxLength: number,
    readonly timeoutMs: number,
  ) {}

  get length(): number {
    return this.#waiting.length;
  }

  /** false when the queue is full; `front` puts back a waiter that lost its slot to another. */
  enqueue(waiter: Waiter, front = false): boolean {
    if (this.#waiting.length >= this.maxLength) return false;
    if (front) this.#waiting.unshift(waiter);
    else this.#waiting.push(waiter);
    if (!this.#timers.has(waiter)) {
      this.#timers.set(
        waiter,
        setTimeout(() => {
          this.remove(waiter);
          waiter.expire();
        }, this.timeoutMs),
      );
    }
    return true;
  }

  remove(waiter: Waiter): void {
    const index = this.#waiting.indexOf(waiter);
    if (index !== -1) this.#waiting.splice(index, 1);
    const timer = this.#timers.get(waiter);
    if (timer !== undefined) clearTimeout(timer);
    this.#timers.delete(waiter);
  }

  /** A slot freed somewhere: the longest waiter tries again. */
  wake(): void {
    const waiter = this.#waiting[0];
    if (waiter === undefined) return;
    this.remove(waiter);
    waiter.resume();
  }

  /** Expires every waiter now (shutdown). */
  clear(): void {
    for (const waiter of [...this.#waiting]) {
      this.remove(waiter);
      waiter.expire();
    }
  }
}
