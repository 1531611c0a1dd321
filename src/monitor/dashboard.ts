/**
 * The terminal dashboard: the ONLY file that imports blessed. It lays the widgets out, copies the
 * view-model into them (one screen.render() per update), handles keys and prompts, and turns every
 * action's result or error into a log line. Nothing the user types can throw out of here: a failed
 * action is a red line in the log, and q / Ctrl-C destroy the screen, which restores the terminal.
 */
import blessed from 'blessed';
import contrib from 'blessed-contrib';
import type { Readable, Writable } from 'node:stream';
import type { AdminClient } from '../shared/admin-client.js';
import { ALGORITHM_NAMES, type AlgorithmName } from '../shared/api-types.js';
import { parseServerInput, type MonitorModel } from './model.js';
import { barLayout, buildView, formatLogLine, screenLayout, type DashboardView, type ScreenLayout } from './view-model.js';
import { MAX_WEIGHT } from '../shared/limits.js';

/** What the dashboard asks of the poller: it never polls itself. */
export interface PollControl {
  readonly intervalMs: number;
  readonly paused: boolean;
  pause(): void;
  resume(): void;
  setInterval(ms: number): void;
  pollNow(): void;
}

export interface DashboardOptions {
  model: MonitorModel;
  client: Pick<AdminClient, 'addServer' | 'removeServer' | 'updateServer' | 'setAlgorithm' | 'reset'>;
  poll: PollControl;
  /** A fake terminal for tests; the process's own by default. */
  input?: Readable;
  output?: Writable;
  now?: () => number;
  /** The web dashboard's address, for the header. */
  webUrl?: string;
}

export interface DashboardHandle {
  /** Redraw from the model (after a poll). */
  update(): void;
  /** Resolves when the user quits (q, Ctrl-C) or close() is called. */
  readonly closed: Promise<void>;
  close(): void;
  /** Last redraw duration, ms (the cost benchmark reads it). */
  readonly lastRenderMs: number;
}

const INTERVAL_STEPS_MS = [250, 500, 1000, 2000, 3000, 5000, 10_000, 30_000];

// blessed-contrib's bundled types are incomplete (the table's inner `rows` list, sparkline's setData);
// these are the few members used, as the library's source defines them.
interface TableWidget extends blessed.Widgets.BoxElement {
  rows: blessed.Widgets.ListElement & { selected: number };
  options: { columnWidth: number[] };
  setData(data: { headers: string[]; data: string[][] }): void;
}
interface SparklineWidget extends blessed.Widgets.BoxElement {
  setData(titles: string[], data: number[][]): void;
}
interface ChartWidget<T> extends blessed.Widgets.BoxElement {
  options: { barWidth?: number; barSpacing?: number };
  setData(data: T): void;
}

