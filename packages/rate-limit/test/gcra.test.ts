import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Gcra, TokenBucket, gcraAdmit, gcraAvailable, gcraParameters, gcraWaitMs } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';
import { arrivalSchedule } from '@sluice/testing/arbitraries';

describe('GCRA', () => {
  it('decides at fixed instants from the stored TAT alone (10/s, burst 5: T = 100 ms, τ = 500 ms)', async () => {
    const clock = new VirtualClock();
    const gate = new Gcra({ ratePerSecond: 10, burst: 5, clock });
    expect([gate.emissionMs, gate.toleranceMs]).toEqual([100, 500]);
    // [at, count, granted, TAT after, available after]
    const table: [number, number, boolean, number, number][] = [
      [0, 3, true, 300, 2],
      [0, 2, true, 500, 0],
      [0, 1, false, 500, 0],
      [100, 1, true, 600, 0],
      [250, 2, false, 600, 1],
      [300, 2, true, 800, 0],
      [5_000, 5, true, 5_500, 0],
    ];
    for (const [at, count, granted, tat, available] of table) {
      await clock.advanceTo(at);
      expect(gate.tryAcquire(count).granted).toBe(granted);
      expect(gate.theoreticalArrivalTime).toBe(tat);
      expect(gate.available).toBe(available);
    }
  });

  it('the pure functions: admit stores nothing on refusal, waits count the shortfall, a cost above the burst never passes', () => {
    const { emissionMs, toleranceMs } = gcraParameters(10, 5);
    expect(gcraAdmit(-Infinity, 0, 5, emissionMs, toleranceMs)).toBe(500);
    expect(gcraAdmit(500, 0, 1, emissionMs, toleranceMs)).toBeNaN();
    expect(gcraWaitMs(500, 0, 1, emissionMs, toleranceMs)).toBe(100);
    expect(gcraWaitMs(500, 0, 3, emissionMs, toleranceMs)).toBe(300);
    expect(gcraWaitMs(-Infinity, 0, 5, emissionMs, toleranceMs)).toBe(0);
    expect(gcraAdmit(-Infinity, 0, 6, emissionMs, toleranceMs)).toBeNaN(); // 6 > burst: never
    expect(gcraAvailable(300, 0, emissionMs, toleranceMs)).toBe(2);
    expect(gcraAvailable(-Infinity, 0, emissionMs, toleranceMs)).toBe(5);
  });

  it('admits exactly what a token bucket with the same rate and burst admits', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(1, 2, 4, 5, 8, 10, 20, 25, 50, 100, 250, 1000),
        fc.integer({ min: 1, max: 8 }),
        arrivalSchedule({ maxArrivals: 120, maxGapMs: 300, maxCount: 8 }).map((arrivals) =>
          arrivals.map((a) => ({ ...a, atMs: Math.round(a.atMs) })),
        ),
        async (rate, burst, arrivals) => {
          const clock = new VirtualClock();
          const cell = new Gcra({ ratePerSecond: rate, burst, clock });
          const bucket = new TokenBucket({ ratePerSecond: rate, burst, clock });
          for (const { atMs, count } of arrivals) {
            if (count > burst) continue;
            clock.setTime(Math.max(clock.now(), atMs));
            expect(cell.tryAcquire(count).granted).toBe(bucket.tryAcquire(count).granted);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
