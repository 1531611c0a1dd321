/** `lb loadtest --url A --url B`: load spread over several entry points (a cluster's instances), counted per entry point. */
import { describe, expect, it } from 'vitest';
import type { Summary } from '../../src/loadtest/report.js';
import { runLb } from '../helpers/cli.js';
import { closedAfterEach, deadAddress } from '../helpers/servers.js';

const scope = closedAfterEach();

describe('lb loadtest with several --url', () => {
  it('sends to each entry point in turn and reports them one by one, beside the servers behind them', async () => {
    const [s1, s2] = await scope.startServers(2);
    const a = await scope.startLb([s1!]);
    const b = await scope.startLb([s2!]);
    const json = await runLb(['loadtest', '--url', a.url, '--url', `${b.url}/from-b`, '--requests', '40', '--concurrent', '4', '--json']);
    expect(json.code).toBe(0);
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.entryPoints?.map((e) => [e.url, e.requests, e.failures])).toEqual([
      [`${a.url}/`, 20, 0],
      [`${b.url}/from-b`, 20, 0],
    ]);
    // Each instance here has its own server: the servers' counts prove where requests went.
    expect(summary.servers.map((s) => [s.id, s.requests])).toEqual([
      ['s1', 20],
      ['s2', 20],
    ]);
    const text = await runLb(['loadtest', '--url', a.url, '--url', b.url, '--requests', '10', '--concurrent', '2']);
    expect(text.stdout).toMatch(/By entry point\n.*url +requests +failures/);
    expect(text.stdout).toMatch(new RegExp(`^ +${b.url}/ +5 +0 `, 'm'));
  });

  it('an entry point that is gone shows its failures on its own line; the others carry on', async () => {
    const [s1] = await scope.startServers(1);
    const a = await scope.startLb([s1!]);
    const dead = await deadAddress();
    const deadUrl = `http://127.0.0.1:${dead.port}/`;
    const json = await runLb(['loadtest', '--url', a.url, '--url', deadUrl, '--requests', '20', '--concurrent', '2', '--json']);
    const summary = JSON.parse(json.stdout) as Summary;
    expect(summary.entryPoints?.map((e) => [e.url, e.requests, e.failures])).toEqual([
      [`${a.url}/`, 10, 0],
      [deadUrl, 10, 10],
    ]);
    expect(summary.failures.byKind).toEqual({ 'connect refused': 10 });
  });

  it.each([
    { title: 'the same URL twice', args: ['--url', 'http://127.0.0.1:1', '--url', 'http://127.0.0.1:1'], message: /--url http:\/\/127\.0\.0\.1:1\/ given twice/ },
    { title: 'a bad second URL', args: ['--url', 'http://127.0.0.1:1', '--url', 'ftp://x'], message: /--url must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/x"/ },
  ])('$title: a one-line usage error, exit 2', async ({ args, message }) => {
    const result = await runLb(['loadtest', ...args, '--requests', '1']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
  });
});
