/**
 * The page's uPlot charts. uPlot is not bundled: lb serves its IIFE build from node_modules as a
 * classic script that runs before the page's modules and sets a global, so only its types are imported
 * here (erased at compile time). Without it (a broken install) the page works without charts.
 *
 * Axis labels and legend values are chart-text.ts's. A legend shows the hovered sample's values, and
 * the newest sample's while nothing is hovered (uPlot's own default is "--" without a cursor, which on
 * a page nobody hovers, or a phone, is all it ever showed).
 */
import type uPlot from 'uplot';
import { axisLabels, clockTime, latestOf, legendValue } from './chart-text.js';
import type { ChartColumns, ChartSeries } from './series.js';

const HEIGHT = 180;
const COLOURS = ['#58a6ff', '#f85149', '#3fb950', '#d2a8ff', '#d29922', '#79c0ff'];
/** uPlot's default axis font, named here so the y axis can be measured in it. */
const AXIS_FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const AXIS = { stroke: '#8593a3', grid: { stroke: '#263241' }, font: AXIS_FONT };
/** uPlot's defaults for what sits between a y label and the plot: the tick (10 px) and the gap (5 px). */
const TICK_AND_GAP_PX = 15;
/** Narrowest y axis, uPlot's default: short labels ("0", "5") keep every chart's plot at one left edge. */
const MIN_Y_AXIS_PX = 50;

export type ChartKey = 'traffic' | 'serverRequests' | 'latency' | 'active';

function uPlotGlobal(): typeof uPlot | undefined {
  return (globalThis as { uPlot?: typeof uPlot }).uPlot;
}

function widthOf(target: HTMLElement): number {
  return Math.max(200, target.clientWidth || 320);
}

let measuring: CanvasRenderingContext2D | null | undefined;

/**
 * The y axis as wide as its widest label, so no magnitude is cut. Measured on a canvas of our own:
 * uPlot caches the font it last set on its own canvas, and changing that one would go unnoticed.
 */
function yAxisSize(_u: uPlot, labels: string[] | null): number {
  measuring ??= document.createElement('canvas').getContext('2d');
  if (measuring === null || labels === null) return MIN_Y_AXIS_PX;
  measuring.font = AXIS_FONT;
  const widest = Math.max(0, ...labels.map((label) => measuring!.measureText(label).width));
  return Math.max(MIN_Y_AXIS_PX, Math.ceil(widest + TICK_AND_GAP_PX + 4));
}

/**
 * The time axis as clock times (`14:05:09`), whole seconds apart at least: uPlot's default adds a date
 * row ("11/24/26 9:02am") centred under the first tick, wider than the y axis beside it, so its first
 * character was cut, and writes sub-second ticks (":46.250") while only a few polls are in.
 */
const X_AXIS: uPlot.Axis = {
  ...AXIS,
  // Pixels between ticks, at least: a label is about 50 px wide.
  space: 80,
  incrs: [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600],
  values: (_u, ticks) => ticks.map(clockTime),
};

const Y_AXIS: uPlot.Axis = {
  ...AXIS,
  size: yAxisSize,
  values: (_u, ticks, _axisIndex, _space, step) => axisLabels(ticks, step),
};

/** The x series: the legend's "Time" is the hovered sample's time of day, or the newest's. */
const TIME_SERIES: uPlot.Series = {
  value: (u, time: number | null, _series, index) => clockTime(index === null ? latestOf(u.data[0]) : time),
};

function valueSeries(label: string, index: number): uPlot.Series {
  return {
    label,
    stroke: COLOURS[index % COLOURS.length]!,
    width: 2,
    value: (u, value: number | null, series, at) => legendValue(at === null ? latestOf(u.data[series] ?? []) : value),
  };
}

export class Charts {
  readonly #targets: Record<ChartKey, HTMLElement>;
  /** A chart is rebuilt when its series change (a server added or removed): `signature` says which it shows. */
  readonly #plots = new Map<ChartKey, { plot: uPlot; signature: string }>();

  constructor(targets: Record<ChartKey, HTMLElement>) {
    this.#targets = targets;
  }

  render(series: ChartSeries): void {
    const UPlot = uPlotGlobal();
    if (UPlot === undefined) return;
    this.#set(UPlot, 'traffic', series.times, series.traffic());
    this.#set(UPlot, 'serverRequests', series.times, series.serverRequests());
    this.#set(UPlot, 'latency', series.times, series.latency());
    this.#set(UPlot, 'active', series.times, series.active());
  }

  resize(): void {
    for (const [key, { plot }] of this.#plots) plot.setSize({ width: widthOf(this.#targets[key]), height: HEIGHT });
  }

  #set(UPlot: typeof uPlot, key: ChartKey, times: number[], { names, columns }: ChartColumns): void {
    const signature = names.join('\u0000');
    let chart = this.#plots.get(key);
    if (chart === undefined || chart.signature !== signature) {
      chart?.plot.destroy();
      const target = this.#targets[key];
      const options: uPlot.Options = {
        width: widthOf(target),
        height: HEIGHT,
        legend: { show: true },
        axes: [X_AXIS, Y_AXIS],
        series: [TIME_SERIES, ...names.map(valueSeries)],
      };
      chart = { plot: new UPlot(options, [[], ...names.map(() => [])], target), signature };
      this.#plots.set(key, chart);
    }
    chart.plot.setData([times, ...columns]);
  }
}
