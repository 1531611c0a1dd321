/**
 * lb's web dashboard, the page's entry module: reads the same admin API as `lb monitor` (one contract,
 * src/shared/api-types.ts), polls it at the chosen interval, and drives it. Rates and number formats
 * are the monitor's own (src/shared/rates.ts, format.ts); bounds are the balancer's (src/shared/limits.ts).
 * Compiled by tsc (tsconfig.web.json) into dist/browser/ and loaded as ES modules under /app/, no bundler.
 * Every value from the API is inserted as text, never as HTML.
 */
import type { AlgorithmName, BalancerEvent, ServerSnapshot, StatsSnapshot } from '../shared/api-types.js';
import { formatPercent } from '../shared/format.js';
import { totalsRates } from '../shared/rates.js';
import { AdminApi, ApiError } from './api.js';
import { Charts } from './charts.js';
import { breakableText, button, byId, el, messageOf, toast } from './dom.js';
import { checkAddServer, checkWeight } from './forms.js';
import { LoadTestPanel } from './load-tests.js';
import { ChartSeries } from './series.js';
import {
  clusterSummary,
  distribution,
  eventKey,
  eventLine,
  INSTANCE_COLUMNS,
  instanceCells,
  isDraining,
  overviewText,
  serverCells,
  serverColumns,
  serverRequestRates,
  type BalancerMode,
  type OverviewText,
} from './view.js';

const TOKEN_KEY = 'lb-token';
/** Event lines kept on the page (the balancer keeps its last 100 too). */
const EVENTS_SHOWN = 100;

const ui = {
  target: byId('target', HTMLElement),
  connection: byId('connection', HTMLElement),
  interval: byId('interval', HTMLSelectElement),
  pause: byId('pause', HTMLButtonElement),
  refresh: byId('refresh', HTMLButtonElement),
  overview: {
    algorithm: byId('ov-algorithm', HTMLElement),
    servers: byId('ov-servers', HTMLElement),
    rps: byId('ov-rps', HTMLElement),
    errors: byId('ov-errors', HTMLElement),
    active: byId('ov-active', HTMLElement),
    total: byId('ov-total', HTMLElement),
    sessions: byId('ov-sessions', HTMLElement),
    limited: byId('ov-limited', HTMLElement),
    uptime: byId('ov-uptime', HTMLElement),
    workers: byId('ov-workers', HTMLElement),
  } satisfies Record<keyof OverviewText, HTMLElement>,
  algorithm: byId('algorithm', HTMLSelectElement),
  applyAlgorithm: byId('apply-algorithm', HTMLButtonElement),
  reset: byId('reset', HTMLButtonElement),
  servers: byId('servers', HTMLTableElement),
  addForm: byId('add-form', HTMLFormElement),
  addHost: byId('add-host', HTMLInputElement),
  addPort: byId('add-port', HTMLInputElement),
  addWeight: byId('add-weight', HTMLInputElement),
  addError: byId('add-error', HTMLElement),
  distribution: byId('distribution', HTMLElement),
  instancesPanel: byId('instances-panel', HTMLElement),
  instancesSummary: byId('instances-summary', HTMLElement),
  instances: byId('instances', HTMLTableElement),
  charts: {
    traffic: byId('chart-traffic', HTMLElement),
    serverRequests: byId('chart-server-rps', HTMLElement),
    latency: byId('chart-latency', HTMLElement),
    active: byId('chart-active', HTMLElement),
  },
  tests: {
    load: byId('test-load', HTMLButtonElement),
    stress: byId('test-stress', HTMLButtonElement),
    custom: byId('test-custom', HTMLButtonElement),
    stop: byId('test-stop', HTMLButtonElement),
    customRequests: byId('custom-requests', HTMLInputElement),
    customConcurrency: byId('custom-concurrency', HTMLInputElement),
    progress: byId('test-progress', HTMLProgressElement),
    status: byId('test-status', HTMLElement),
    summary: byId('test-summary', HTMLElement),
  },
  events: byId('events', HTMLUListElement),
  toasts: byId('toasts', HTMLElement),
  tokenDialog: byId('token-dialog', HTMLDialogElement),
  tokenForm: byId('token-form', HTMLFormElement),
  tokenInput: byId('token-input', HTMLInputElement),
};

