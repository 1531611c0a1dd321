/**
 * Rate limiting per client: a token bucket per key (client IP by default, or a header, cookie or query
 * parameter, read the way consistent_hash reads its key), refilled at `ratePerSecond` up to `burst`.
 * A request takes one token or is refused with the time until the next one (429 + Retry-After).
 *
 * Written here rather than taken from rate-limiter-flexible: its memory store is a fixed window with a
 * timer per key and answers through a promise, where the traffic path wants a synchronous decision and a
 * table with a hard bound. The table keeps at most `maxKeys` clients; the least recently seen is
 * forgotten first, and a forgotten client comes back with a full bucket (the lenient side: an attacker
 * who floods the table with fresh keys only gains what fresh clients have anyway). Keys longer than
 * 128 characters are stored as a hash, so a 16 KiB header cannot make the table big.
 *
 * Defaults: off (rate 0); burst one second's worth of requests; 100 000 clients tracked.
 */
import { fnv1a } from '../hash.js';
import type { HashKeySpec } from '../hash-key.js';

export interface RateLimitConfig {
  /** Requests per second per client; fractions allowed; 0 = off. */
  ratePerSecond: number;
  /** Requests a client may send at once after a quiet spell; null = one second's worth (at least 1). */
  burst: number | null;
  key: HashKeySpec;
  /** Most clients tracked at once. */
  maxKeys: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = { ratePerSecond: 0, burst: null, key: { kind: 'ip' }, maxKeys: 100_000 };

const MAX_KEY_LENGTH = 128;

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export type RateDecision = { allowed: true; remaining: number } | { allowed: false; retryAfterMs: number };

export class RateLimiter {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxKeys: number;
  /** Requests refused since start (or the last reset). */
  limited = 0;
  /** Keys forgotten to stay within maxKeys. */
  evicted = 0;
  /** Map order is recency order: a key seen again is moved to the end. */
  readonly #buckets = new Map<string, Bucket>();

  constructor(config: Pick<RateLimitConfig, 'ratePerSecond' | 'burst' | 'maxKeys'>) {
    this.ratePerSecond = config.ratePerSecond;
    this.burst = config.burst ?? Math.max(1, Math.ceil(config.ratePerSecond));
    this.maxKeys = config.maxKeys;
  }

  get trackedKeys(): number {
    return this.#buckets.size;
  }

  take(rawKey: string, nowMs: number): RateDecision {
    const key = rawKey.length > MAX_KEY_LENGTH ? `#${fnv1a(rawKey).toString(36)}/${rawKey.length}` : rawKey;
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: this.burst, updatedMs: nowMs };
      if (this.#buckets.size >= this.maxKeys) {
        const oldest = this.#buckets.keys().next().value as string;
        this.#buckets.delete(oldest);
        this.evicted += 1;
      }
    } else {
      this.#buckets.delete(key);
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsedMs * this.ratePerSecond) / 1000);
      bucket.updatedMs = nowMs;
    }
    this.#buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, remaining: Math.floor(bucket.tokens) };
    }
    this.limited += 1;
    return { allowed: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) * 1000) / this.ratePerSecond) };
  }

  /** Zeroes the counters; the buckets stay, so a counter reset never lifts a limit. */
  resetCounters(): void {
    this.limited = 0;
    this.evicted = 0;
  }
}
