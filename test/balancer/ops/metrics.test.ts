import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../../src/balancer/balancer.js';
import type { TestServerHandle } from '../../../src/testserver/server.js';
import { closedAfterEach } from '../../helpers/servers.js';

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

const scope = closedAfterEach();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the Prometheus text format: every line is a comment, blank, or `name{labels} value`. */
function parsePrometheus(text: string): { samples: Sample[]; types: Map<string, string> } {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (line.startsWith('# HELP ')) continue;
    // Values as Go's ParseFloat reads them (Prometheus does): NaN and Inf in any case.
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-][Ii][Nn][Ff])$/.exec(line);
    if (m === null) throw new Error(`not Prometheus text: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const pair of (m[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []) {
      const eq = pair.indexOf('=');
      labels[pair.slice(0, eq)] = pair.slice(eq + 2, -1);
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

const sum = (samples: Sample[], name: string, match: Record<string, string> = {}) =>
  samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);

describe('GET /metrics', () => {
  it('parses as Prometheus text and its counters match the traffic sent', async () => {
    backends = await scope.startServers(2);
    await fetch(`${backends[1]!.url}/control?error_rate=1`);
    lb = await scope.startLb(backends, { file: { servers: backends.map((b) => ({ host: '127.0.0.1', port: b.port, name: b.name })), circuit_breaker: { enabled: false } } });
    for (let i = 0; i < 20; i++) await (await fetch(`${lb.url}/`)).text();
    for (let i = 0; i < 6; i++) await (await fetch(`${lb.url}/`, { method: 'POST', body: 'x' })).text();
    await (await fetch(`${lb.url}/`, { method: 'PROPFIND' })).text();

    const res = await fetch(`${lb.adminUrl}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const { samples, types } = parsePrometheus(await res.text());
    expect(types.get('lb_requests_total')).toBe('counter');
    expect(types.get('lb_request_duration_seconds')).toBe('histogram');
    expect(sum(samples, 'lb_requests_total')).toBe(27);
    expect(sum(samples, 'lb_requests_total', { server: 's1', status_class: '2xx' })).toBe(14);
    expect(sum(samples, 'lb_requests_total', { server: 's2', status_class: '5xx' })).toBe(13);
    expect(sum(samples, 'lb_requests_total', { method: 'POST' })).toBe(6);
    expect(sum(samples, 'lb_requests_total', { method: 'other' })).toBe(1);
    expect(sum(samples, 'lb_request_duration_seconds_count')).toBe(27);
    expect(sum(samples, 'lb_request_duration_seconds_bucket', { server: 's1', le: '+Inf' })).toBe(14);
    expect(sum(samples, 'lb_server_up', { server: 's1' })).toBe(1);
    expect(sum(samples, 'lb_server_circuit_state', { server: 's1' })).toBe(0);
    expect(sum(samples, 'lb_client_received_bytes_total')).toBeGreaterThan(27 * 30);
    expect(sum(samples, 'lb_client_sent_bytes_total')).toBeGreaterThan(27 * 100);
    // Bounded labels: no paths, no client addresses anywhere.
    const labelNames = new Set(samples.flatMap((s) => Object.keys(s.labels)));
    expect([...labelNames].filter((l) => !['server', 'method', 'status_class', 'le', 'result', 'version', 'major', 'minor', 'patch', 'space', 'type', 'kind'].includes(l))).toEqual([]);
  });

  it('drops a removed server\'s series', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends);
    for (let i = 0; i < 4; i++) await (await fetch(`${lb.url}/`)).text();
    lb.admin.removeServer('s2');
    const { samples } = parsePrometheus(await (await fetch(`${lb.adminUrl}/metrics`)).text());
    expect(samples.filter((s) => s.labels.server === 's2')).toEqual([]);
    expect(sum(samples, 'lb_requests_total', { server: 's1' })).toBe(2);
  });

  it('counts health checks and retries at scrape time', async () => {
    backends = await scope.startServers(1);
    lb = await scope.startLb([], { healthCheck: true, file: { servers: [{ host: '127.0.0.1', port: backends[0]!.port, name: 'only' }, { host: '127.0.0.1', port: 1, name: 'dead' }], health_check: { interval: 3600 } } });
    await lb.checkHealth();
    for (let i = 0; i < 4; i++) await (await fetch(`${lb.url}/`)).text();
    const { samples } = parsePrometheus(await (await fetch(`${lb.adminUrl}/metrics`)).text());
    expect(sum(samples, 'lb_health_checks_total', { server: 'only', result: 'pass' })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'lb_health_checks_total', { server: 'dead', result: 'fail' })).toBeGreaterThanOrEqual(1);
    expect(sum(samples, 'lb_retries_total')).toBe(lb.stats().totals.retries);
  });
});

describe.skipIf(!existsSync('/usr/bin/promtool'))(existsSync('/usr/bin/promtool') ? 'promtool' : 'promtool: SKIPPED, not installed (apt-get install prometheus)', () => {
  it('promtool check metrics passes on a scrape with traffic, errors and the process metrics', async () => {
    backends = await scope.startServers(2);
    lb = await scope.startLb(backends);
    for (let i = 0; i < 4; i++) await (await fetch(`${lb.url}/`)).text();
    const text = await (await fetch(`${lb.adminUrl}/metrics`)).text();
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    expect(text).toMatch(/^nodejs_heap_size_used_bytes /m);
    const child = spawn('/usr/bin/promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.stdin.end(text);
    const [code] = (await once(child, 'exit')) as [number];
    expect({ code, out }).toEqual({ code: 0, out: '' });
  });
});
