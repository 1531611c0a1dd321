import { describe, expect, it } from 'vitest';
import { MonitorModel } from '../../src/monitor/model.js';
import { abbreviate, barLayout, buildView, escapeTags, formatLogLine, HELP, screenLayout, type ViewOptions } from '../../src/monitor/view-model.js';
import { server, snapshot, worker } from './fixtures.js';

const strip = (text: string) => text.replace(/\x1b\[\d+m/g, '');

function modelWith(): MonitorModel {
  const model = new MonitorModel(0);
  model.applySnapshot(snapshot([server('api-1', { totalRequests: 10 }), server('api-2', { totalRequests: 10 })]), 0);
  model.applySnapshot(
    snapshot(
      [
        // An old incident in the totals (a p99 of 1502 ms); the table shows the last minute.
        server('api-1', { totalRequests: 30, totalSuccesses: 30, avgResponseTimeMs: 400, p99ResponseTimeMs: 1502, recentAvgResponseTimeMs: 4.25, recentP99ResponseTimeMs: 12.5, latencyScoreMs: 8.5, weight: 3 }),
        server('api-2', { state: 'ejected', circuit: 'open', totalRequests: 14, totalSuccesses: 2, totalFailures: 12, errorRate: 0.857, activeRequests: 2 }),
      ],
      { sessions: { mode: 'cookie', active: 7, capacity: 100, ttlSeconds: 60 } },
    ),
    2000,
  );
  return model;
}

const options = (overrides: Partial<ViewOptions> = {}): ViewOptions => ({
  width: 80,
  sparkRows: 5,
  sparkWidth: 20,
  maxBars: 10,
  barLabelWidth: 8,
  selectedId: null,
  paused: false,
  intervalMs: 2000,
  nowMs: 2000,
  ...overrides,
});

describe('buildView: exact setData shapes', () => {
  it('table at 80 columns', () => {
    const view = buildView(modelWith(), options());
    expect(view.table.headers).toEqual(['Server', 'State', 'Act', 'Req/s', 'Total', 'Errs', 'Err%', 'P99', 'Wt', 'Circ']);
    expect(view.table.data.map((row) => row.map(strip))).toEqual([
      ['api-1', 'up', '0', '10.0', '30', '0', '0%', '12.5', '3', 'closed'],
      ['api-2', 'ejected', '2', '2.0', '14', '12', '86%', '0.0', '1', 'open'],
    ]);
    // Widths plus one blank per column fit the table's inner width at 80 columns.
    expect(view.table.columnWidth.reduce((a, b) => a + b + 1, 0)).toBeLessThanOrEqual(77);
    expect(view.table.data[1]![1]).toBe('\x1b[35mejected\x1b[39m');
  });

  it('table at 200 columns adds Avg ms, the least_response_time score and longer names', () => {
    const view = buildView(modelWith(), options({ width: 200 }));
    expect(view.table.headers).toEqual(['Server', 'State', 'Active', 'Req/s', 'Total', 'Errors', 'Err%', 'Avg ms', 'P99 ms', 'Score', 'Weight', 'Circuit']);
    expect(view.table.data[0]!.slice(7, 10).map(strip)).toEqual(['4.3', '12.5', '8.5']);
  });

  it('sparkline, line and bar data', () => {
    const view = buildView(modelWith(), options({ sparkRows: 1, sparkWidth: 1 }));
    expect(view.sparkline).toEqual({ titles: ['api-1 10.0 req/s'], data: [[10]] });
    expect(view.line).toEqual([
      { title: 'req/s', x: ['-2s', '-0s'], y: [0, 12], style: { line: 'green' } },
      { title: 'errors/s', x: ['-2s', '-0s'], y: [0, 6], style: { line: 'red' } },
    ]);
    expect(view.bar).toEqual({ titles: ['api-1', 'api-2'], data: [13, 0] });
  });

  it('header: what matters first, cut to the width, with the connection state', () => {
    const model = modelWith();
    const header = buildView(model, options({ width: 200 })).header;
    expect(header).toBe(
      '{bold}lb{/bold} 127.0.0.1:8080  {green-fg}live{/green-fg}  12.0 req/s  err 50%  1/2 up  round_robin  uptime 1m40s  sessions 7  every 2s',
    );
    expect(buildView(model, options({ width: 40 })).header).toBe('{bold}lb{/bold} 127.0.0.1:8080  {green-fg}live{/green-fg}  12.0 req/s');
    model.applyError('cannot reach x: timed out', 3000);
    expect(buildView(model, options({ width: 200, nowMs: 9000 })).header).toContain('{yellow-fg}stale since 6s{/yellow-fg}');
  });

  it('header: names the web dashboard after the algorithm when there is room', () => {
    const header = buildView(modelWith(), options({ width: 200, webUrl: 'http://127.0.0.1:8081/' })).header;
    expect(header).toContain('  round_robin  web 127.0.0.1:8081/  uptime');
    expect(buildView(modelWith(), options({ width: 80, webUrl: 'http://127.0.0.1:8081/' })).header).not.toContain('web ');
  });

  it('header: with --workers, the process count after the algorithm, and how many are restarting', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('a')], { workers: [worker(1, 'up'), worker(2, 'up')] }), 0);
    expect(buildView(model, options({ width: 200 })).header).toContain('  round_robin  2 workers  uptime');
    model.applySnapshot(snapshot([server('a')], { workers: [worker(1, 'up'), worker(2, 'starting')] }), 1000);
    expect(buildView(model, options({ width: 200 })).header).toContain('  round_robin  2 workers (1 starting)  uptime');
  });

  it('header: shows what the rate limit refused while one is on', () => {
    const model = new MonitorModel(0);
    const limited = snapshot([server('api-1')]);
    limited.limits.rateLimitPerSecond = 50;
    limited.totals.rateLimited = 17;
    model.applySnapshot(limited, 0);
    expect(buildView(model, options({ width: 200 })).header).toContain('  sessions 0  limited 17 (50/s)  every 2s');
  });

  it('keeps the selection on the same server across refreshes and removals', () => {
    const model = modelWith();
    expect(buildView(model, options({ selectedId: 'api-2' })).selectedIndex).toBe(1);
    model.applySnapshot(snapshot([server('api-0'), server('api-1'), server('api-2')]), 4000);
    expect(buildView(model, options({ selectedId: 'api-2' })).selectedIndex).toBe(2);
    model.applySnapshot(snapshot([server('api-1')]), 6000);
    expect(buildView(model, options({ selectedId: 'api-2' })).selectedIndex).toBe(0);
    model.applySnapshot(snapshot([]), 8000);
    expect(buildView(model, options({ selectedId: 'api-2' })).selectedIndex).toBe(-1);
  });

  it('help fits: full at wide screens, short at 80 columns', () => {
    expect(buildView(modelWith(), options({ width: 200 })).help).toBe(HELP);
    expect(buildView(modelWith(), options({ width: 80 })).help.length).toBeLessThanOrEqual(78);
  });
});

