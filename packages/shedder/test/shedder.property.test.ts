import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Permit } from '@sluice/core';
import { LoadShedder } from '@sluice/shedder';
import { VirtualClock, driveGate, settleAll } from '@sluice/testing';
import { gateOperations } from '@sluice/testing/arbitraries';

const steps = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('take' as const),
        count: fc.integer({ min: 1, max: 4 }),
        priority: fc.constantFrom(-3, -1, 0, 1, 2),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('signal' as const), value: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  ),
  { maxLength: 300 },
);

describe('LoadShedder properties', () => {
  it('admits exactly what its levels allow: never refuses a level below its share, never admits one past it', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 200 }), fc.double({ min: 0.05, max: 1, noNaN: true }), steps, (capacity, threshold, script) => {
        const signal = { value: 0 };
        const shedder = new LoadShedder({ capacity, shedThreshold: threshold, signals: [signal], clock: new VirtualClock() });
        const shareOf = (priority: number) => (priority >= 1 ? 0.98 : priority >= 0 ? 0.95 : threshold);
        const held: { permit: Permit; count: number }[] = [];
        let inFlight = 0;
        for (const step of script) {
          if (step.kind === 'signal') {
            signal.value = step.value;
          } else if (step.kind === 'release') {
            if (held.length === 0) continue;
            const [taken] = held.splice(step.index % held.length, 1);
            if (taken === undefined) continue;
            inFlight -= taken.count;
            taken.permit.release({ ok: true });
          } else {
            if (step.count > capacity) continue;
            const share = Math.max(shareOf(step.priority), threshold);
            const limit = Math.floor(share * capacity + 1e-9);
            const expected = inFlight + step.count <= limit && signal.value * capacity <= limit;
            const result = shedder.tryAcquire(step.count, { priority: step.priority });
            expect(result.granted).toBe(expected);
            if (result.granted) {
              held.push({ permit: result, count: step.count });
              inFlight += step.count;
            } else {
              expect(result.reason).toBe('shed');
            }
          }
          expect(shedder.inFlight).toBe(inFlight);
          expect(inFlight).toBeLessThanOrEqual(capacity);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('with CoDel shedding and LIFO: the gate invariants hold and every waiter settles once', async () => {
    await fc.assert(
      fc.asyncProperty(
        gateOperations({ maxCount: 2, priorities: [-1, 0, 1], maxAdvanceMs: 40 }),
        fc.boolean(),
        async (operations, lifo) => {
          const clock = new VirtualClock({ stallReportMs: false });
          const shedder = new LoadShedder({ capacity: 4, queueLimit: 6, codel: { targetMs: 5, intervalMs: 20, lifo }, clock });
          const hints: (number | undefined)[] = [];
          shedder.onRefuse((refusal) => hints.push(refusal.retryAfterMs));
          const report = await driveGate(shedder, clock, operations);
          // a hint, when present, is a whole number of ms ≥ 1 (a dropped waiter's too)
          for (const hint of hints) if (hint !== undefined) expect(Number.isInteger(hint) && hint >= 1).toBe(true);
          expect(report.violations).toEqual([]);
          expect(shedder.inFlight).toBeLessThanOrEqual(4);
          shedder.close();
          expect(await settleAll(clock, report)).toEqual([]);
          expect(report.waiters.every((w) => w.settlements === 1)).toBe(true);
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('every retry hint is a positive finite whole number of ms, and once a drain rate is known every refusal has one', async () => {
    const timed = fc.array(
      fc.oneof(
        {
          weight: 6,
          arbitrary: fc.record({
            kind: fc.constant('take' as const),
            count: fc.integer({ min: 1, max: 3 }),
            priority: fc.constantFrom(-1, 0, 1),
          }),
        },
        { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 80, noNaN: true }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('signal' as const), value: fc.double({ min: 0, max: 1, noNaN: true }) }) },
        {
          weight: 1,
          arbitrary: fc.record({
            kind: fc.constant('shedBelow' as const),
            priority: fc.option(fc.constantFrom(0, 1, 2), { nil: undefined }),
          }),
        },
      ),
      { maxLength: 300 },
    );
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 20 }), timed, async (capacity, script) => {
        const clock = new VirtualClock();
        const signal = { value: 0 };
        const shedder = new LoadShedder({ capacity, signals: [signal], clock });
        const held: Permit[] = [];
        let firstCompletionAt = Number.NaN;
        let drainKnown = false;
        for (const step of script) {
          if (step.kind === 'signal') signal.value = step.value;
          else if (step.kind === 'shedBelow') shedder.shedBelow(step.priority);
          else if (step.kind === 'advance') await clock.advance(step.ms);
          else if (step.kind === 'release') {
            const [permit] = held.splice(step.index % Math.max(held.length, 1), 1);
            if (permit === undefined) continue;
            permit.release({ ok: true });
            // the first completion starts the drain clock; one 100 ms or more later gives a rate
            if (Number.isNaN(firstCompletionAt)) firstCompletionAt = clock.now();
            else if (clock.now() - firstCompletionAt >= 100) drainKnown = true;
          } else {
            if (step.count > capacity) continue;
            const result = shedder.tryAcquire(step.count, { priority: step.priority });
            if (result.granted) {
              held.push(result);
              continue;
            }
            const hint = result.retryAfterMs;
            if (drainKnown) expect(hint).toBeDefined();
            if (hint !== undefined) {
              expect(Number.isFinite(hint)).toBe(true);
              expect(Number.isInteger(hint)).toBe(true);
              expect(hint).toBeGreaterThanOrEqual(1);
            }
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
