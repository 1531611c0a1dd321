/**
 * Injectable clock, so that timing logic (rates, uptime, breaker windows) is tested without waiting.
 * `now()` is wall-clock milliseconds; `monotonicMs()` never goes backwards and is used for durations.
 */

export interface Clock {
  now(): number;
  monotonicMs(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonicMs: () => performance.now(),
};
