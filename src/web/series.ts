/**
 * The web page's chart data, pure: one sample per poll, at most SERIES_LENGTH kept (two minutes at the
 * default 2 s interval). Every column lines up with the time column; a server added later starts with
 * gaps (null), and a removed server's columns go with it.
 */
import type { ServerSnapshot } from '../shared/api-types.js';
import type { TotalsRates } from '../shared/rates.js';

export const SERIES_LENGTH = 60;

/** One chart's series: their names (legend) and columns, each as long as the time column. */
export interface ChartColumns {
  names: string[];
  columns: Array<Array<number | null>>;
}

function push<T>(series: T[], value: T): void {
  series.push(value);
  if (series.length > SERIES_LENGTH) series.shift();
}

export class ChartSeries {
  /** Seconds since the epoch (uPlot's x unit). */
  readonly #times: number[] = [];
  readonly #rps: number[] = [];
  readonly #errors: number[] = [];
  readonly #latency = new Map<string, Array<number | null>>();
  readonly #active = new Map<string, Array<number | null>>();

  add(atMs: number, rates: TotalsRates, servers: readonly ServerSnapshot[]): void {
    push(this.#times, atMs / 1000);
    push(this.#rps, rates.requestsPerSecond);
    push(this.#errors, rates.failuresPerSecond);
    const gaps = this.#times.length - 1;
    for (const s of servers) {
      if (!this.#latency.has(s.id)) {
        this.#latency.set(s.id, new Array<number | null>(gaps).fill(null));
        this.#active.set(s.id, new Array<number | null>(gaps).fill(null));
      }
    }
    const byId = new Map(servers.map((s) => [s.id, s]));
    for (const [id, latency] of this.#latency) {
      const server = byId.get(id);
      if (server === undefined) {
        this.#latency.delete(id);
        this.#active.delete(id);
        continue;
      }
      push(latency, server.ewmaLatencyMs);
      push(this.#active.get(id)!, server.activeRequests);
    }
  }

  get times(): number[] {
    return this.#times;
  }

  traffic(): ChartColumns {
    return { names: ['req/s', 'errors/s'], columns: [this.#rps, this.#errors] };
  }

  latency(): ChartColumns {
    return { names: [...this.#latency.keys()], columns: [...this.#latency.values()] };
  }

  active(): ChartColumns {
    return { names: [...this.#active.keys()], columns: [...this.#active.values()] };
  }
}
