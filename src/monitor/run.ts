/**
 * The monitor's modes, wired: poller -> model -> dashboard (or plain text). Loaded by the command only
 * when it runs; `lb demo` runs the dashboard from here too.
 */
import { AdminClient, AdminError } from '../shared/admin-client.js';
import { LbError } from '../shared/errors.js';
import { untilSignal } from '../shared/until-signal.js';
import { MonitorModel } from './model.js';
import { formatPlain } from './plain.js';
import { Poller } from './poller.js';

export { AdminClient };

export interface DashboardRun {
  url: string;
  intervalMs: number;
  token: string | null;
  /** Lines for the event log before the first poll (the demo's hints, which the screen would hide). */
  intro?: readonly string[];
}

/** Runs the full-screen dashboard until the user quits (q, Ctrl-C). Used by `lb monitor` and `lb demo`. */
export async function runDashboard({ url, intervalMs, token, intro = [] }: DashboardRun): Promise<void> {
  const { startDashboard } = await import('./dashboard.js');
  const client = new AdminClient({ url, token });
  const model = new MonitorModel(Date.now());
  model.addLog(Date.now(), `watching ${client.url} every ${intervalMs / 1000} s; web dashboard: ${client.url}/`);
  for (const line of intro) model.addLog(Date.now(), line);
  let dashboard: { update(): void } | null = null;
  const poller = new Poller(client, intervalMs, {
    snapshot: (snapshot, at, events) => {
      model.applySnapshot(snapshot, at);
      model.applyEvents(events);
      dashboard?.update();
    },
    error: (message, at) => {
      model.applyError(message, at);
      model.markDisconnectedAfter(Math.max(5000, 3 * poller.intervalMs), at);
      dashboard?.update();
    },
  });
  const handle = startDashboard({ model, client, poll: poller, webUrl: `${client.url}/` });
  dashboard = handle;
  poller.start();
  await handle.closed;
  poller.stop();
}

export async function runPlain(client: AdminClient, intervalMs: number, json: boolean): Promise<void> {
  const model = new MonitorModel(Date.now());
  const poller = new Poller(client, intervalMs, {
    snapshot: (snapshot, at) => {
      model.applySnapshot(snapshot, at);
      process.stdout.write(json ? `${JSON.stringify(snapshot)}\n` : `${formatPlain(snapshot, model, new Date(at))}\n`);
    },
    error: (message, at, retryInMs) => {
      process.stderr.write(`${new Date(at).toISOString()} lb monitor: ${message} (retrying in ${(retryInMs / 1000).toFixed(1)} s)\n`);
    },
  });
  poller.start();
  await untilSignal();
  poller.stop();
}

/** Runs one admin call; an API or connection failure becomes a one-line CLI error (exit 1). */
export async function admin<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof AdminError) throw new LbError('LB_ADMIN_REQUEST', `${what}: ${err.message}`);
    throw err;
  }
}

