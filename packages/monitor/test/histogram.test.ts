import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { LogLinearHistogram } from '@sluice/monitor';

/** Nearest-rank percentile of sorted samples. */
function exact(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p * sorted.length) / 100));
  return sorted[rank - 1] as number;
}

const sample = fc.oneof(
  fc.double({ min: 0, max: 1, noNaN: true }),
  fc.double({ min: 1, max: 1_000, noNaN: true }),
  fc.double({ min: 1_000, max: 3_600_000, noNaN: true }),
  fc.constant(0),
);

describe('LogLinearHistogram', () => {
  it('every percentile lies in the bucket of the exact nearest-rank value (relative error ≤ 1/subBuckets)', () => {
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1, maxLength: 400 }), fc.double({ min: 0, max: 100, noNaN: true }), (values, p) => {
        const h = new LogLinearHistogram();
        for (const v of values) h.record(v);
        const sorted = [...values].sort((a, b) => a - b);
        for (const q of [50, 90, 99, 99.9, p]) {
          const truth = exact(sorted, q);
          const estimate = h.percentile(q);
          // "within one bucket": the same bucket as the exact value — so below lowestMs both are
          // tiny, and above it the error is at most the bucket's width, 1/16 of its lower bound
          expect(h.indexOf(estimate)).toBe(h.indexOf(truth));
          if (truth >= h.lowestMs) expect(Math.abs(estimate - truth)).toBeLessThanOrEqual(truth / h.subBuckets);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('ranks percentiles without floating-point drift (7 % of 100 samples is the 7th)', () => {
    const h = new LogLinearHistogram();
    const values = Array.from({ length: 100 }, (_, i) => 2 ** (i / 4));
    for (const v of values) h.record(v);
    for (const p of [7, 14, 28, 55, 56]) expect(h.indexOf(h.percentile(p))).toBe(h.indexOf(values[p - 1] as number));
    const thousand = new LogLinearHistogram();
    for (let i = 1; i <= 1_000; i++) thousand.record(i);
    expect(thousand.indexOf(thousand.percentile(99.9))).toBe(thousand.indexOf(999));
  });

  it('keeps count, sum, min, max and mean exact', () => {
    const h = new LogLinearHistogram({ subBuckets: 8, lowestMs: 0.01, highestMs: 60_000 });
    const values = Array.from({ length: 10_000 }, (_, i) => (i * 7.3) % 5_000);
    for (const v of values) h.record(v);
    h.record(-5); // counts as 0
    h.record(Number.NaN); // ignored
    h.record(Infinity); // ignored
    h.record(3, 0.5); // not a whole count: ignored
    h.record(10, 3);
    expect(h.count).toBe(10_004);
    expect(h.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0) + 30, 3);
    expect(h.min).toBe(0);
    expect(h.max).toBe(Math.max(...values));
    expect(h.mean).toBeCloseTo(h.sum / h.count, 9);
    h.record(1e12); // past highestMs: the top bucket, still counted
    expect(h.count).toBe(10_005);
    expect(h.percentile(100)).toBe(1e12);
  });

  it('merging equals recording everything into one; different layouts refuse to merge', () => {
    fc.assert(
      fc.property(fc.array(sample), fc.array(sample), (a, b) => {
        const ha = new LogLinearHistogram();
        const hb = new LogLinearHistogram();
        const all = new LogLinearHistogram();
        for (const v of a) ha.record(v), all.record(v);
        for (const v of b) hb.record(v), all.record(v);
        ha.merge(hb);
        expect([...ha.buckets()]).toEqual([...all.buckets()]);
        expect([ha.count, ha.min, ha.max]).toEqual([all.count, all.min, all.max]);
        expect(ha.sum).toBeCloseTo(all.sum, 6);
      }),
    );
    expect(() => new LogLinearHistogram().merge(new LogLinearHistogram({ subBuckets: 32 }))).toThrow(InvalidArgumentError);
  });

  it('counts at or below a bound without ever overcounting, exactly at bucket edges', () => {
    fc.assert(
      fc.property(fc.array(sample, { minLength: 1 }), fc.double({ min: 0, max: 4_000_000, noNaN: true }), (values, bound) => {
        const h = new LogLinearHistogram();
        for (const v of values) h.record(v);
        const truth = values.filter((v) => v <= bound).length;
        const counted = h.countAtOrBelow(bound);
        expect(counted).toBeLessThanOrEqual(truth);
        const edge = h.upperBoundOf(h.indexOf(bound)); // the end of the bucket holding the bound
        const below = values.filter((v) => v < h.lowerBoundOf(h.indexOf(bound))).length;
        expect(counted).toBeGreaterThanOrEqual(Math.min(below, truth));
        if (edge !== Infinity) expect(h.countAtOrBelow(edge)).toBeGreaterThanOrEqual(values.filter((v) => v < edge).length);
      }),
    );
    expect(new LogLinearHistogram().countAtOrBelow(5)).toBe(0);
    fc.assert(
      fc.property(fc.array(sample), fc.array(fc.double({ min: 0, max: 4_000_000, noNaN: true })), (values, bounds) => {
        const h = new LogLinearHistogram();
        for (const v of values) h.record(v);
        const sorted = [...bounds].sort((a, b) => a - b);
        expect(h.cumulativeCounts(sorted)).toEqual(sorted.map((b) => h.countAtOrBelow(b)));
      }),
    );
  });

  it('reset forgets; empty statistics are NaN; bad options throw', () => {
    const h = new LogLinearHistogram();
    h.record(5);
    h.reset();
    expect([h.count, h.sum]).toEqual([0, 0]);
    expect([h.min, h.max, h.mean, h.percentile(50)].every(Number.isNaN)).toBe(true);
    expect(() => new LogLinearHistogram({ subBuckets: 12 })).toThrow(/power of two/);
    expect(() => new LogLinearHistogram({ lowestMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => new LogLinearHistogram({ lowestMs: 10, highestMs: 15 })).toThrow(InvalidArgumentError);
  });
});