type ConnectionKind = 'live' | 'stale' | 'down';

const notify = (message: string, isError = false): void => toast(ui.toasts, message, isError);

const api = new AdminApi(sessionStorage.getItem(TOKEN_KEY), () => {
  if (!ui.tokenDialog.open) ui.tokenDialog.showModal();
});

/** http or tcp, as the last snapshot said: the words of labels, headers and charts follow it. */
let mode: BalancerMode = 'http';

/** The servers table's headers: its text columns (view.ts), then the buttons. */
const serverHeaders = (): Array<{ header: string; title?: string | undefined }> => [...serverColumns(mode), { header: 'Actions', title: undefined }];

/**
 * Switches the page's words to the balancer's mode: every element with a data-tcp label (index.html)
 * shows it in tcp mode and its own text otherwise, data-http-only parts hide; the table header is rebuilt.
 */
function applyMode(next: BalancerMode): void {
  if (next === mode) return;
  mode = next;
  for (const node of document.querySelectorAll<HTMLElement>('[data-tcp]')) {
    node.dataset.http ??= node.textContent ?? '';
    node.textContent = mode === 'tcp' ? node.dataset.tcp! : node.dataset.http;
  }
  // The built-in tests send HTTP requests: nothing a byte stream to any service could answer.
  for (const node of document.querySelectorAll<HTMLElement>('[data-http-only]')) node.hidden = mode === 'tcp';
  renderServerHeaders();
}

/** The header row, built from serverHeaders() at start and when the mode changes. */
function renderServerHeaders(): void {
  const row = el('tr');
  row.append(
    ...serverHeaders().map(({ header, title }) => {
      const th = el('th', header);
      if (title !== undefined) th.title = title;
      return th;
    }),
  );
  ui.servers.createTHead().replaceChildren(row);
}

/** Polling, pause and what the page shows of the balancer. */
class Dashboard {
  #intervalMs = Number(ui.interval.value);
  #paused = false;
  #polling = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #connection: ConnectionKind = 'down';
  /** The last snapshot and when it came: rates are counted from it. */
  #previous: { atMs: number; stats: StatsSnapshot } | null = null;
  readonly #series = new ChartSeries();
  readonly #charts = new Charts(ui.charts);
  readonly #seenEvents = new Set<string>();

  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    clearTimeout(this.#timer);
    try {
      this.#render(await api.stats());
      this.#setConnection('live', 'live');
      this.#renderEvents((await api.history()).events);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : null;
      this.#setConnection(this.#previous ? 'stale' : 'down', status === 401 ? 'token needed' : `unreachable: ${messageOf(err)}`);
    } finally {
      this.#polling = false;
      this.#schedule();
    }
  }

  setIntervalMs(intervalMs: number): void {
    this.#intervalMs = intervalMs;
    this.#schedule();
  }

