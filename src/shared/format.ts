/**
 * Number formatting for people, written once for every viewer of the admin API: `lb monitor`'s terminal
 * dashboard and plain output, and the web page (which imports this file as a browser module, so it
 * must stay free of Node imports). Pure.
 */

/** `n` with `digits` decimals, or `-` for NaN and infinities (a mean of nothing is not a number). */
export function formatNumber(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** A 0..1 share as a percentage: one decimal under 10% (so 0.4% does not read as 0%), none above. */
export function formatPercent(rate: number): string {
  return `${(rate * 100).toFixed(rate > 0 && rate < 0.1 ? 1 : 0)}%`;
}

/** Seconds as `42s`, `5m07s` or `3h02m`: two units at most, the smaller one zero-padded. */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