describe('helpers', () => {
  it('lays out bars to fit', () => {
    expect(barLayout(3, 44)).toEqual({ maxBars: 3, barWidth: 12, barSpacing: 14 });
    // At 200 columns the p99 panel is ~62 wide: whole 127.0.0.1:3001 ids fit.
    expect(barLayout(3, 62)).toEqual({ maxBars: 3, barWidth: 18, barSpacing: 20 });
    expect(abbreviate('127.0.0.1:3001', 18)).toBe('127.0.0.1:3001');
    expect(abbreviate('api-server-12', 8)).toBe('api-…-12');
    expect(barLayout(5, 22)).toEqual({ maxBars: 5, barWidth: 2, barSpacing: 4 });
    expect(barLayout(50, 22)).toEqual({ maxBars: 5, barWidth: 2, barSpacing: 4 });
  });

  it('never lets API text act as blessed tags', () => {
    expect(escapeTags('{red-fg}x{/red-fg}')).toBe('{open}red-fg{close}x{open}/red-fg{close}');
    expect(formatLogLine({ atMs: Date.UTC(2026, 10, 23, 12, 0, 5), text: 'boom {bold}', level: 'error' })).toBe('12:00:05 {red-fg}boom {open}bold{close}{/red-fg}');
  });
});

describe('screenLayout', () => {
  it('sizes the servers box to its rows, gives the charts what is left, and fills the screen exactly', () => {
    const big = screenLayout(200, 50, 3);
    // Borders, header and a blank: 3 servers need 7 rows, not 45% of 50.
    expect(big.table).toEqual({ top: 1, height: 7 });
    expect(big.charts.panels).toEqual(['sparkline', 'line', 'bar']);
    expect(big.log.top + big.log.height).toBe(49);
    expect(big.charts.height).toBeGreaterThan(20);
  });

  it('at 80 x 24 shows fewer panels rather than squeezed ones', () => {
    const small = screenLayout(80, 24, 3);
    expect(small.charts.panels).toEqual(['sparkline']);
    expect(small.charts.height).toBeGreaterThanOrEqual(5);
    expect(small.log.top + small.log.height).toBe(23);
    // Many servers: the table stops at 40% and scrolls.
    expect(screenLayout(80, 24, 50).table.height).toBe(8);
    // A tiny terminal drops the charts and keeps the table and the log.
    expect(screenLayout(80, 14, 3).charts.panels).toEqual([]);
  });
});

