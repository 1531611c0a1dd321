/**
 * The load runner as the web dashboard's built-in tests use it: one run at a time, against the
 * balancer's own traffic URL, bounded in count, concurrency and time whatever the request asks.
 * `lb serve` wires this into the balancer (the balancer never imports the load tester itself).
 */
import type { LoadTestSpec, LoadTestStatus } from '../shared/api-types.js';
import { LbError } from '../shared/errors.js';
import { summarize } from './report.js';
import { LoadRun } from './runner.js';
import { LOAD_TEST_LIMITS } from '../shared/limits.js';

export interface LoadTestControl {
  start(spec: LoadTestSpec): LoadTestStatus;
  status(): LoadTestStatus;
  stop(): LoadTestStatus;
  close(): void;
}

const { requests: MAX_REQUESTS, concurrency: MAX_CONCURRENCY, durationSeconds: MAX_DURATION_S } = LOAD_TEST_LIMITS;

function bounded(value: unknown, name: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new LbError('LB_BAD_REQUEST', `body.${name}: must be an integer ${min}-${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function createLoadTestControl(targetUrl: string): LoadTestControl {
  let run: LoadRun | null = null;
  let status: LoadTestStatus = { running: false, spec: null, startedAt: null, progress: null, summary: null, error: null };

  return {
    start(spec) {
      if (run !== null) throw new LbError('LB_CONFLICT', 'a test is already running (POST /api/loadtest/stop ends it)');
      if (spec.kind !== 'load' && spec.kind !== 'stress' && spec.kind !== 'custom') {
        throw new LbError('LB_BAD_REQUEST', `body.kind: must be load, stress or custom, got ${JSON.stringify(spec.kind)}`);
      }
      const requests = spec.kind === 'stress' ? null : spec.kind === 'load' ? 50 : bounded(spec.requests, 'requests', 1, MAX_REQUESTS, 100);
      const concurrency = spec.kind === 'load' ? 5 : bounded(spec.concurrency, 'concurrency', 1, MAX_CONCURRENCY, 10);
      const durationMs = spec.kind === 'stress' ? bounded(spec.durationSeconds, 'durationSeconds', 1, MAX_DURATION_S, 30) * 1000 : null;
      const url = new URL(targetUrl);
      const current = new LoadRun({
        url,
        requests,
        durationMs,
        concurrency,
        rateRps: null,
        method: 'GET',
        headers: ['user-agent', 'lb-dashboard-test'],
        body: null,
        timeoutMs: 10_000,
        paths: [],
        cookies: false,
        timeline: false,
        // The built-in tests target this balancer itself; with TLS on, its own certificate is what it is.
        insecure: url.protocol === 'https:',
      });
      run = current;
      const normalized: LoadTestSpec = { kind: spec.kind, concurrency, ...(requests !== null ? { requests } : {}), ...(durationMs !== null ? { durationSeconds: durationMs / 1000 } : {}) };
      status = { running: true, spec: normalized, startedAt: new Date().toISOString(), progress: null, summary: null, error: null };
      current.on('progress', (p) => {
        status.progress = { done: p.done, total: requests, elapsedMs: p.elapsedMs, durationMs, currentRps: p.currentRps, errors: p.errors };
      });
      current.run().then(
        (result) => {
          const summary = summarize(result, { target: url.href, method: 'GET', concurrency, rateRps: null }, null);
          status = { ...status, running: false, summary };
          run = null;
        },
        (err: Error) => {
          status = { ...status, running: false, error: err.message };
          run = null;
        },
      );
      return status;
    },
    status: () => status,
    stop() {
      run?.stop(200);
      return status;
    },
    close() {
      run?.stop(0);
    },
  };
}
