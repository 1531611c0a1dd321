/**
 * tcp mode in the viewers: the snapshot's `mode` switches `lb monitor`'s and the web page's words to
 * connections and bytes; an HTTP snapshot keeps its own.
 */
import { describe, expect, it } from 'vitest';
import { MonitorModel } from '../../src/monitor/model.js';
import { formatPlain } from '../../src/monitor/plain.js';
import { buildView, type ViewOptions } from '../../src/monitor/view-model.js';
import { totalsRates } from '../../src/shared/rates.js';
import { overviewText, serverCells, serverColumns } from '../../src/web/view.js';
import { server, snapshot } from './fixtures.js';

const options = (width: number): ViewOptions => ({ width, nowMs: 3000, paused: false, intervalMs: 1000, selectedId: null, sparkRows: 2, sparkWidth: 10, maxBars: 4, barLabelWidth: 10, webUrl: null }) as ViewOptions;

const tcpSnapshot = (requests: number) => {
  const s = snapshot([server('redis-1', { totalRequests: requests, activeRequests: 7, bytesIn: 2_500_000, bytesOut: 12_000_000, recentAvgResponseTimeMs: 0.4 })], { url: 'tcp://127.0.0.1:6380', mode: 'tcp' });
  s.totals.activeRequests = 7;
  s.totals.bytesIn = 2_500_000;
  s.totals.bytesOut = 12_000_000;
  s.totals.connectionsRejected = 3;
  return s;
};

describe('tcp mode in lb monitor and the web page', () => {
  it('the monitor speaks of connections, open ones and megabytes', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(tcpSnapshot(10), 1000);
    model.applySnapshot(tcpSnapshot(30), 2000);
    const view = buildView(model, options(200));
    expect(view.header).toContain('{bold}lb{/bold} 127.0.0.1:6380 (tcp)');
    expect(view.header).toContain('20.0 conn/s');
    expect(view.header).toContain('7 open, 2.5/12.0 MB in/out');
    expect(view.header).not.toContain('sessions');
    expect(view.table.headers).toEqual(['Server', 'State', 'Open', 'Conn/s', 'Total', 'Failed', 'MB in', 'MB out', 'Conn ms', 'Weight', 'Circuit']);
    expect(view.table.data[0]!.slice(2, 9)).toEqual(['7', '20.0', '30', '0', '2.5', '12.0', '0.4']);
    expect(view.line.map((l) => l.title)).toEqual(['conn/s', 'failed/s']);
    expect(view.sparkline.titles[0]).toBe('redis-1 20.0 conn/s');
    // Every row has a cell per header at 80 columns too.
    const narrow = buildView(model, options(80));
    expect(narrow.table.data[0]).toHaveLength(narrow.table.headers.length);
    expect(narrow.table.headers).toContain('Conn/s');
  });

  it('the plain (non-terminal) output says connections, open, conn/s and MB', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(tcpSnapshot(10), 1000);
    model.applySnapshot(tcpSnapshot(30), 2000);
    const text = formatPlain(model.snapshot!, model, new Date('2026-11-30T12:00:00Z'));
    expect(text).toContain('connections 30  failures 0 (0.0%)  open 7  MB in 2.5 out 12.0  20.0 conn/s');
    expect(text).toMatch(/SERVER\s+STATE\s+OPEN\s+CONN\/S\s+TOTAL\s+FAILED\s+CONN MS\s+MB IN\s+MB OUT\s+CIRCUIT/);
    expect(text).toMatch(/redis-1\s+up\s+7\s+20\.0\s+30\s+0\s+0\.4\s+2\.5\s+12\.0\s+closed/);
  });

  it('an HTTP snapshot keeps requests', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a', { totalRequests: 5 })]), 1000);
    const view = buildView(model, options(200));
    expect(view.table.headers).toContain('Req/s');
    expect(view.line[0]!.title).toBe('req/s');
  });

  it('the web page: bytes instead of sessions, rejected connections, connection headers and a bytes column', () => {
    const stats = tcpSnapshot(30);
    const text = overviewText(stats, totalsRates(stats.totals, null, 0));
    expect(text.sessions).toBe('2.5 / 12.0');
    expect(text.limited).toBe('3');
    expect(text.active).toBe('7');
    const headers = serverColumns('tcp').map((c) => c.header);
    expect(headers).toEqual(['Server', 'State', 'Open', 'Conn/s', 'Connections', 'Failed', 'Fail %', 'Connect ms', 'MB in / out', 'Score', 'Weight', 'Circuit']);
    expect(serverCells(stats.servers[0]!, 2, 'tcp')[8]).toBe('2.5 / 12.0');
    expect(serverColumns('http').map((c) => c.header)).toContain('Req/s');
  });
});
