/**
 * The web page against lb --mode tcp in headless Chromium: it switches its words to connections and
 * bytes (the snapshot's mode), shows the servers and their bytes, and logs no error.
 */
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { closedAfterEach, waitFor } from '../helpers/servers.js';
import { exchange, recorded, startTcpLb, startTcpServers } from '../balancer/tcp/helpers.js';

const CHROMIUM = '/usr/lib/chromium/chromium';
const hasChromium = existsSync(CHROMIUM);
const scope = closedAfterEach();

describe.skipIf(!hasChromium)('web dashboard in tcp mode (headless Chromium)', () => {
  it('labels cards, charts and columns for connections and shows the bytes per server', async () => {
    const servers = await startTcpServers(scope, 2);
    const lb = await startTcpLb(scope, servers.map((s) => ({ port: s.port, name: s.name })));
    for (let i = 0; i < 4; i++) await exchange(lb.port, 'x'.repeat(250_000));
    await recorded(lb, 4);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    scope.track({ close: () => browser.close() });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    // The page asks for the built-in tests' state once at load; a tcp balancer has none (404, as an
    // HTTP one started without them): that one answer is expected, any other error is not.
    page.on('response', (r) => r.status() >= 400 && new URL(r.url()).pathname !== '/api/loadtest' && problems.push(`${r.status()} ${new URL(r.url()).pathname}`));
    page.on('console', (m) => m.type() === 'error' && !m.text().includes('404 (Not Found)') && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(`${lb.adminUrl}/`);
    await page.waitForSelector('#servers tbody tr[data-server="t2"]');
    await waitFor('the tcp labels', async () => (await page.$$eval('#servers thead th', (ths) => ths.map((t) => t.textContent))).includes('Conn/s'));
    const headers = await page.$$eval('#servers thead th', (ths) => ths.map((t) => t.textContent));
    expect(headers).toEqual(['Server', 'State', 'Open', 'Conn/s', 'Connections', 'Failed', 'Fail %', 'Connect ms', 'MB in / out', 'Score', 'Weight', 'Circuit', 'Actions']);
    const labels = await page.$$eval('.overview .label', (ls) => ls.map((l) => l.textContent));
    expect(labels).toEqual(expect.arrayContaining(['Connections/s', 'Open connections', 'Total connections', 'MB in / out', 'Rejected (max)']));
    expect(await page.textContent('#ov-total')).toBe('4');
    expect(await page.textContent('#ov-sessions')).toBe('1.0 / 1.0');
    const row = await page.$$eval('#servers tbody tr[data-server="t1"] td', (tds) => tds.map((t) => t.textContent));
    expect(row[8]).toBe('0.5 / 0.5');
    const titles = await page.$$eval('.charts h2', (hs) => hs.map((h) => h.textContent));
    expect(titles).toEqual(['Connection distribution', 'Connections/s and failures/s', 'Connections/s by server', 'Connect time (avg ms)', 'Open connections']);
    expect(await page.isHidden('section[aria-label="tests"]')).toBe(true);
    expect(problems).toEqual([]);
  }, 60_000);
});
