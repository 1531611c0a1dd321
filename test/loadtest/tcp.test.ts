/**
 * lb loadtest --tcp: the runner against lb --mode tcp over real sockets (counts, bytes, spread), its
 * summary text, and the refusals of flags it cannot honour.
 */
import { describe, expect, it } from 'vitest';
import { formatTcpSummary, summarizeTcp } from '../../src/loadtest/tcp-report.js';
import { tcpTarget } from '../../src/loadtest/tcp-run.js';
import { TcpLoadRun } from '../../src/loadtest/tcp-runner.js';
import { runLb } from '../helpers/cli.js';
import { closedAfterEach, deadAddress } from '../helpers/servers.js';
import { recorded, startTcpLb, startTcpServers } from '../balancer/tcp/helpers.js';

const scope = closedAfterEach();

describe('lb loadtest --tcp', () => {
  it('runs N connections of M bytes through lb and reports connections, bytes and the spread by server name', async () => {
    const servers = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, servers.map((s) => ({ port: s.port, name: s.name })));
    const result = await new TcpLoadRun({ host: '127.0.0.1', port: lb.port, connections: 60, concurrency: 6, bytes: 100_000, names: true, timeoutMs: 10_000 }).run();
    expect(result).toMatchObject({ connections: 60, completed: 60, failed: 0, bytesReceived: 6_000_000, bytesSent: 6_000_000 });
    expect(Object.fromEntries(result.servers)).toEqual({ t1: 30, t2: 30 });
    expect(result.connect.count).toBe(60);
    // lb saw the same: 60 connections, the payload plus the NAME line each way in.
    await recorded(lb, 60);
    expect(lb.stats().totals).toMatchObject({ requests: 60, bytesIn: 60 * 100_005 });
    const summary = summarizeTcp(result, `127.0.0.1:${lb.port}`, 6, 100_000);
    const text = formatTcpSummary(summary);
    expect(text).toContain('Connections 60 opened, 60 echoed in full, 0 failed');
    expect(text).toMatch(/t1\s+30\s+50\.0%/);
  });

  it('counts a refused target as failed connects, by kind', async () => {
    const dead = await deadAddress();
    const result = await new TcpLoadRun({ host: dead.host, port: dead.port, connections: 5, concurrency: 2, bytes: 10, names: false, timeoutMs: 5_000 }).run();
    expect(result).toMatchObject({ completed: 0, failed: 5 });
    expect(Object.fromEntries(result.errors)).toEqual({ 'connect refused': 5 });
  });

  it.each([
    ['tcp://127.0.0.1:6380', { host: '127.0.0.1', port: 6380 }],
    ['localhost:8080', { host: 'localhost', port: 8080 }],
    ['tcp://[::1]:9000', { host: '::1', port: 9000 }],
  ])('reads the target %s', (text, expected) => {
    expect(tcpTarget(text)).toEqual(expected);
  });

  it.each([['tcp://127.0.0.1'], ['ftp://127.0.0.1:21'], ['tcp://127.0.0.1:80/path'], ['not a url at all:']])('refuses the target %s', (text) => {
    expect(() => tcpTarget(text)).toThrow(/--url/);
  });

  it('refuses HTTP-only flags with --tcp, and --bytes without it, as usage errors (exit 2)', async () => {
    const a = await runLb(['loadtest', '--tcp', '--url', 'tcp://127.0.0.1:1', '--method', 'POST', '--cookies']);
    expect(a.code).toBe(2);
    expect(a.stderr).toContain('--method, --cookies: HTTP only, not with --tcp');
    const c = await runLb(['loadtest', '--tcp', '--url', 'tcp://127.0.0.1:1', '--url', 'tcp://127.0.0.1:2']);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain('--tcp takes one --url, got 2');
    const b = await runLb(['loadtest', '--bytes', '10']);
    expect(b.code).toBe(2);
    expect(b.stderr).toContain('--bytes needs --tcp');
  });
});
