/**
 * The page's built-in tests panel: starts a run (`POST /api/loadtest`), follows it four times a second
 * until it ends, then shows its summary. The balancer runs one test at a time and bounds it; a run
 * started by another tab or before a reload is picked up by `resume()`.
 */
import type { LoadTestSpec, LoadTestStatus } from '../shared/api-types.js';
import type { AdminApi } from './api.js';
import { el, messageOf } from './dom.js';
import { checkCustomTest } from './forms.js';
import { testProgress, testReport } from './view.js';

export interface LoadTestElements {
  load: HTMLButtonElement;
  stress: HTMLButtonElement;
  custom: HTMLButtonElement;
  stop: HTMLButtonElement;
  customRequests: HTMLInputElement;
  customConcurrency: HTMLInputElement;
  progress: HTMLProgressElement;
  status: HTMLElement;
  summary: HTMLElement;
}

export interface LoadTestHooks {
  notify(message: string, isError?: boolean): void;
  /** Runs a change and reports it (the page's `act`). */
  act(what: string, call: () => Promise<string>): Promise<void>;
  /** A run ended: the balancer's counters now include its requests. */
  finished(): void;
}

const WATCH_EVERY_MS = 250;

export class LoadTestPanel {
  readonly #ui: LoadTestElements;
  readonly #api: AdminApi;
  readonly #hooks: LoadTestHooks;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(ui: LoadTestElements, api: AdminApi, hooks: LoadTestHooks) {
    this.#ui = ui;
    this.#api = api;
    this.#hooks = hooks;
    ui.load.addEventListener('click', () => void this.#start({ kind: 'load' }));
    ui.stress.addEventListener('click', () => void this.#start({ kind: 'stress', durationSeconds: 30, concurrency: 20 }));
    ui.custom.addEventListener('click', () => {
      const spec = checkCustomTest(ui.customRequests.value, ui.customConcurrency.value);
      if (!spec.ok) return hooks.notify(spec.problem, true);
      void this.#start(spec.value);
    });
    ui.stop.addEventListener('click', () => void hooks.act('stop test', async () => (await api.stopLoadTest(), 'stopping the test')));
  }

  /** At load: follow a run already going, or show the last one's summary. */
  async resume(): Promise<void> {
    try {
      const status = await this.#api.loadTest();
      if (status.running) this.#watch();
      else this.#render(status);
    } catch {
      // Built-in tests off in this process, or no token yet: the panel stays as it is.
    }
  }

  async #start(spec: LoadTestSpec): Promise<void> {
    try {
      await this.#api.startLoadTest(spec);
      this.#hooks.notify(`${spec.kind} test started`);
      this.#watch();
    } catch (err) {
      this.#hooks.notify(`test failed to start: ${messageOf(err)}`, true);
    }
  }

  #watch(): void {
    clearTimeout(this.#timer);
    const tick = async (): Promise<void> => {
      let status: LoadTestStatus;
      try {
        status = await this.#api.loadTest();
      } catch (err) {
        this.#ui.status.textContent = `cannot read the test: ${messageOf(err)}`;
        return;
      }
      this.#render(status);
      if (status.running) {
        this.#timer = setTimeout(() => void tick(), WATCH_EVERY_MS);
        return;
      }
      if (status.summary) this.#hooks.notify(`test done: ${status.summary.requests.succeeded} of ${status.summary.requests.issued} succeeded`);
      else if (status.error) this.#hooks.notify(`test failed: ${status.error}`, true);
      this.#hooks.finished();
    };
    void tick();
  }

  #render(status: LoadTestStatus): void {
    const ui = this.#ui;
    for (const b of [ui.load, ui.stress, ui.custom]) b.disabled = status.running;
    ui.stop.hidden = !status.running;
    ui.progress.hidden = !status.running;
    const progress = testProgress(status);
    if (progress !== null) {
      ui.progress.value = progress.value;
      ui.status.textContent = progress.text;
    }
    const report = testReport(status);
    if (report === null) {
      ui.summary.hidden = true;
      return;
    }
    const table = el('table');
    const header = el('tr');
    header.append(...report.headers.map((name) => el('th', name)));
    table.append(
      header,
      ...report.rows.map((cells) => {
        const tr = el('tr');
        tr.append(...cells.map((cell) => el('td', cell)));
        return tr;
      }),
    );
    // Its own scroll box: a long server id on a phone scrolls the table, never the page.
    const wrap = el('div', null, 'table-wrap');
    wrap.append(table);
    ui.summary.replaceChildren(el('div', report.head), el('div', report.latency, 'muted'), wrap);
    ui.summary.hidden = false;
  }
}
