/**
 * Bounds that the balancer enforces and that its viewers check before they ask (the web page's forms,
 * the monitor's add prompt), declared once. No Node imports: the web page loads this file as a browser
 * module, and `src/balancer/config.ts` re-exports MAX_WEIGHT for the config file and the admin API.
 */

/** Highest weight a server can have; the lowest is 1. */
export const MAX_WEIGHT = 1_000;

/**
 * The web page's built-in tests (`POST /api/loadtest`): most requests, virtual clients and seconds of
 * one run; `src/loadtest/embedded.ts` enforces them.
 */
export const LOAD_TEST_LIMITS = {
  requests: 10_000,
  concurrency: 100,
  durationSeconds: 60,
} as const;
