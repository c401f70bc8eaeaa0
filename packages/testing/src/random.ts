import { checkNumber } from '@sluice/core';

/**
 * A seeded source of random numbers: the same seed gives the same sequence on every runtime, so
 * simulations and tests that use it are reproducible.
 */
export interface Random {
  /** The seed it was created with. */
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max], both inclusive. */
  int(min: number, max: number): number;
  /** A float in [min, max). */
  uniform(min: number, max: number): number;
  /** True with probability `p`. */
  chance(p: number): boolean;
  /** An exponentially distributed float with the given mean (inter-arrival times of a Poisson process). */
  exponential(mean: number): number;
  /** A normally distributed float (Box–Muller). */
  normal(mean: number, standardDeviation: number): number;
  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T;
}

/**
 * Creates a {@link Random} from a 32-bit seed (mulberry32: one 32-bit state word, fast, and
 * plenty for simulations; not for cryptography).
 *
 * @example
 * ```ts
 * const random = createRandom(42);
 * const gapMs = random.exponential(10); // mean 10 ms between arrivals
 * ```
 */
export function createRandom(seed: number): Random {
  checkNumber('createRandom', 'seed', seed, { integer: true });
  let state = seed | 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    uniform: (min, max) => min + next() * (max - min),
    chance: (p) => next() < p,
    exponential: (mean) => -mean * Math.log(1 - next()),
    normal: (mean, standardDeviation) => {
      const u = 1 - next();
      const v = next();
      return mean + standardDeviation * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    },
    pick: (items) => {
      if (items.length === 0) throw new RangeError('Random.pick: the array is empty');
      return items[Math.floor(next() * items.length)] as (typeof items)[number];
    },
  };
}
