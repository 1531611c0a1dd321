/**
 * Rates from two readings of the balancer's counters, for every viewer (`lb monitor`, the web page).
 * The counters only grow while a balancer runs: one that went down means the balancer restarted or
 * its counters were reset, and that interval counts as zero, never as a negative rate. Pure, and free
 * of Node imports (the web page loads it as a browser module).
 */
import type { StatsTotals } from './api-types.js';

/** How much a counter grew between two readings; 0 when it went down (a restart or a reset). */
export function counterDelta(now: number, before: number): number {
  return now < before ? 0 : now - before;
}

/** A counter's growth per second over `seconds`; 0 when no time passed or the counter went down. */
export function counterRate(now: number, before: number, seconds: number): number {
  return seconds <= 0 ? 0 : counterDelta(now, before) / seconds;
}

/** `part` of `whole` over one interval, 0 when nothing happened (no request, no error rate). */
export function shareOf(part: number, whole: number): number {
  return whole > 0 ? part / whole : 0;
}

export interface TotalsRates {
  requestsPerSecond: number;
  failuresPerSecond: number;
  /** Failures / requests over the interval (not since start: that is `StatsTotals.errorRate`). */
  errorRate: number;
}

/**
 * The balancer-wide rates between two readings `seconds` apart; all zero without an earlier reading.
 * Requests are counted when they start and failures when they end, so a burst can read above 1.
 */
export function totalsRates(now: Pick<StatsTotals, 'requests' | 'failures'>, before: Pick<StatsTotals, 'requests' | 'failures'> | null, seconds: number): TotalsRates {
  if (before === null) return { requestsPerSecond: 0, failuresPerSecond: 0, errorRate: 0 };
  return {
    requestsPerSecond: counterRate(now.requests, before.requests, seconds),
    failuresPerSecond: counterRate(now.failures, before.failures, seconds),
    errorRate: shareOf(counterDelta(now.failures, before.failures), counterDelta(now.requests, before.requests)),
  };
}
