/**
 * Peak-EWMA latency, after Finagle and Linkerd: a slower sample replaces the estimate at once (peak),
 * and the estimate decays exponentially (time constant `tauMs`) while no sample arrives, so a server
 * that was slow once and then got no traffic looks cheaper and cheaper until it is tried again.
 *
 * One change from Finagle's form, measured against the starvation Traefik's leasttime showed
 * (traefik#12306: 5 of 1 500 requests to a server that was slow a few times): a faster sample closes half
 * the gap to the estimate instead of a time-weighted share. With time weighting, a server that recovers
 * needs seconds of wall time to win traffic back however many fast answers it gives; with this it needs a
 * handful of answers, at any request rate.
 */

/** Finagle's default decay time. */
export const DEFAULT_TAU_MS = 10_000;
/** Share of the gap a faster sample closes. */
const RECOVERY = 0.5;

export class PeakEwma {
  #valueMs = 0;
  #stampMs = 0;
  #samples = 0;
  readonly #tauMs: number;

  constructor(tauMs = DEFAULT_TAU_MS) {
    this.#tauMs = tauMs;
  }

  get hasSamples(): boolean {
    return this.#samples > 0;
  }

  observe(rttMs: number, nowMs: number): void {
    const current = this.valueAt(nowMs);
    this.#valueMs = this.#samples === 0 || rttMs > current ? rttMs : current + (rttMs - current) * RECOVERY;
    this.#stampMs = nowMs;
    this.#samples += 1;
  }

  /** The estimate decayed to `nowMs`, in ms. */
  valueAt(nowMs: number): number {
    if (this.#samples === 0) return 0;
    return this.#valueMs * Math.exp(-Math.max(0, nowMs - this.#stampMs) / this.#tauMs);
  }

  reset(): void {
    this.#valueMs = 0;
    this.#stampMs = 0;
    this.#samples = 0;
  }
}
