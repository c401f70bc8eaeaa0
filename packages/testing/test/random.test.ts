import { describe, expect, it } from 'vitest';
import { createRandom } from '@sluice/testing';

describe('createRandom', () => {
  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = createRandom(42);
    const b = createRandom(42);
    const c = createRandom(43);
    const seqA = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(seqA);
  });

  it('stays in range and is roughly uniform', () => {
    const random = createRandom(7);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const x = random.next();
      expect(x >= 0 && x < 1).toBe(true);
      const bucket = Math.floor(x * 10);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(600);
  });

  it('draws integers, exponentials and normals with the right ranges and means', () => {
    const random = createRandom(1);
    const ints = Array.from({ length: 10_000 }, () => random.int(3, 5));
    expect(new Set(ints)).toEqual(new Set([3, 4, 5]));
    const exps = Array.from({ length: 50_000 }, () => random.exponential(10));
    expect(exps.every((x) => x >= 0)).toBe(true);
    expect(exps.reduce((a, b) => a + b, 0) / exps.length).toBeCloseTo(10, 0);
    const normals = Array.from({ length: 50_000 }, () => random.normal(100, 5));
    expect(normals.reduce((a, b) => a + b, 0) / normals.length).toBeCloseTo(100, 0);
    expect(random.pick(['only'])).toBe('only');
    expect(() => random.pick([])).toThrow(RangeError);
    expect(() => createRandom(1.5)).toThrow(/seed must be a finite integer/);
  });
});
