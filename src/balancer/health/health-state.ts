/**
 * Rise/fall thresholds, as HAProxy names them: `fall` failed checks in a row take a server out, `rise`
 * passed checks in a row bring it back. Pure: `observe(ok)` returns true exactly when the state flips,
 * so callers log and emit only on real transitions.
 */
export class HealthState {
  #healthy: boolean;
  #consecutiveOk = 0;
  #consecutiveFail = 0;
  readonly #rise: number;
  readonly #fall: number;

  constructor(rise: number, fall: number, startHealthy = true) {
    this.#rise = rise;
    this.#fall = fall;
    this.#healthy = startHealthy;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  get consecutiveFailures(): number {
    return this.#consecutiveFail;
  }

  get consecutiveSuccesses(): number {
    return this.#consecutiveOk;
  }

  /** Records one check; true when this check changed healthy <-> unhealthy. */
  observe(ok: boolean): boolean {
    if (ok) {
      this.#consecutiveOk += 1;
      this.#consecutiveFail = 0;
      if (!this.#healthy && this.#consecutiveOk >= this.#rise) {
        this.#healthy = true;
        return true;
      }
    } else {
      this.#consecutiveFail += 1;
      this.#consecutiveOk = 0;
      if (this.#healthy && this.#consecutiveFail >= this.#fall) {
        this.#healthy = false;
        return true;
      }
    }
    return false;
  }
}