describe('a server ramping up (slow_start)', () => {
  it('shows the weight in use now, and when wide the configured one beside it', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('api-1', { weight: 3, effectiveWeight: 0.6 }), server('api-2', { weight: 2 })]), 0);
    const weightOf = (width: number) => {
      const view = buildView(model, options({ width }));
      const column = view.table.headers.indexOf(width >= 120 ? 'Weight' : 'Wt');
      return view.table.data.map((row) => strip(row[column]!));
    };
    expect(weightOf(200)).toEqual(['0.6/3', '2']);
    expect(weightOf(80)).toEqual(['0.6~', '2']);
  });
});

describe('the circuit column', () => {
  it('spells half_open in full at 80 columns, as the API and the page do', () => {
    const model = new MonitorModel(0);
    model.applySnapshot(snapshot([server('api-1', { circuit: 'half_open', state: 'ejected' })]), 0);
    const view = buildView(model, options({ width: 80 }));
    expect(strip(view.table.data[0]![view.table.headers.indexOf('Circ')]!)).toBe('half_open');
  });
});

describe('a cluster (lb serve --store): the instances panel and the header', () => {
  const instance = (id: string, self: boolean, rps: number, url: string) => ({
    id, self, url, adminUrl: '', version: '0.1.0', uptimeSeconds: 5, configVersion: '12', requests: 100, failures: 2, activeRequests: 0, requestsPerSecond: rps, serversDown: [],
  });
  const clustered = (connected: boolean): MonitorModel => {
    const model = new MonitorModel(0);
    const cluster = {
      cluster: 'prod', connected, quorum: 0, seenUp: {},
      instances: [instance('vm-1234-abcdef', true, 12.5, 'http://127.0.0.1:8080'), instance('vm-5678-012345', false, 7.25, 'http://127.0.0.1:9080')],
      totals: { instances: 2, requests: 200, failures: 4, activeRequests: 0, requestsPerSecond: 19.8 },
    };
    model.applySnapshot(snapshot([server('api-1')], { cluster }), 0);
    return model;
  };

  it('one row per instance, this one starred, as many columns as the panel holds', () => {
    const wide = buildView(clustered(true), options({ instancesWidth: 80 })).instances!;
    expect(wide.headers).toEqual(['Instance', 'Req/s', 'URL', 'Total', 'Errs', 'Cfg']);
    expect(wide.data).toEqual([
      ['*' + abbreviate('vm-1234-abcdef', 12), '12.5', '127.0.0.1:8080', '100', '2', '12'],
      [' ' + abbreviate('vm-5678-012345', 12), '7.3', '127.0.0.1:9080', '100', '2', '12'],
    ]);
    const narrow = buildView(clustered(true), options({ instancesWidth: 32 })).instances!;
    expect(narrow.headers).toEqual(['Instance', 'Req/s', 'Cfg']);
  });

  it('the header names the cluster, its instances and cluster-wide req/s, and says when the store is away', () => {
    expect(buildView(clustered(true), options({ width: 200 })).header).toContain('cluster prod: 2 inst, 19.8 req/s');
    expect(buildView(clustered(false), options({ width: 200 })).header).toContain('cluster prod: 2 inst, 19.8 req/s {yellow-fg}(store away){/yellow-fg}');
    expect(buildView(modelWith(), options({ width: 200 })).instances).toBeNull();
  });

  it('takes the p99 bars place on a wide screen', () => {
    expect(screenLayout(200, 60, 3, true).charts.panels).toEqual(['sparkline', 'line', 'instances']);
    expect(screenLayout(200, 60, 3, false).charts.panels).toEqual(['sparkline', 'line', 'bar']);
  });
});
