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

/** A server's columns, one per per-server chart. */
interface ServerColumns {
  requestsPerSecond: Array<number | null>;
  latency: Array<number | null>;
  active: Array<number | null>;
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
  /** In the order servers first appeared: the order of every per-server chart's series. */
  readonly #servers = new Map<string, ServerColumns>();

  /**
   * One poll: the balancer-wide rates, the servers, and each server's req/s over the same interval
   * (null, a gap, while it is not known yet; see view.ts serverRequestRates).
   */
  add(atMs: number, rates: TotalsRates, servers: readonly ServerSnapshot[], serverRps: ReadonlyMap<string, number | null>): void {
    push(this.#times, atMs / 1000);
    push(this.#rps, rates.requestsPerSecond);
    push(this.#errors, rates.failuresPerSecond);
    const gaps = this.#times.length - 1;
    const gap = (): Array<number | null> => new Array<number | null>(gaps).fill(null);
    for (const s of servers) {
      if (!this.#servers.has(s.id)) this.#servers.set(s.id, { requestsPerSecond: gap(), latency: gap(), active: gap() });
    }
    const byId = new Map(servers.map((s) => [s.id, s]));
    for (const [id, columns] of this.#servers) {
      const server = byId.get(id);
      if (server === undefined) {
        this.#servers.delete(id);
        continue;
      }
      push(columns.requestsPerSecond, serverRps.get(id) ?? null);
      push(columns.latency, server.ewmaLatencyMs);
      push(columns.active, server.activeRequests);
    }
  }

  get times(): number[] {
    return this.#times;
  }

  traffic(): ChartColumns {
    return { names: ['req/s', 'errors/s'], columns: [this.#rps, this.#errors] };
  }

  /** Each server's req/s: where traffic goes, and when it shifts away from a slow server. */
  serverRequests(): ChartColumns {
    return this.#perServer('requestsPerSecond');
  }

  latency(): ChartColumns {
    return this.#perServer('latency');
  }

  active(): ChartColumns {
    return this.#perServer('active');
  }

  #perServer(key: keyof ServerColumns): ChartColumns {
    return { names: [...this.#servers.keys()], columns: [...this.#servers.values()].map((columns) => columns[key]) };
  }
}
