import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EwmaRate } from '@sluice/monitor';

describe('EwmaRate', () => {
  it('converges to a constant rate, and the first sample only sets the baseline', () => {
    const rate = new EwmaRate({ windowMs: 1_000 });
    rate.observe(1_000, 0);
    expect(rate.perSecond).toBe(0);
    for (let t = 100; t <= 10_000; t += 100) rate.observe(1_000 + t * 0.25, t); // 250 per second
    expect(rate.perSecond).toBeCloseTo(250, 1); // within e^-10 of it after ten windows
  });

  it('a step change shows 63 % of its size after one window', () => {
    const rate = new EwmaRate({ windowMs: 2_000 });
    let total = 0;
    rate.observe(total, 0);
    for (let t = 10; t <= 2_000; t += 10) rate.observe((total += 1), t); // 100 per second from t = 0
    expect(rate.perSecond).toBeCloseTo(100 * (1 - Math.exp(-1)), 6);
  });

  it('irregular sampling of the same counter smooths the same as regular sampling', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 900 }), { minLength: 5, maxLength: 60 }), (gaps) => {
        const perMs = 0.4;
        const irregular = new EwmaRate({ windowMs: 5_000 });
        const regular = new EwmaRate({ windowMs: 5_000 });
        irregular.observe(0, 0);
        regular.observe(0, 0);
        let t = 0;
        for (const gap of gaps) {
          t += gap;
          irregular.observe(t * perMs, t);
        }
        for (let s = 1; s <= t; s++) regular.observe(s * perMs, s);
        expect(irregular.perSecond).toBeCloseTo(regular.perSecond, 6);
      }),
    );
  });

  it('re-baselines when the counter goes backwards', () => {
    const rate = new EwmaRate({ windowMs: 1_000 });
    rate.observe(100, 0);
    rate.observe(200, 1_000);
    const before = rate.perSecond;
    rate.observe(5, 2_000); // a restarted counter
    expect(rate.perSecond).toBe(before);
    rate.observe(105, 3_000);
    expect(rate.perSecond).toBeGreaterThan(before);
    expect(() => new EwmaRate({ windowMs: 0 })).toThrow(/windowMs/);
  });
});
