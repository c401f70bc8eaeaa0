import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NOT_RUN, type Gate, type Outcome, type Permit, type Refusal } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';
import { KeyedLimiter, TokenBucket } from '../src/index.js';

type Step =
  | { readonly kind: 'try'; readonly count: number }
  | { readonly kind: 'wait'; readonly count: number; readonly maxWaitMs: number }
  | { readonly kind: 'release'; readonly index: number; readonly outcome: 'plain' | 'not-run' | 'more' }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'get' };

function steps(burst: number): fc.Arbitrary<Step[]> {
  const count = fc.integer({ min: 0, max: burst });
  return fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('try' as const), count }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('wait' as const), count, maxWaitMs: fc.integer({ min: 0, max: 4_000 }) }) },
      {
        weight: 3,
        arbitrary: fc.record({
          kind: fc.constant('release' as const),
          index: fc.nat(),
          outcome: fc.constantFrom('plain', 'not-run', 'more'),
        }),
      },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 10_000, noNaN: true }) }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'get' as const }) },
    ),
    { maxLength: 80, size: 'max' },
  );
}

const outcomes: Record<'plain' | 'not-run' | 'more', (count: number) => Outcome> = {
  plain: () => ({ ok: true }),
  'not-run': () => NOT_RUN,
  more: (count) => ({ ok: true, cost: count + 2 }),
};

/** What a caller can see of a result. */
function seen(result: Permit | Refusal): unknown {
  return result.granted ? 'granted' : { reason: result.reason, gate: result.gate, retryAfterMs: result.retryAfterMs };
}

describe('KeyedLimiter tokenBucket: a key behaves as its own TokenBucket (fast-check, virtual time)', () => {
  it('grants, refuses, retry hints, reconciled releases, waits and stats match a TokenBucket, before and after the key gets its real bucket', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0.5, 1, 3, 10),
        fc.integer({ min: 1, max: 5 }).chain((burst) => fc.tuple(fc.constant(burst), steps(burst))),
        fc.boolean(),
        async (ratePerSecond, [burst, all], compactOnly) => {
          // a wait that does not fit, or get, gives the key its real bucket: half the runs stay compact throughout
          const plan = compactOnly ? all.filter((step) => step.kind !== 'wait' && step.kind !== 'get') : all;
          const clock = new VirtualClock();
          clock.setTime(1_000.25);
          const options = { ratePerSecond, burst, name: 'bucket' };
          const alone = new TokenBucket({ ...options, clock });
          const keyed = new KeyedLimiter<TokenBucket>({ tokenBucket: options, clock });
          const key: Gate = keyed.gate('k');
          expect(seen(keyed.tryAcquire('k', 0))).toEqual(seen(alone.tryAcquire(0))); // a probe makes the key
          const pairs: [Permit, Permit][] = [];
          const settled: [unknown[], unknown[]] = [[], []];
          for (const step of plan) {
            if (step.kind === 'advance') {
              await clock.advance(step.ms);
            } else if (step.kind === 'get') {
              if (keyed.has('k')) expect(keyed.get('k')).toBeInstanceOf(TokenBucket);
            } else if (step.kind === 'release') {
              const pair = pairs.splice(step.index % Math.max(1, pairs.length), 1)[0];
              if (pair !== undefined) {
                const outcome = outcomes[step.outcome]((pair[0] as { count?: number }).count ?? 1);
                pair[0].release(outcome);
                pair[1].release(outcome);
              }
            } else if (step.kind === 'try') {
              const a = alone.tryAcquire(step.count);
              const b = keyed.tryAcquire('k', step.count);
              expect(seen(b)).toEqual(seen(a));
              if (a.granted && b.granted) pairs.push([a, b]);
            } else {
              const options = { maxWaitMs: step.maxWaitMs };
              const both = [alone.acquire(step.count, options), keyed.acquire('k', step.count, options)] as const;
              const pair: Permit[] = [];
              both.forEach((wait, i) => {
                void wait.then(
                  (permit) => {
                    pair[i] = permit;
                    (settled[i] as unknown[]).push('granted');
                    if (pair[0] !== undefined && pair[1] !== undefined) pairs.push([pair[0], pair[1]]);
                  },
                  (error: Error) => (settled[i] as unknown[]).push(error.name),
                );
              });
            }
            await clock.advance(0);
            expect(settled[1]).toEqual(settled[0]);
            const { admitted, refused, available, waiting, queued, capacity } = alone.stats();
            expect(keyed.statsFor('k')).toMatchObject({ admitted, refused, available, waiting, queued, capacity });
            expect(key.pressure).toBe(alone.pressure);
            expect(key.capacity).toBe(alone.capacity);
          }
          keyed.close();
          alone.close();
        },
      ),
      { numRuns: 300 },
    );
  });
});
