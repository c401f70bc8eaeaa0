import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Gate } from '@sluice/core';
import { Gcra, SlidingWindow, TokenBucket, allOf } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';
import { arrivalSchedule } from '@sluice/testing/arbitraries';

type Make = (clock: VirtualClock, rate: number, burst: number) => Gate;

const buckets: Record<string, Make> = {
  TokenBucket: (clock, rate, burst) => new TokenBucket({ ratePerSecond: rate, burst, clock, queueLimit: 10_000 }),
  Gcra: (clock, rate, burst) => new Gcra({ ratePerSecond: rate, burst, clock, queueLimit: 10_000 }),
};

/** Largest admitted count in any window [a, b] of the sorted admissions, minus what the limit allows there. */
function worstExcess(admissions: readonly { at: number; count: number }[], allowed: (lengthMs: number) => number): number {
  let worst = -Infinity;
  for (let i = 0; i < admissions.length; i++) {
    let sum = 0;
    for (let j = i; j < admissions.length; j++) {
      sum += (admissions[j] as { count: number }).count;
      const length = (admissions[j] as { at: number }).at - (admissions[i] as { at: number }).at;
      worst = Math.max(worst, sum - allowed(length));
    }
  }
  return worst;
}

const rates = fc.constantFrom(1, 3, 7, 10, 50, 333, 1000);

describe('rate limits in virtual time (fast-check)', () => {
  for (const [name, make] of Object.entries(buckets)) {
    it(`${name}: in every window of length t, tryAcquire admits at most burst + rate × t`, async () => {
      await fc.assert(
        fc.asyncProperty(
          rates,
          fc.integer({ min: 1, max: 10 }),
          arrivalSchedule({ maxArrivals: 150, maxGapMs: 200, maxCount: 4 }),
          async (rate, burst, arrivals) => {
            const clock = new VirtualClock();
            const gate = make(clock, rate, burst);
            const admitted: { at: number; count: number }[] = [];
            for (const { atMs, count } of arrivals) {
              clock.setTime(atMs);
              if (count <= burst && gate.tryAcquire(count).granted) admitted.push({ at: atMs, count });
            }
            expect(worstExcess(admitted, (t) => burst + (rate * t) / 1000)).toBeLessThanOrEqual(1e-6);
          },
        ),
        { numRuns: 200 },
      );
    });

    it(`${name}: waiting acquires are granted in order and within burst + rate × t too`, async () => {
      await fc.assert(
        fc.asyncProperty(
          rates,
          fc.integer({ min: 1, max: 6 }),
          arrivalSchedule({ maxArrivals: 60, maxGapMs: 100, maxCount: 3 }),
          async (rate, burst, arrivals) => {
            const clock = new VirtualClock();
            const gate = make(clock, rate, burst);
            const admitted: { at: number; count: number; id: number }[] = [];
            const pending: Promise<unknown>[] = [];
            let id = 0;
            for (const { atMs, count } of arrivals) {
              await clock.advanceTo(atMs);
              if (count > burst) continue;
              const mine = id++;
              pending.push(gate.acquire(count).then(() => admitted.push({ at: clock.now(), count, id: mine })));
            }
            await clock.settle(Promise.all(pending), { maxMs: 10_000_000 });
            expect(admitted.map((a) => a.id)).toEqual(admitted.map((_, i) => i)); // FIFO
            expect(worstExcess(admitted, (t) => burst + (rate * t) / 1000)).toBeLessThanOrEqual(1e-6);
            expect(clock.pendingTimers).toBe(0);
          },
        ),
        { numRuns: 100 },
      );
    });
  }

  it('SlidingWindow: at most limit in any fixed window, and under 2 × limit in any sliding window of windowMs', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.constantFrom(100, 1_000, 60_000),
        arrivalSchedule({ maxArrivals: 200, maxGapMs: 400, maxCount: 3 }),
        async (limit, windowMs, arrivals) => {
          const clock = new VirtualClock();
          const gate = new SlidingWindow({ limit, windowMs, clock });
          const admitted: { at: number; count: number }[] = [];
          for (const { atMs, count } of arrivals) {
            clock.setTime(atMs * (windowMs / 1_000));
            if (count <= limit && gate.tryAcquire(count).granted) admitted.push({ at: clock.now(), count });
          }
          const perWindow = new Map<number, number>();
          for (const a of admitted) perWindow.set(Math.floor(a.at / windowMs), (perWindow.get(Math.floor(a.at / windowMs)) ?? 0) + a.count);
          for (const count of perWindow.values()) expect(count).toBeLessThanOrEqual(limit);
          expect(worstExcess(admitted, (t) => (t < windowMs ? 2 * limit - 1e-9 : Infinity))).toBeLessThan(0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('allOf never exceeds any member’s limit', async () => {
    await fc.assert(
      fc.asyncProperty(arrivalSchedule({ maxArrivals: 150, maxGapMs: 150, maxCount: 2 }), async (arrivals) => {
        const clock = new VirtualClock();
        const gate = allOf(
          { clock },
          new TokenBucket({ ratePerSecond: 4, burst: 4, clock }),
          new SlidingWindow({ limit: 10, windowMs: 5_000, clock }),
        );
        const admitted: { at: number; count: number }[] = [];
        for (const { atMs, count } of arrivals) {
          clock.setTime(atMs * 10);
          if (gate.tryAcquire(count).granted) admitted.push({ at: clock.now(), count });
        }
        expect(worstExcess(admitted, (t) => 4 + (4 * t) / 1000)).toBeLessThanOrEqual(1e-6);
        const perWindow = new Map<number, number>();
        for (const a of admitted) perWindow.set(Math.floor(a.at / 5_000), (perWindow.get(Math.floor(a.at / 5_000)) ?? 0) + a.count);
        for (const count of perWindow.values()) expect(count).toBeLessThanOrEqual(10);
      }),
      { numRuns: 200 },
    );
  });
});

describe('long run: saturated demand for one virtual hour', () => {
  for (const [name, make] of Object.entries(buckets)) {
    it(`${name} admits at least 99.9 % of rate × t, and never more than burst + rate × t`, async () => {
      const clock = new VirtualClock();
      const rate = 40;
      const burst = 10;
      const gate = make(clock, rate, burst);
      const hourMs = 3_600_000;
      let admitted = 0;
      // four callers that always want one more unit: demand never lets up
      const callers = Array.from({ length: 4 }, async () => {
        while (clock.now() < hourMs) {
          await gate.acquire(1);
          if (clock.now() <= hourMs) admitted++;
        }
      });
      await clock.advance(hourMs);
      gate.close();
      await Promise.allSettled(callers);
      const ideal = (rate * hourMs) / 1000;
      expect(admitted).toBeGreaterThanOrEqual(0.999 * ideal);
      expect(admitted).toBeLessThanOrEqual(burst + ideal);
    });
  }
});
