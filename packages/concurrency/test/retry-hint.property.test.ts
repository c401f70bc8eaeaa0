import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOT_RUN, isSluiceError, type Permit, type Refusal } from '@sluice/core';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { VirtualClock } from '@sluice/testing';

type Step =
  | { kind: 'try'; count: number }
  | { kind: 'acquire'; count: number; maxWaitMs: number | undefined; priority: number }
  | { kind: 'run'; count: number; runMs: number; maxWaitMs: number | undefined }
  | { kind: 'release'; index: number; notRun: boolean }
  | { kind: 'advance'; ms: number }
  | { kind: 'limit'; limit: number };

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('try' as const), count: fc.constantFrom(0, 1, 1, 2, 3) }) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('acquire' as const),
        count: fc.constantFrom(1, 1, 2),
        maxWaitMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
        priority: fc.constantFrom(0, 0, 1),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('run' as const),
        count: fc.constantFrom(1, 1, 2),
        runMs: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 500, noNaN: true })),
        maxWaitMs: fc.option(fc.integer({ min: 0, max: 200 }), { nil: undefined }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat({ max: 7 }), notRun: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 300, noNaN: true }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('limit' as const), limit: fc.integer({ min: 1, max: 4 }) }) },
  ),
  { minLength: 10, maxLength: 120 },
);

/** A hint, when present, is a whole number of milliseconds, finite, and at least 1. */
function expectHint(retryAfterMs: number | undefined): void {
  if (retryAfterMs === undefined) return;
  expect(Number.isFinite(retryAfterMs)).toBe(true);
  expect(Number.isInteger(retryAfterMs)).toBe(true);
  expect(retryAfterMs).toBeGreaterThanOrEqual(1);
}

describe('ConcurrencyLimiter retry hints (property, virtual time)', () => {
  it('every hint is a positive finite whole number of ms, and once a hold was measured every exhausted refusal has one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 4 }), steps, async (maxConcurrent, queueLimit, script) => {
        const clock = new VirtualClock();
        const limiter = new ConcurrencyLimiter({ maxConcurrent, queueLimit, clock });
        const refusals: Refusal[] = [];
        limiter.onRefuse((refusal) => refusals.push(refusal));
        const held: Permit[] = [];
        const pending: Promise<unknown>[] = [];
        const settleError = (error: unknown) => {
          expect(isSluiceError(error)).toBe(true);
          if (isSluiceError(error)) expectHint(error.retryAfterMs);
        };
        for (const step of script) {
          switch (step.kind) {
            case 'try': {
              if (step.count > limiter.capacity) break;
              const measured = limiter.serviceTimeMs !== undefined;
              const result = limiter.tryAcquire(step.count);
              if (result.granted) {
                held.push(result);
              } else {
                expectHint(result.retryAfterMs);
                if (measured && result.reason === 'exhausted') expect(result.retryAfterMs).toBeDefined();
              }
              break;
            }
            case 'acquire':
              if (step.count > limiter.capacity) break;
              pending.push(
                limiter.acquire(step.count, { maxWaitMs: step.maxWaitMs, priority: step.priority }).then((permit) => {
                  held.push(permit);
                }, settleError),
              );
              break;
            case 'run':
              if (step.count > limiter.capacity) break;
              pending.push(
                limiter
                  .run(() => new Promise<void>((resolve) => clock.setTimer(resolve, step.runMs)), {
                    count: step.count,
                    maxWaitMs: step.maxWaitMs,
                  })
                  .catch(settleError),
              );
              break;
            case 'release': {
              const permit = held.splice(step.index % Math.max(held.length, 1), 1)[0];
              permit?.release(step.notRun ? NOT_RUN : { ok: true });
              break;
            }
            case 'advance':
              await clock.advance(step.ms);
              break;
            case 'limit':
              limiter.setLimit(step.limit);
              break;
          }
          const service = limiter.serviceTimeMs;
          if (service !== undefined) expect(service).toBeGreaterThanOrEqual(0);
        }
        for (const permit of held.splice(0)) permit.release();
        await clock.advance(10_000);
        for (const permit of held.splice(0)) permit.release();
        limiter.close();
        await clock.settle(Promise.all(pending));
        for (const refusal of refusals) expectHint(refusal.retryAfterMs);
      }),
      { numRuns: 300 },
    );
  });
});
