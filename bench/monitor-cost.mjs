// Cost of `lb monitor` (not a test: prints figures). A real `lb serve` with N servers runs as a child
// process; the dashboard runs here on a fake 200x60 terminal, polling every second, so this process's CPU
// time is the monitor's. Run after a build:  node bench/monitor-cost.mjs [seconds]
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { startDashboard } from '../dist/monitor/dashboard.js';
import { MonitorModel } from '../dist/monitor/model.js';
import { Poller } from '../dist/monitor/poller.js';
import { AdminClient } from '../dist/shared/admin-client.js';

const SECONDS = Math.min(60, Number(process.argv[2] ?? 20));

async function measure(serverCount) {
  const dir = mkdtempSync(join(tmpdir(), 'lb-monitor-bench-'));
  const file = join(dir, 'servers.json');
  // Addresses nobody listens on: the monitor only reads their stats; health checks are off.
  writeFileSync(file, JSON.stringify(Array.from({ length: serverCount }, (_, i) => ({ host: '127.0.0.1', port: 20000 + i, name: `srv-${i}` }))));
  const lb = spawn(process.execPath, ['bin/lb.js', 'serve', '--port', '0', '--admin-port', '0', '--host', '127.0.0.1', '--servers', file, '--no-health-check', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const adminUrl = await new Promise((resolve, reject) => {
    lb.stdout.on('data', (c) => {
      out += c;
      const m = /admin API: (http:\/\/\S+)\/lb\/stats/.exec(out);
      if (m) resolve(m[1]);
    });
    lb.on('exit', () => reject(new Error(`lb serve exited: ${out}`)));
  });

  const input = Object.assign(new PassThrough(), { isTTY: true, setRawMode: () => undefined });
  const output = Object.assign(new Writable({ write: (_c, _e, done) => done() }), { isTTY: true, columns: 200, rows: 60 });
  const client = new AdminClient({ url: adminUrl });
  const model = new MonitorModel(Date.now());
  const renders = [];
  let dashboard;
  const poller = new Poller(client, 1000, {
    snapshot: (s, at) => {
      model.applySnapshot(s, at);
      dashboard.update();
      renders.push(dashboard.lastRenderMs);
    },
    error: (message) => console.error(`poll failed: ${message}`),
  });
  dashboard = startDashboard({ model, client, poll: poller, input, output });
  poller.start();
  await new Promise((r) => setTimeout(r, 2000)); // warm-up: JIT, first polls
  renders.length = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpu = process.cpuUsage(cpu0);
  const wall = performance.now() - t0;

  // Key response: a key that moves the selection; time until the next frame is drawn.
  const keyT0 = performance.now();
  input.write('\x1b[B');
  await new Promise((r) => setImmediate(r));
  dashboard.update();
  const keyMs = performance.now() - keyT0;

  poller.stop();
  dashboard.close();
  lb.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
  const sorted = [...renders].sort((a, b) => a - b);
  return {
    serverCount,
    cpuPct: ((cpu.user + cpu.system) / 1000 / wall) * 100,
    frames: renders.length,
    renderMedian: sorted[Math.floor(sorted.length / 2)] ?? NaN,
    renderMax: sorted.at(-1) ?? NaN,
    keyMs,
  };
}

console.log(`lb monitor cost: interval 1 s, ${SECONDS} s measured per case, fake 200x60 terminal, node ${process.version}`);
console.log('| servers | CPU (% of one core) | frames | redraw median | redraw max | key -> frame |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const n of [50, 500]) {
  const r = await measure(n);
  console.log(`| ${r.serverCount} | ${r.cpuPct.toFixed(2)}% | ${r.frames} | ${r.renderMedian.toFixed(1)} ms | ${r.renderMax.toFixed(1)} ms | ${r.keyMs.toFixed(1)} ms |`);
}
process.exit(0);
