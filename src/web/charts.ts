/**
 * The page's three uPlot charts. uPlot is not bundled: lb serves its IIFE build from node_modules as a
 * classic script that runs before the page's modules and sets a global, so only its types are imported
 * here (erased at compile time). Without it (a broken install) the page works without charts.
 */
import type uPlot from 'uplot';
import type { ChartColumns, ChartSeries } from './series.js';

const HEIGHT = 180;
const COLOURS = ['#58a6ff', '#f85149', '#3fb950', '#d2a8ff', '#d29922', '#79c0ff'];
const AXIS = { stroke: '#8593a3', grid: { stroke: '#263241' } };

export type ChartKey = 'traffic' | 'latency' | 'active';

function uPlotGlobal(): typeof uPlot | undefined {
  return (globalThis as { uPlot?: typeof uPlot }).uPlot;
}

function widthOf(target: HTMLElement): number {
  return Math.max(200, target.clientWidth || 320);
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
        axes: [AXIS, AXIS],
        series: [{}, ...names.map((label, i) => ({ label, stroke: COLOURS[i % COLOURS.length]!, width: 2 }))],
      };
      chart = { plot: new UPlot(options, [[], ...names.map(() => [])], target), signature };
      this.#plots.set(key, chart);
    }
    chart.plot.setData([times, ...columns]);
  }
}
