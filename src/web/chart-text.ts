/**
 * The texts the page's charts draw, pure: y-axis labels and legend values. uPlot's defaults write
 * numbers in full with the browser's grouping ("20,000") into an axis 50 px wide, so from 10 000 up the
 * label is cut to "0,000"; here a label is at most a few characters at any magnitude (`20k`, `1.5M`),
 * and charts.ts still sizes the axis to the widest label, so a longer one is never cut either.
 */

const UNITS: ReadonlyArray<readonly [size: number, suffix: string]> = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** The unit a magnitude reads in: 20 000 in k, 1 500 000 in M, 999 as itself. */
function unitOf(magnitude: number): readonly [number, string] {
  return UNITS.find(([size]) => magnitude >= size) ?? [1, ''];
}

/** The fewest decimals (at most 3) that write `step` exactly: 0.25 -> 2, 2.5 -> 1, 5000 -> 0. */
function decimalsFor(step: number): number {
  for (let digits = 0; digits < 3; digits++) {
    const scaled = step * 10 ** digits;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6 * Math.max(1, scaled)) return digits;
  }
  return 3;
}

/** `n` with at most `digits` decimals and no trailing zeros (2.50 -> 2.5, 3.0 -> 3). */
function trimmed(n: number, digits: number): string {
  return String(Number(n.toFixed(digits)));
}

/**
 * One axis's tick labels: every label in the unit of the largest tick (0, 5k, 10k, 15k, 20k, never
 * 5000 beside 10k), with as many decimals as the step between ticks needs (0.5k, 1k, 1.5k).
 */
export function axisLabels(ticks: readonly number[], step: number): string[] {
  const largest = Math.max(0, ...ticks.filter(Number.isFinite).map(Math.abs));
  const [size, suffix] = unitOf(largest);
  const digits = decimalsFor(Math.abs(step) / size);
  return ticks.map((tick) => (!Number.isFinite(tick) ? '' : tick === 0 ? '0' : `${trimmed(tick / size, digits)}${suffix}`));
}

/** A legend value: `-` for no value, one decimal at most, compact from 1000 up (`12.3k`). */
export function legendValue(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const [size, suffix] = unitOf(Math.abs(value));
  return `${trimmed(value / size, 1)}${suffix}`;
}

/** The newest value of a column that is not a gap, or null: what a legend shows while no point is hovered. */
export function latestOf(column: ArrayLike<number | null | undefined>): number | null {
  for (let i = column.length - 1; i >= 0; i--) {
    const value = column[i];
    if (value !== null && value !== undefined) return value;
  }
  return null;
}

/** A sample's time (seconds since the epoch) as the local time of day, `14:05:09`. */
export function clockTime(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  const d = new Date(seconds * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}