  togglePause(): void {
    this.#paused = !this.#paused;
    ui.pause.textContent = this.#paused ? 'Resume' : 'Pause';
    notify(this.#paused ? 'auto-refresh paused' : 'auto-refresh resumed');
    if (this.#paused) {
      clearTimeout(this.#timer);
      this.#setConnection(this.#connection === 'live' ? 'live' : 'stale', 'paused');
    } else {
      void this.poll();
    }
  }

  /** After a reset the counters start again: the next rates count from the next snapshot. */
  forgetPrevious(): void {
    this.#previous = null;
  }

  resizeCharts(): void {
    this.#charts.resize();
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    if (!this.#paused) this.#timer = setTimeout(() => void this.poll(), this.#intervalMs);
  }

  #setConnection(kind: ConnectionKind, text: string): void {
    this.#connection = kind;
    ui.connection.className = `badge ${kind}`;
    ui.connection.textContent = this.#paused && kind === 'live' ? 'paused' : text;
  }

  #render(stats: StatsSnapshot): void {
    const now = Date.now();
    const before = this.#previous;
    const seconds = before === null ? 0 : (now - before.atMs) / 1000;
    const rates = totalsRates(stats.totals, before?.stats.totals ?? null, seconds);
    const serverRps = serverRequestRates(stats.servers, before?.stats.servers ?? null, seconds);
    this.#previous = { atMs: now, stats };

    applyMode(stats.mode ?? 'http');
    ui.target.textContent = stats.url;
    const text = overviewText(stats, rates);
    for (const key of Object.keys(ui.overview) as Array<keyof OverviewText>) breakableText(ui.overview[key], text[key]);

    const select = ui.algorithm;
    if (select.options.length !== stats.algorithms.length) select.replaceChildren(...stats.algorithms.map((name) => el('option', name)));
    if (document.activeElement !== select) select.value = stats.algorithm;

    renderServers(stats.servers, serverRps);
    renderInstances(stats);
    renderDistribution(stats.servers);
    this.#series.add(now, rates, stats.servers, serverRps);
    this.#charts.render(this.#series);
  }

  #renderEvents(events: readonly BalancerEvent[]): void {
    const list = ui.events;
    for (const e of events) {
      const key = eventKey(e);
      if (this.#seenEvents.has(key)) continue;
      this.#seenEvents.add(key);
      list.prepend(el('li', eventLine(e)));
    }
    while (list.children.length > EVENTS_SHOWN) list.lastElementChild?.remove();
  }
}

renderServerHeaders();
const dashboard = new Dashboard();

/** Runs a change, shows its result (or why it failed) and polls at once so the page shows it. */
async function act(what: string, call: () => Promise<string>): Promise<void> {
  try {
    notify(await call());
    await dashboard.poll();
  } catch (err) {
    notify(`${what} failed: ${messageOf(err)}`, true);
  }
}

function renderServers(servers: readonly ServerSnapshot[], serverRps: ReadonlyMap<string, number | null>): void {
  const tbody = ui.servers.tBodies[0]!;
  if (servers.length === 0) {
    const empty = el('td', 'no servers: add one below', 'muted');
    empty.colSpan = serverHeaders().length;
    const tr = el('tr');
    tr.append(empty);
    tbody.replaceChildren(tr);
    return;
  }
  // Keep a weight field the user is typing in: rebuild unless focus is in one of the table's inputs.
  const focused = document.activeElement;
  if (focused instanceof HTMLInputElement && tbody.contains(focused)) return;
  tbody.replaceChildren(...servers.map((s) => serverRow(s, serverRps.get(s.id) ?? null)));
}

function serverRow(s: ServerSnapshot, rps: number | null): HTMLTableRowElement {
  const tr = el('tr');
  tr.dataset.server = s.id;
  // data-label: a phone shows each row as a card, every value beside its header (style.css).
  const columns = serverColumns(mode);
  const cells = serverCells(s, rps, mode).map((text, i) => {
    const td = el('td', text);
    td.dataset.label = columns[i]!.header;
    return td;
  });
  cells[1]!.className = `state ${s.state}`;
  tr.append(...cells);

  const draining = isDraining(s);
  const drain = button(draining ? 'Undrain' : 'Drain', 'secondary', () =>
    void act('drain', async () => `${s.id}: ${(await api.updateServer(s.id, { drain: !draining })).server.state}`),
  );
  const weight = el('input');
  weight.value = String(s.weight);
  weight.setAttribute('aria-label', `weight of ${s.id}`);
  weight.inputMode = 'numeric';
  const setWeight = button('Set', 'secondary', () => {
    const checked = checkWeight(weight.value);
    if (!checked.ok) return notify(checked.problem, true);
    void act('set weight', async () => `${s.id}: weight ${(await api.updateServer(s.id, { weight: checked.value })).server.weight}`);
  });
  const remove = button('Remove', 'danger', () => {
    if (!window.confirm(`Remove ${s.id}?`)) return;
    void act('remove', async () => `removed ${(await api.removeServer(s.id)).removed.id}`);
  });
  const actions = el('td', null, 'actions');
  actions.append(drain, weight, setWeight, remove);
  tr.append(actions);
  return tr;
}

/** A cluster's instances (hidden for an instance on its own). */
function renderInstances(stats: StatsSnapshot): void {
  const cluster = stats.cluster;
  ui.instancesPanel.hidden = cluster === undefined;
  if (cluster === undefined) return;
  ui.instancesSummary.textContent = clusterSummary(cluster);
  const head = ui.instances.tHead!;
  if (head.rows.length === 0) {
    const tr = el('tr');
    tr.append(
      ...INSTANCE_COLUMNS.map((c) => {
        const th = el('th', c.header);
        if (c.title !== undefined) th.title = c.title;
        return th;
      }),
    );
    head.append(tr);
  }
  ui.instances.tBodies[0]!.replaceChildren(
    ...cluster.instances.map((i) => {
      const tr = el('tr');
      tr.append(
        ...instanceCells(i).map((text, n) => {
          const td = el('td', text);
          td.dataset.label = INSTANCE_COLUMNS[n]!.header;
          return td;
        }),
      );
      return tr;
    }),
  );
}

function renderDistribution(servers: readonly ServerSnapshot[]): void {
  ui.distribution.replaceChildren(
    ...distribution(servers).map(({ id, share }) => {
      const fill = el('div', null, 'fill');
      fill.style.width = `${(share * 100).toFixed(1)}%`;
      const track = el('div', null, 'track');
      track.append(fill);
      const row = el('div', null, 'row');
      row.append(el('span', id, 'name'), track, el('span', formatPercent(share)));
      return row;
    }),
  );
}

// ---- forms and buttons ----

ui.addForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const checked = checkAddServer(ui.addHost.value, ui.addPort.value, ui.addWeight.value);
  ui.addError.textContent = checked.ok ? '' : checked.problem;
  if (!checked.ok) return;
  void act('add server', async () => {
    const result = await api.addServer(checked.value);
    ui.addForm.reset();
    return `added ${result.server.id}`;
  });
});

