/** Rounds to `digits` decimals (3 by default: microseconds for milliseconds), for JSON that people read. */
export function round(value: number, digits = 3): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
