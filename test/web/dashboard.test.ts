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
/** Screenshots of each width, to look at; LB_WEB_SHOTS=/tmp/web-shots/ puts them elsewhere. */
const OUTPUT = process.env.LB_WEB_SHOTS ?? fileURLToPath(new URL('../../test-output/web/', import.meta.url));
const DESKTOP = { width: 1280, height: 900 };
const PHONE = { width: 390, height: 844 };

/**
 * Records every text the charts draw on their canvases (uPlot draws axis labels there, not in the DOM):
 * the chart's id, the text, its alignment, and its left and right edges and the canvas's width, in
 * canvas pixels: a text out of 0..width is cut off.
 */
const RECORD_CHART_TEXT = `(() => {
  window.lbChartText = [];
  const fillText = CanvasRenderingContext2D.prototype.fillText;
  CanvasRenderingContext2D.prototype.fillText = function (text, x, y, ...rest) {
    const chart = this.canvas.closest('.chart');
    const width = this.measureText(String(text)).width;
    const left = this.textAlign === 'right' ? x - width : this.textAlign === 'center' ? x - width / 2 : x;
    if (chart) window.lbChartText.push({ chart: chart.id, text: String(text), align: this.textAlign, left, right: left + width, width: this.canvas.width });
    return fillText.call(this, text, x, y, ...rest);
  };
})()`;

/**
 * What a user would see wrong with the layout at the page's width, one sentence each; [] when nothing.
 * A string: it runs in the page, where the DOM lives (this test is compiled without DOM types).
 */