ui.applyAlgorithm.addEventListener('click', () => {
  // The options are the API's own list (stats.algorithms); the API checks the name again.
  const algorithm = ui.algorithm.value as AlgorithmName;
  void act('switch algorithm', async () => {
    const result = await api.setAlgorithm(algorithm);
    return `algorithm: ${result.previous} -> ${result.algorithm}`;
  });
});

ui.reset.addEventListener('click', () => {
  if (!window.confirm('Reset all counters?')) return;
  void act('reset', async () => {
    await api.reset();
    dashboard.forgetPrevious();
    return 'counters reset';
  });
});

ui.interval.addEventListener('change', () => dashboard.setIntervalMs(Number(ui.interval.value)));
ui.pause.addEventListener('click', () => dashboard.togglePause());
ui.refresh.addEventListener('click', () => void dashboard.poll());

document.addEventListener('keydown', (event) => {
  const mod = event.ctrlKey || event.metaKey;
  if (mod && (event.key === 'r' || event.key === 'R')) {
    event.preventDefault();
    void dashboard.poll();
  } else if (mod && (event.code === 'Space' || event.key === ' ')) {
    event.preventDefault();
    dashboard.togglePause();
  }
});

ui.tokenForm.addEventListener('submit', () => {
  const token = ui.tokenInput.value.trim() || null;
  api.useToken(token);
  if (token !== null) sessionStorage.setItem(TOKEN_KEY, token);
  void dashboard.poll();
});

window.addEventListener('resize', () => dashboard.resizeCharts());

const tests = new LoadTestPanel(ui.tests, api, { notify, act, finished: () => void dashboard.poll() });

void dashboard.poll();
void tests.resume();
