/**
 * Injectable randomness: production uses Math.random, tests pass a seeded generator so that anything
 * random (error injection, tie-breaks, sampling) is repeatable.
 */

/** Returns a float in [0, 1). */
export type Random = () => number;

export const defaultRandom: Random = Math.random;

/** mulberry32: tiny, fast, good enough for tests and tie-breaks (not for secrets). */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
