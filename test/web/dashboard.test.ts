import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBalancer, type BalancerHandle } from '../../src/balancer/balancer.js';
import { configFrom } from '../../src/balancer/config.js';
import { CONTENT_SECURITY_POLICY } from '../../src/balancer/web-assets.js';
import { createLoadTestControl } from '../../src/loadtest/embedded.js';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import type { TestServerHandle } from '../../src/testserver/server.js';
import { closeAll, startServers, waitFor } from '../helpers/servers.js';

/** Debian's chromium (apt-get install chromium); .ci/run installs it. */
const CHROMIUM = '/usr/lib/chromium/chromium';
const hasChromium = existsSync(CHROMIUM);
const OUTPUT = fileURLToPath(new URL('../../test-output/web/', import.meta.url));

let browser: Browser | undefined;
let lb: BalancerHandle | undefined;
let backends: TestServerHandle[] = [];

beforeAll(async () => {
  if (!hasChromium) return;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    // Without the background-networking flags Chromium keeps trying hosts this closed network refuses.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  await mkdir(OUTPUT, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await closeAll(lb, ...backends);
});

describe.skipIf(!hasChromium)(hasChromium ? 'web dashboard in headless Chromium' : 'web dashboard: SKIPPED, chromium is not installed (apt-get install chromium)', () => {
  it('shows every server, adds and removes one, switches the algorithm, runs a load test, renders safely', async () => {
    backends = await startServers(4);
    lb = await startBalancer(
      configFrom(
        [
          ...backends.slice(0, 3).map((b) => ({ host: '127.0.0.1', port: b.port, name: b.name })),
          // Names are HTTP tokens now (no < or >), but & and ' are token characters: inserted as HTML,
          // this name would show as "a<b>'x" (entities without ';' still decode).
          { host: '127.0.0.1', port: 1, name: "a&ltb&gt'x" },
        ],
        { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false },
      ),
      { loadTests: createLoadTestControl },
    );
    const stats = async () => (await (await fetch(`${lb!.adminUrl}/lb/stats`)).json()) as StatsSnapshot;
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => void d.accept());

    // The page is ES modules compiled from src/web/: its entry must come as JavaScript, under the CSP.
    const entryModule = page.waitForResponse((r) => new URL(r.url()).pathname === '/app/web/app.js');
    await page.goto(`${lb.adminUrl}/`);
    const entry = await entryModule;
    expect([entry.status(), entry.headers()['content-type'], entry.headers()['content-security-policy']]).toEqual([200, 'text/javascript; charset=utf-8', CONTENT_SECURITY_POLICY]);
    await page.waitForSelector('#servers tbody tr[data-server="s3"]');
    const ids = await page.$$eval('#servers tbody tr', (rows) => rows.map((r) => r.firstElementChild?.textContent));
    expect(ids).toEqual(['s1', 's2', 's3', "a&ltb&gt'x"]);
    // Rate limiting is off in this balancer: the card says so rather than showing a count of nothing.
    expect(await page.textContent('#ov-limited')).toBe('off');

    const extra = backends[3]!;
    await page.fill('#add-port', 'not a port');
    await page.fill('#add-host', '127.0.0.1');
    await page.click('#add-form button[type=submit]');
    expect(await page.textContent('#add-error')).toBe('port must be an integer 1-65535');
    await page.fill('#add-port', String(extra.port));
    await page.fill('#add-weight', '2');
    await page.click('#add-form button[type=submit]');
    const newId = `127.0.0.1:${extra.port}`;
    await page.waitForSelector(`#servers tbody tr[data-server="${newId}"]`);
    expect((await stats()).servers.find((s) => s.id === newId)?.weight).toBe(2);
    await page.waitForSelector(`.toast >> text=added ${newId}`);

    await page.click(`#servers tbody tr[data-server="${newId}"] button.danger`);
    await page.waitForSelector(`#servers tbody tr[data-server="${newId}"]`, { state: 'detached' });
    expect((await stats()).servers.some((s) => s.id === newId)).toBe(false);

    await page.selectOption('#algorithm', 'least_connections');
    await page.click('#apply-algorithm');
    await waitFor('the switch in /lb/stats', async () => (await stats()).algorithm === 'least_connections');
    await page.waitForSelector('#ov-algorithm >> text=least_connections');

    await page.click('#test-load');
    await page.waitForSelector('#test-summary:not([hidden])', { timeout: 20_000 });
    expect(await page.textContent('#test-summary')).toMatch(/^load test: 50 requests in [\d.]+ s/);
    expect((await stats()).totals.requests).toBeGreaterThanOrEqual(50);

    await page.waitForTimeout(0);
    await page.screenshot({ path: `${OUTPUT}desktop.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.waitForSelector('#servers tbody tr[data-server="s1"]');
    // A string: it runs in the page, where the DOM lives (this test is compiled without DOM types).
    const overflow = (await page.evaluate('document.documentElement.scrollWidth - window.innerWidth')) as number;
    expect(overflow).toBeLessThanOrEqual(0);
    await page.screenshot({ path: `${OUTPUT}phone.png`, fullPage: true });
    expect(existsSync(`${OUTPUT}desktop.png`) && existsSync(`${OUTPUT}phone.png`)).toBe(true);

    // The unknown-port server (port 1) refuses: its failures are the only errors; the page logged none.
    expect(problems).toEqual([]);
  });

  it('asks for the admin token once and sends it as a bearer header', async () => {
    const servers = await startServers(1);
    const guarded = await startBalancer(configFrom([{ host: '127.0.0.1', port: servers[0]!.port, name: 'only' }], { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false, adminToken: 'let-me-in' }));
    try {
      const page = await browser!.newPage();
      await page.goto(`${guarded.adminUrl}/`);
      await page.waitForSelector('#token-dialog[open]');
      await page.fill('#token-input', 'let-me-in');
      await page.click('#token-form button[type=submit]');
      await page.waitForSelector('#servers tbody tr[data-server="only"]');
      expect(await page.evaluate('sessionStorage.getItem("lb-token")')).toBe('let-me-in');
      await page.close();
    } finally {
      await closeAll(guarded, ...servers);
    }
  });

  it('shows when the balancer is unreachable, and Ctrl+Space pauses auto-refresh', async () => {
    const servers = await startServers(1);
    const own = await startBalancer(configFrom([{ host: '127.0.0.1', port: servers[0]!.port }], { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false }));
    const page = await browser!.newPage();
    await page.goto(`${own.adminUrl}/`);
    await page.selectOption('#interval', '1000');
    await page.waitForSelector('#connection.live');
    await page.keyboard.press('Control+Space');
    await page.waitForSelector('#connection >> text=paused');
    await page.keyboard.press('Control+Space');
    await own.close();
    await closeAll(...servers);
    await page.waitForSelector('#connection.stale', { timeout: 10_000 });
    expect(await page.textContent('#connection')).toMatch(/unreachable/);
    await page.close();
  });
});
