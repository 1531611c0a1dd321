/**
 * The web page's form checks, pure: typed text in, the request body or a message out. They say what is
 * wrong before asking the API, with the bounds the balancer enforces (src/shared/limits.ts); the API
 * checks again and its message wins when the two disagree.
 */
import type { LoadTestSpec, ServerRequestBody } from '../shared/api-types.js';
import { LOAD_TEST_LIMITS, MAX_WEIGHT } from '../shared/limits.js';

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

const WEIGHT_PROBLEM = `weight must be an integer 1-${MAX_WEIGHT}`;

function isIntegerIn(value: number, min: number, max: number): boolean {
  return Number.isInteger(value) && value >= min && value <= max;
}

/** The add-server form: host, port, and an optional weight (empty = the balancer's default). */
export function checkAddServer(hostText: string, portText: string, weightText: string): Checked<ServerRequestBody> {
  const host = hostText.trim();
  const port = Number(portText.trim());
  const weight = weightText.trim() === '' ? undefined : Number(weightText.trim());
  // A first sieve only: the balancer's own check (edge/server-address.ts) decides.
  if (host === '' || /[\s/?#@]/.test(host)) return { ok: false, problem: 'host must be a host name or IP address' };
  if (!isIntegerIn(port, 1, 65_535)) return { ok: false, problem: 'port must be an integer 1-65535' };
  if (weight === undefined) return { ok: true, value: { host, port } };
  if (!isIntegerIn(weight, 1, MAX_WEIGHT)) return { ok: false, problem: WEIGHT_PROBLEM };
  return { ok: true, value: { host, port, weight } };
}

/** A weight typed in a server's row. */
export function checkWeight(text: string): Checked<number> {
  const weight = Number(text.trim());
  return isIntegerIn(weight, 1, MAX_WEIGHT) ? { ok: true, value: weight } : { ok: false, problem: WEIGHT_PROBLEM };
}

/** The custom built-in test: how many requests, how many at once. */
export function checkCustomTest(requestsText: string, concurrencyText: string): Checked<LoadTestSpec> {
  const requests = Number(requestsText.trim());
  const concurrency = Number(concurrencyText.trim());
  if (!isIntegerIn(requests, 1, LOAD_TEST_LIMITS.requests)) return { ok: false, problem: `requests must be an integer 1-${LOAD_TEST_LIMITS.requests}` };
  if (!isIntegerIn(concurrency, 1, LOAD_TEST_LIMITS.concurrency)) return { ok: false, problem: `concurrency must be an integer 1-${LOAD_TEST_LIMITS.concurrency}` };
  return { ok: true, value: { kind: 'custom', requests, concurrency } };
}
