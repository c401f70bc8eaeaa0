import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { consecutiveFailures } from '@sluice/breaker';
import { overloadProtection } from '@sluice/overload';
import { VirtualClock } from '@sluice/testing';

const job = fc.record({
  gapMs: fc.integer({ min: 0, max: 15 }),
  workMs: fc.integer({ min: 0, max: 80 }),
  fails: fc.boolean(),
  priority: fc.constantFrom(-1, 0, 1),
  cost: fc.integer({ min: 1, max: 3 }),
  maxWaitMs: fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
  abortAfterMs: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
});

describe('OverloadProtection properties (virtual time)', () => {
  it('running work never exceeds the concurrency limit, the shedder never exceeds its capacity, and every run settles once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(job, { minLength: 10, maxLength: 60, size: 'max' }), async (jobs) => {
        const clock = new VirtualClock({ stallReportMs: false });
        const door = overloadProtection({
          breaker: { trip: consecutiveFailures(4), halfOpenAfterMs: 200 },
          shedder: { capacity: 6 },
          limiter: { ratePerSecond: 100, burst: 6, queueLimit: 6 },
          concurrency: { maxConcurrent: 3, queueLimit: 3 },
          clock,
        });
        let running = 0;
        let peak = 0;
        let peakInSystem = 0;
        const settled: number[] = [];
        const runs: Promise<void>[] = [];
        for (const [index, j] of jobs.entries()) {
          await clock.advance(j.gapMs);
          const controller = j.abortAfterMs === undefined ? undefined : new AbortController();
          if (controller !== undefined) clock.setTimer(() => controller.abort(new Error('gave up')), j.abortAfterMs as number);
          const work = async () => {
            running++;
            peak = Math.max(peak, running);
            peakInSystem = Math.max(peakInSystem, door.shedder?.inFlight ?? 0);
            await new Promise<void>((resolve) => clock.setTimer(resolve, j.workMs));
            running--;
            if (j.fails) throw new Error('backend failed');
            return index;
          };
          runs.push(
            door
              .run(work, { priority: j.priority, cost: j.cost, maxWaitMs: j.maxWaitMs, signal: controller?.signal })
              .then(
                () => settled.push(index),
                () => settled.push(index),
              )
              .then(() => undefined),
          );
        }
        await clock.settle(Promise.all(runs));
        expect(peak).toBeLessThanOrEqual(3);
        expect(peakInSystem).toBeLessThanOrEqual(6);
        expect(settled.sort((a, b) => a - b)).toEqual(jobs.map((_, i) => i));
        expect(running).toBe(0);
        expect(door.shedder?.inFlight).toBe(0);
        expect(door.concurrency?.inFlight).toBe(0);
        const stats = door.stats();
        expect(stats.admitted + stats.refused + stats.cancelled).toBe(jobs.length);
        door.close();
        await clock.runUntilIdle?.();
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 100 },
    );
  });
});