const LAYOUT_PROBLEMS = `(() => {
  const problems = [];
  const width = window.innerWidth;
  const overflow = document.documentElement.scrollWidth - width;
  if (overflow > 0) problems.push('the page scrolls sideways by ' + overflow + ' px');
  // Every server's buttons on screen without scrolling anything (the table's own scroll box included).
  for (const control of document.querySelectorAll('#servers td.actions > *')) {
    const r = control.getBoundingClientRect();
    const box = control.closest('.table-wrap').getBoundingClientRect();
    if (r.left < Math.max(0, box.left) || r.right > Math.min(width, box.right)) {
      problems.push(control.closest('tr').dataset.server + "'s " + (control.textContent || 'weight field') + ' is off-screen (' + Math.round(r.left) + '..' + Math.round(r.right) + ')');
    }
  }
  const summary = document.querySelector('#test-summary:not([hidden]) .table-wrap');
  if (summary && summary.scrollWidth > summary.clientWidth) problems.push('the test summary table is cut: ' + summary.scrollWidth + ' px in ' + summary.clientWidth);
  // A name may wrap only where app.ts allows it (after an underscore): each piece is one line box.
  const algorithm = document.getElementById('ov-algorithm');
  for (const node of algorithm.childNodes) {
    if (node.nodeType !== Node.TEXT_NODE) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (range.getClientRects().length > 1) problems.push('the algorithm card breaks "' + node.textContent + '" mid-word');
  }
  if (algorithm.scrollWidth > algorithm.clientWidth) problems.push('the algorithm name overflows its card');
  return problems;
})()`;

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
    const page = await browser!.newPage({ viewport: DESKTOP });
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

    // The layout with everything on the page: servers, a long algorithm name, a test summary.
    expect(await page.evaluate(LAYOUT_PROBLEMS)).toEqual([]);
    await page.screenshot({ path: `${OUTPUT}desktop.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.waitForSelector('#servers tbody tr[data-server="s1"]');
    expect(await page.evaluate(LAYOUT_PROBLEMS)).toEqual([]);
    await page.screenshot({ path: `${OUTPUT}phone.png`, fullPage: true });

    // The unknown-port server (port 1) refuses: its failures are the only errors; the page logged none.
    expect(problems).toEqual([]);
  });

  it("shows each server's req/s in the table and a chart, and chart labels that read right at 20 000 req/s", async () => {
    const servers = await startServers(3);
    // A long id, as real ones often are: a phone's server card must wrap it, not widen the page.
    const names = ['s1', 's2', 'inventory-eu-west-1a-replica-07'];
    const own = await startBalancer(
      configFrom(servers.map((b, i) => ({ host: '127.0.0.1', port: b.port, name: names[i] })), { port: 0, host: '127.0.0.1', adminPort: 0, healthCheck: false }),
      { loadTests: createLoadTestControl },
    );
    let sending = false;
    let traffic: Promise<void> = Promise.resolve();
    try {
      const page = await browser!.newPage({ viewport: DESKTOP });
      await page.addInitScript(RECORD_CHART_TEXT);
      // From `boostFrom` on, the page is told of 20 000 more requests a second than there were: a rate
      // this test cannot send, read through the page's own polling, rates and charts.
      let boostFrom: number | null = null;
      await page.route('**/lb/stats', async (route) => {
        const response = await route.fetch();
        const stats = (await response.json()) as StatsSnapshot;
        if (boostFrom !== null) stats.totals.requests += Math.round((20_000 * (Date.now() - boostFrom)) / 1000);
        await route.fulfill({ response, json: stats });
      });
      await page.goto(`${own.adminUrl}/`);
      await page.waitForSelector(`#servers tbody tr[data-server="${names[2]}"]`);
      const reqPerSecond = async (): Promise<string[]> => page.$$eval('#servers tbody td[data-label="Req/s"]', (cells) => cells.map((c) => c.textContent ?? ''));
      // One poll: no interval to count over yet, so no number (0 would claim no traffic).
      expect(await reqPerSecond()).toEqual(['-', '-', '-']);

      await page.selectOption('#interval', '1000');
      sending = true;
      traffic = (async () => {
        while (sending) await Promise.all([1, 2, 3].map(async () => void (await (await fetch(own.url)).arrayBuffer())));
      })();
      // Two polls with traffic between them: round robin sent to all three, so every row counts some.
      const rates = await waitFor('req/s in every row', async () => {
        const texts = await reqPerSecond();
        return texts.every((t) => Number(t) > 0) ? texts : null;
      });
      expect(rates).toHaveLength(3);

      // One series per server in the per-server chart, each legend showing a value, not uPlot's "--".
      const legend = async (chart: string): Promise<Array<[string, string]>> =>
        page.$$eval(`#${chart} .u-legend .u-series`, (rows) => rows.map((r) => [r.querySelector('.u-label')?.textContent ?? '', r.querySelector('.u-value')?.textContent ?? '']));
      const perServer = await legend('chart-server-rps');
      expect(perServer.map(([label]) => label)).toEqual(['Time', ...names]);
      expect(perServer[0]![1]).toMatch(/^\d\d:\d\d:\d\d$/);
      expect(perServer.slice(1).filter(([, value]) => !(Number(value) > 0))).toEqual([]);
      sending = false;
      await traffic;

      boostFrom = Date.now();
      await page.evaluate('window.lbChartText.length = 0');
      // Two polls into the boost: the traffic chart's newest rate is about 20 000 req/s.
      await waitFor('the legend at thousands', async () => /k$/.test(Object.fromEntries(await legend('chart-traffic'))['req/s'] ?? ''));
      await waitFor('a redraw at thousands', async () => ((await page.evaluate('window.lbChartText.length')) as number) > 0);
      const drawn = (await page.evaluate('window.lbChartText')) as Array<{ chart: string; text: string; align: string; left: number; right: number; width: number }>;
      // The y axis (labels right-aligned against it): every label compact, and wholly on the canvas.
      const yLabels = drawn.filter((d) => d.chart === 'chart-traffic' && d.align === 'right');
      const texts = [...new Set(yLabels.map((d) => d.text))];
      expect(texts.some((t) => /^\d+(\.\d+)?k$/.test(t)), texts.join(' ')).toBe(true);
      expect(texts.filter((t) => t.includes(',') || t === '0,000')).toEqual([]);
      // No text any chart draws is cut at an edge (the y labels were; so was the first time label's date row).
      expect(drawn.filter((d) => d.left < 0 || d.right > d.width)).toEqual([]);

      expect(await page.evaluate(LAYOUT_PROBLEMS)).toEqual([]);
      await page.screenshot({ path: `${OUTPUT}desktop-rates.png`, fullPage: true });
      await page.setViewportSize(PHONE);
      // A test's summary names every server: the long id must wrap in its cell, not push Errors out.
      await page.click('#test-load');
      await page.waitForSelector(`#test-summary:not([hidden]) >> text=${names[2]}`, { timeout: 20_000 });
      expect(await page.evaluate(LAYOUT_PROBLEMS)).toEqual([]);
      await page.screenshot({ path: `${OUTPUT}phone-rates.png`, fullPage: true });
      await page.close();
    } finally {
      sending = false;
      await traffic;
      await closeAll(own, ...servers);
    }
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
