/** The web page of a cluster instance (`lb serve --store`), in headless Chromium: the instances panel, and a change through it reaching the other instance. */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatsSnapshot } from '../../src/shared/api-types.js';
import { startRedis, type RedisHandle } from '../helpers/redis.js';
import { closedAfterEach, waitFor } from '../helpers/servers.js';

const CHROMIUM = '/usr/lib/chromium/chromium';
const hasChromium = existsSync(CHROMIUM);
const scope = closedAfterEach();
let browser: Browser | undefined;
let redis: RedisHandle | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  redis = await startRedis();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await redis?.close();
});

describe.skipIf(!hasChromium)('web page of a cluster instance', () => {
  it('lists both instances (this one named) and a drain clicked on A shows on B', async () => {
    const servers = await scope.startServers(2);
    const flags = { store: redis!.url, cluster: `web-${process.pid}` };
    const a = await scope.startLb(servers, flags);
    const b = await scope.startLb(servers, flags);
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    page.on('dialog', (d) => void d.accept());
    await page.goto(`${a.adminUrl}/`);
    await page.waitForSelector('#instances-panel:not([hidden]) #instances tbody tr:nth-child(2)', { timeout: 15_000 });
    const rows = await page.$$eval('#instances tbody tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)));
    expect(rows.map((r) => r[1]).sort()).toEqual([a.url, b.url].sort());
    expect(rows.filter((r) => r[0]!.endsWith('(this one)')).map((r) => r[1])).toEqual([a.url]);
    expect(await page.textContent('#instances-summary')).toMatch(/^cluster web-\d+ · 2 instances · [\d.]+ req\/s together · store connected$/);

    await page.click('#servers tbody tr[data-server="s2"] button:has-text("Drain")');
    await waitFor('B sees s2 drained', async () => ((await (await fetch(`${b.adminUrl}/lb/stats`)).json()) as StatsSnapshot).servers.find((s) => s.id === 's2')?.state === 'drained', 2_000);
    expect(problems).toEqual([]);
    await page.close();
  });
});
