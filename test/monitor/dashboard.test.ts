import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { BalancerHandle } from '../../src/balancer/balancer.js';
import { type DashboardHandle, startDashboard } from '../../src/monitor/dashboard.js';
import { MonitorModel } from '../../src/monitor/model.js';
import { Poller } from '../../src/monitor/poller.js';
import { AdminClient } from '../../src/shared/admin-client.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';

const scope = closedAfterEach();

/** A terminal made of streams: what blessed needs to draw without a TTY. */
function fakeTerminal(columns: number, rows: number) {
  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined, isRaw: true });
  let written = '';
  const output = Object.assign(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        written += chunk.toString('utf8');
        done();
      },
    }),
    { isTTY: true, columns, rows },
  );
  return {
    input,
    output,
    /** Everything drawn so far, escape sequences removed. */
    text: () => written.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, ' ').replace(/\x1b[()][0-9A-B]/g, ''),
    clear: () => (written = ''),
  };
}

let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];
let dashboard: DashboardHandle | undefined;
let poller: Poller | undefined;
afterEach(async () => {
  poller?.stop();
  dashboard?.close();
});

describe('dashboard over a fake terminal (smoke)', () => {
  it('draws the servers, adds one with the `a` prompt, survives a resize, quits on q', async () => {
    backends = await scope.startServers(3);
    lb = await scope.startLb(backends.slice(0, 2));
    const client = new AdminClient({ url: lb.adminUrl });
    const model = new MonitorModel(Date.now());
    const terminal = fakeTerminal(100, 30);
    poller = new Poller(client, 100, {
      snapshot: (s, at, events) => {
        model.applySnapshot(s, at);
        model.applyEvents(events);
        dashboard?.update();
      },
      error: (message, at) => model.applyError(message, at),
    });
    dashboard = startDashboard({ model, client, poll: poller, input: terminal.input, output: terminal.output });
    poller.start();
    await waitFor('both servers on screen', () => terminal.text().includes('s1') && terminal.text().includes('s2') && terminal.text().includes('live'));
    expect(terminal.text()).toContain('Servers');
    expect(dashboard.lastRenderMs).toBeGreaterThan(0);

    const third = backends[2]!;
    terminal.input.write('a');
    await waitFor('the prompt', () => terminal.text().includes('Add server'));
    terminal.input.write(`127.0.0.1:${third.port}\r`);
    await waitFor('the server added through the admin API', () => lb!.pool.findByAddress('127.0.0.1', third.port) !== undefined);
    // Logged once, as the balancer's own event (the dashboard no longer adds a line of its own).
    await waitFor('the event in the log', () => model.log.some((l) => l.text.startsWith(`127.0.0.1:${third.port}: server-added (`)));
    expect(model.log.filter((l) => l.text.includes(`127.0.0.1:${third.port}`))).toHaveLength(1);

    terminal.clear();
    terminal.input.write('a');
    await waitFor('the prompt again', () => terminal.text().includes('Add server'));
    terminal.input.write('not-an-address\r');
    await waitFor('the validation message', () => model.log.some((l) => l.text.startsWith('add server: expected host:port')));
    expect(lb.pool.size).toBe(3);

    terminal.clear();
    Object.assign(terminal.output, { columns: 200, rows: 60 });
    terminal.output.emit('resize');
    await waitFor('a redraw at the new size', () => terminal.text().includes('Avg ms'));

    terminal.input.write('q');
    await dashboard.closed;
  });
});