export function startDashboard(options: DashboardOptions): DashboardHandle {
  const { model, client, poll } = options;
  const now = options.now ?? Date.now;
  const screen = blessed.screen({
    smartCSR: true,
    title: 'lb monitor',
    // @types/blessed has input and output swapped (input: Writable, output: Readable).
    ...(options.input ? { input: options.input as unknown as Writable } : {}),
    ...(options.output ? { output: options.output as unknown as Readable } : {}),
    warnings: false,
    autoPadding: true,
  });

  const header = blessed.box({ parent: screen, top: 0, left: 0, width: '100%', height: 1, tags: true });
  const table = contrib.table({
    top: 1,
    left: 0,
    width: '100%',
    height: '45%-1',
    label: ' Servers ',
    keys: true,
    interactive: true,
    fg: 'white',
    selectedFg: 'black',
    selectedBg: 'cyan',
    // blessed-contrib pads a cell to width + spacing - 1: spacing 2 keeps one blank between full cells.
    columnSpacing: 2,
    columnWidth: [14, 8],
    border: { type: 'line', fg: 'cyan' },
  } as never) as unknown as TableWidget;
  const sparkline = contrib.sparkline({
    top: '45%',
    left: 0,
    width: '34%',
    height: '32%',
    label: ' req/s per server ',
    tags: true,
    border: { type: 'line', fg: 'cyan' },
    style: { fg: 'blue', titleFg: 'white' },
  } as never) as unknown as SparklineWidget;
  const line = contrib.line({
    top: '45%',
    left: '34%',
    width: '33%',
    height: '32%',
    label: ' total req/s, errors/s ',
    showLegend: true,
    legend: { width: 10 },
    wholeNumbersOnly: false,
    border: { type: 'line', fg: 'cyan' },
  } as never) as unknown as ChartWidget<DashboardView['line']>;
  const bar = contrib.bar({
    top: '45%',
    left: '67%',
    width: '33%',
    height: '32%',
    label: ' p99 ms per server ',
    barWidth: 8,
    barSpacing: 10,
    xOffset: 0,
    maxHeight: 1,
    border: { type: 'line', fg: 'cyan' },
  } as never) as unknown as ChartWidget<DashboardView['bar']>;
  // Shown instead of the bars when the balancer is part of a cluster (`lb serve --store`).
  const instances = contrib.table({
    top: '45%',
    left: '67%',
    width: '33%',
    height: '32%',
    label: ' Instances (* this one) ',
    keys: false,
    interactive: false,
    fg: 'white',
    columnSpacing: 2,
    columnWidth: [14, 22],
    border: { type: 'line', fg: 'cyan' },
  } as never) as unknown as TableWidget;
  const log = contrib.log({
    top: '77%',
    left: 0,
    width: '100%',
    height: '23%-1',
    label: ' Events ',
    tags: true,
    bufferLength: 100,
    border: { type: 'line', fg: 'cyan' },
  } as never) as unknown as blessed.Widgets.ListElement;
  // blessed-contrib draws canvases created on 'attach': widgets are appended after construction, not
  // given a parent, or the event fires before the widget listens for it.
  for (const widget of [table, sparkline, line, bar, instances, log]) screen.append(widget);
  const help = blessed.box({ parent: screen, bottom: 0, left: 0, width: '100%', height: 1, tags: false, style: { fg: 'black', bg: 'cyan' } });
  const charts: blessed.Widgets.BoxElement[] = [table, sparkline, line, bar, instances, log];

  let selectedId: string | null = null;
  let rowIds: string[] = [];
  let modal = false;
  /** The open prompt, list or question: brought to the front after every redraw, so charts never cover it. */
  let dialog: blessed.Widgets.BlessedElement | null = null;
  let placed = '';

  /** Sizes the widgets to the screen and the number of servers; charts are re-attached when they move. */
  const place = (layout: ScreenLayout): void => {
    const key = JSON.stringify(layout);
    if (key === placed) return;
    placed = key;
    const at = (widget: blessed.Widgets.BlessedElement, top: number, height: number, left: string, width: string): void => {
      widget.top = top;
      widget.height = height;
      widget.left = left;
      widget.width = width;
    };
    at(table, layout.table.top, layout.table.height, '0', '100%');
    const panels = layout.charts.panels;
    const share = panels.length === 0 ? 0 : Math.floor(100 / panels.length);
    const chartWidgets: Record<string, blessed.Widgets.BlessedElement> = { sparkline, line, bar, instances };
    for (const [name, widget] of Object.entries(chartWidgets)) {
      const index = panels.indexOf(name as (typeof panels)[number]);
      if (index === -1) {
        widget.hide();
        continue;
      }
      const last = index === panels.length - 1;
      at(widget, layout.charts.top, layout.charts.height, `${index * share}%`, last ? `${100 - index * share}%` : `${share}%`);
      widget.show();
    }
    at(log, layout.log.top, layout.log.height, '0', '100%');
    for (const widget of charts) widget.emit('attach');
  };
  let lastRenderMs = 0;
  let closed = false;
  let resolveClosed: () => void = () => undefined;
  const closedPromise = new Promise<void>((resolve) => (resolveClosed = resolve));

  table.rows.on('select item', (_item: unknown, index: number) => {
    if (rowIds[index] !== undefined) selectedId = rowIds[index]!;
  });
  table.focus();

  const update = (): void => {
    if (closed) return;
    const started = performance.now();
    try {
      const width = Number(screen.width);
      place(screenLayout(width, Number(screen.height), model.snapshot?.servers.length ?? 0, model.snapshot?.cluster !== undefined));
      const bars = barLayout(model.snapshot?.servers.length ?? 0, Number(bar.width) - 4);
      bar.options.barWidth = bars.barWidth;
      bar.options.barSpacing = bars.barSpacing;
      const view = buildView(model, {
        width,
        sparkRows: Math.max(0, Math.floor((Number(sparkline.height) - 2) / 3)),
        sparkWidth: Math.max(1, Number(sparkline.width) - 4),
        maxBars: bars.maxBars,
        barLabelWidth: bars.barWidth,
        instancesWidth: Math.max(10, Number(instances.width) - 4),
        selectedId,
        paused: poll.paused,
        intervalMs: poll.intervalMs,
        nowMs: now(),
        webUrl: options.webUrl ?? null,
      });
      header.setContent(view.header);
      table.options.columnWidth = view.table.columnWidth;
      rowIds = view.rowIds;
      table.setData({ headers: view.table.headers, data: view.table.data });
      if (view.selectedIndex >= 0) {
        table.rows.select(view.selectedIndex);
        selectedId = rowIds[view.selectedIndex] ?? null;
      }
      sparkline.setData(view.sparkline.titles, view.sparkline.data);
      if (view.line[0]!.y.length > 1) line.setData(view.line);
      if (view.bar.titles.length > 0) bar.setData(view.bar);
      if (view.instances !== null) {
        instances.options.columnWidth = view.instances.columnWidth;
        instances.setData({ headers: view.instances.headers, data: view.instances.data });
      }
      log.setItems(model.log.slice(-100).map(formatLogLine) as never);
      log.scrollTo(model.log.length);
      help.setContent(` ${view.help}`);
      dialog?.setFront();
      screen.render();
    } catch (err) {
      // A drawing problem (a chart too small for its data) must not take the monitor down.
      model.addLog(now(), `monitor: cannot draw: ${(err as Error).message}`, 'error');
    }
    lastRenderMs = performance.now() - started;
  };

  const report = (text: string, level: 'info' | 'error' = 'info'): void => {
    model.addLog(now(), text, level);
    update();
  };

  /**
   * Runs an admin action, then polls so the table and the log show it: the log line is the balancer's
   * own event, so a success is not logged here too (it was, twice). Failures are.
   */
  const act = (what: string, action: () => Promise<unknown>): void => {
    action().then(
      () => poll.pollNow(),
      (err: Error) => report(`${what} failed: ${err.message}`, 'error'),
    );
  };

  const selected = (): string | null => {
    const index = table.rows.selected;
    return rowIds[index] ?? selectedId;
  };

  const ask = (question: string, initial: string, done: (value: string | null) => void): void => {
    modal = true;
    const prompt = blessed.prompt({ parent: screen, top: 'center', left: 'center', width: '60%', height: 7, border: 'line', label: ' lb ', tags: false });
    dialog = prompt;
    prompt.input(question, initial, (_err: unknown, value: string | null | undefined) => {
      prompt.destroy();
      dialog = null;
      modal = false;
      table.focus();
      done(value === undefined || value === null ? null : value);
      update();
    });
  };

  const confirm = (question: string, done: () => void): void => {
    modal = true;
    const confirmation = blessed.question({ parent: screen, top: 'center', left: 'center', width: '60%', height: 6, border: 'line', label: ' confirm ' });
    dialog = confirmation;
    // blessed answers true or false here, whatever its types say.
    confirmation.ask(`${question} (y/n)`, (_err: unknown, answer: unknown) => {
      confirmation.destroy();
      dialog = null;
      modal = false;
      table.focus();
      if (answer === true) done();
      update();
    });
  };

  const chooseAlgorithm = (): void => {
    modal = true;
    const current = model.snapshot?.algorithm;
    const list = blessed.list({
      parent: screen,
      top: 'center',
      left: 'center',
      width: 30,
      height: ALGORITHM_NAMES.length + 2,
      border: 'line',
      label: ' algorithm ',
      keys: true,
      items: [...ALGORITHM_NAMES],
      style: { selected: { bg: 'cyan', fg: 'black' } },
    });
    if (current !== undefined) list.select(ALGORITHM_NAMES.indexOf(current));
    dialog = list;
    const finish = (name: AlgorithmName | null): void => {
      list.destroy();
      dialog = null;
      modal = false;
      table.focus();
      if (name !== null) act('switch algorithm', () => client.setAlgorithm(name));
      update();
    };
    list.on('select', (_item: unknown, index: number) => finish(ALGORITHM_NAMES[index] ?? null));
    list.key(['escape', 'q'], () => finish(null));
    list.focus();
    screen.render();
  };

  const changeWeight = (delta: number): void => {
    const id = selected();
    const server = model.snapshot?.servers.find((s) => s.id === id);
    if (id === null || server === undefined) return report('no server selected', 'error');
    const weight = Math.min(MAX_WEIGHT, Math.max(1, server.weight + delta));
    if (weight === server.weight) return report(`${id}: weight stays ${weight} (1-${MAX_WEIGHT})`);
    act('set weight', () => client.updateServer(id, { weight }));
  };

  const keys: Array<[string[], () => void]> = [
    [
      ['a'],
      () =>
        ask('Add server (host:port or host:port:weight):', '', (value) => {
          if (value === null || value.trim() === '') return;
          const parsed = parseServerInput(value);
          if ('error' in parsed) return report(`add server: ${parsed.error}`, 'error');
          act('add server', () => client.addServer(parsed));
        }),
    ],
    [
      ['d'],
      () => {
        const id = selected();
        if (id === null) return report('no server selected', 'error');
        confirm(`Remove ${id}?`, () => act('remove server', () => client.removeServer(id)));
      },
    ],
    [
      ['x'],
      () => {
        const id = selected();
        const server = model.snapshot?.servers.find((s) => s.id === id);
        if (id === null || server === undefined) return report('no server selected', 'error');
        const drain = !(server.state === 'draining' || server.state === 'drained');
        act(drain ? 'drain' : 'undrain', () => client.updateServer(id, { drain }));
      },
    ],
    [
      ['w'],
      () => {
        const id = selected();
        if (id === null) return report('no server selected', 'error');
        const current = model.snapshot?.servers.find((s) => s.id === id)?.weight ?? 1;
        // An empty field: what is typed replaces the weight (a pre-filled one was appended to: 2 -> 25).
        ask(`Weight for ${id} (now ${current}; 1-${MAX_WEIGHT}):`, '', (value) => {
          if (value === null || value.trim() === '') return;
          const weight = Number(value.trim());
          if (!Number.isInteger(weight) || weight < 1 || weight > MAX_WEIGHT) return report(`weight must be an integer 1-${MAX_WEIGHT}, got ${JSON.stringify(value.trim())}`, 'error');
          act('set weight', () => client.updateServer(id, { weight }));
        });
      },
    ],
    [['+', '='], () => changeWeight(1)],
    [['-', '_'], () => changeWeight(-1)],
    [[']'], () => changeWeight(10)],
    [['['], () => changeWeight(-10)],
    [['s'], chooseAlgorithm],
    [['r'], () => confirm('Reset all counters?', () => act('reset', () => client.reset()))],
    [
      ['p'],
      () => {
        if (poll.paused) poll.resume();
        else poll.pause();
        report(poll.paused ? 'updates paused (p resumes)' : 'updates resumed');
      },
    ],
    [['<', ','], () => stepInterval(-1)],
    [['>', '.'], () => stepInterval(1)],
  ];

  const stepInterval = (direction: number): void => {
    const current = poll.intervalMs;
    const next =
      direction > 0 ? (INTERVAL_STEPS_MS.find((ms) => ms > current) ?? current) : ([...INTERVAL_STEPS_MS].reverse().find((ms) => ms < current) ?? current);
    poll.setInterval(next);
    report(`interval ${next / 1000} s`);
  };

  for (const [names, handler] of keys) {
    screen.key(names, () => {
      if (modal || closed) return;
      try {
        handler();
      } catch (err) {
        report(`monitor: ${(err as Error).message}`, 'error');
      }
    });
  }

  const close = (): void => {
    if (closed) return;
    closed = true;
    screen.destroy();
    resolveClosed();
  };
  screen.key(['q', 'C-c'], () => {
    if (!modal) close();
  });
  // Ctrl-C inside a prompt still quits: the user asked to leave.
  screen.key(['C-c'], close);

  screen.on('resize', () => {
    placed = '';
    update();
  });

  update();
  return {
    update,
    closed: closedPromise,
    close,
    get lastRenderMs() {
      return lastRenderMs;
    },
  };
}
