/**
 * Cross-site request forgery against the admin API, attempted by a real page in headless Chromium: a page
 * served from another origin (http://localhost:<other port>) tries every request a browser lets a page send
 * to http://127.0.0.1:<admin port> without the admin's consent. None may change the pool or the algorithm.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';

/** Debian's chromium (apt-get install chromium); .ci/run installs it. */
const CHROMIUM = '/usr/lib/chromium/chromium';
const hasChromium = existsSync(CHROMIUM);

let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
});

const scope = closedAfterEach();

/** The attacker's page: four forgery attempts, then `document.title = 'done'` and the outcomes in `window.results`. */
function attackPage(adminUrl: string, victimPort: number): string {
  const addBody = JSON.stringify({ host: '127.0.0.1', port: victimPort, weight: 1000 });
  return `<!doctype html>
<html><head><title>attacking</title></head><body>
<iframe name="sink" hidden></iframe>
<form id="forge" method="POST" enctype="text/plain" action="${adminUrl}/lb/algorithm" target="sink" hidden>
  <input name='{"algorithm":"weighted","pad":"' value='"}'>
</form>
<script>
const admin = ${JSON.stringify(adminUrl)};
const results = {};
async function attempt(name, run) {
  try {
    const res = await run();
    results[name] = 'resolved ' + res.type;
  } catch (err) {
    results[name] = 'rejected ' + err.name;
  }
}
(async () => {
  await attempt('a', () => fetch(admin + '/lb/add-server', { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'text/plain' }, body: ${JSON.stringify(addBody)} }));
  await attempt('b', () => fetch(admin + '/lb/add-server', { method: 'POST', mode: 'cors', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(addBody)} }));
  await attempt('c', () => fetch(admin + '/lb/algorithm', { method: 'POST', mode: 'no-cors', body: '{"algorithm":"weighted"}' }));
  try {
    const frame = document.querySelector('iframe[name=sink]');
    const loaded = new Promise((resolve) => frame.addEventListener('load', resolve, { once: true }));
    document.getElementById('forge').submit();
    await loaded;
    results.d = 'submitted';
  } catch (err) {
    results.d = 'rejected ' + err.name;
  }
  window.results = results;
  document.title = 'done';
})();
</script>
</body></html>`;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe.skipIf(!hasChromium)(hasChromium ? 'admin API against a cross-site page in headless Chromium' : 'admin API CSRF: SKIPPED, chromium is not installed (apt-get install chromium)', () => {
  it('a foreign page cannot add a server or switch the algorithm; the pool, traffic and the dashboard are unaffected', async () => {
    const [s1, s2, victim] = await scope.startServers(3);
    const lb = await scope.startLb([s1!, s2!]);
    const stats = async (): Promise<StatsSnapshot> => (await (await fetch(`${lb.adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    expect(lb.adminUrl).toBe(`http://127.0.0.1:${lb.adminPort}`);

    const attacker = createServer((_req, res) => {
      const html = attackPage(lb.adminUrl, victim!.port);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
      res.end(html);
    });
    const attackerPort = await listen(attacker);
    scope.track({
      close: () =>
        new Promise<void>((resolve) => {
          attacker.close(() => resolve());
          attacker.closeAllConnections();
        }),
    });

    const context = await browser!.newContext();
    scope.track({ close: () => context.close() });
    const page = await context.newPage();
    // What the balancer answered each forged request that reached it (the page itself only sees opaque responses).
    const answered: Array<{ method: string; path: string; status: number }> = [];
    page.on('response', (res) => {
      const url = new URL(res.url());
      if (url.port === String(lb.adminPort)) answered.push({ method: res.request().method(), path: url.pathname, status: res.status() });
    });

    const attackUrl = `http://localhost:${attackerPort}/`;
    expect(new URL(attackUrl).origin).not.toBe(new URL(lb.adminUrl).origin);
    await page.goto(attackUrl);
    await waitFor('the attack page to settle', async () => (await page.title()) === 'done');
    // The form posts into a frame: wait until the balancer's answer to it has arrived.
    await waitFor('the answer to the forged form', () => answered.filter((a) => a.method === 'POST' && a.path === '/lb/algorithm').length === 2);

    const results = (await page.evaluate('window.results')) as Record<string, string>;
    // no-cors requests resolve with an opaque response whatever the status; the CORS one fails its preflight.
    expect(results).toEqual({ a: 'resolved opaque', b: 'rejected TypeError', c: 'resolved opaque', d: 'submitted' });
    const posts = answered.filter((a) => a.method === 'POST');
    expect(posts).toEqual([
      { method: 'POST', path: '/lb/add-server', status: 403 },
      { method: 'POST', path: '/lb/algorithm', status: 403 },
      { method: 'POST', path: '/lb/algorithm', status: 403 },
    ]);

    // Nothing got through, read a few times in case something was late.
    let reads = 0;
    await waitFor('three unchanged reads of /lb/stats', async () => {
      const now = await stats();
      expect(now.servers.map((s) => s.id)).toEqual(['s1', 's2']);
      expect(now.servers.map((s) => s.weight)).toEqual([1, 1]);
      expect(now.algorithm).toBe('round_robin');
      return ++reads >= 3;
    });

    const seen = new Set<string | null>();
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${lb.url}/`);
      expect(res.status).toBe(200);
      seen.add(res.headers.get('x-lb-server'));
      await res.text();
    }
    expect([...seen].sort()).toEqual(['s1', 's2']);

    const dashboard = await page.goto(`${lb.adminUrl}/`);
    expect(dashboard?.status()).toBe(200);
  });
});
