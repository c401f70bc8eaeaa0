import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Permit } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';
import { KeyedLimiter, TokenBucket } from '../src/index.js';

type Step =
  | { readonly kind: 'try'; readonly key: number; readonly count: number }
  | { readonly kind: 'wait'; readonly key: number; readonly count: number; readonly maxWaitMs: number }
  | { readonly kind: 'release'; readonly index: number }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'delete'; readonly key: number }
  | { readonly kind: 'get'; readonly key: number };

function steps(keys: number, burst: number): fc.Arbitrary<Step[]> {
  const key = fc.integer({ min: 0, max: keys - 1 });
  const count = fc.integer({ min: 1, max: burst });
  return fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('try' as const), key, count }) },
      {
        weight: 3,
        arbitrary: fc.record({ kind: fc.constant('wait' as const), key, count, maxWaitMs: fc.integer({ min: 1, max: 5_000 }) }),
      },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 3_000 }) }) },
      { weight: 1, arbitrary: key.map((k): Step => ({ kind: 'delete', key: k })) },
      { weight: 1, arbitrary: key.map((k): Step => ({ kind: 'get', key: k })) },
    ),
    { maxLength: 120, size: 'max' },
  );
}

describe.each(['create', 'tokenBucket'] as const)('KeyedLimiter (%s) in virtual time (fast-check)', (form) => {
  it('refuses a new key only when every key has waiters, stays within maxKeys, closes what it evicts and starts re-added keys fresh', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), steps(8, 3), async (maxKeys, burst, plan) => {
        const clock = new VirtualClock();
        /** The buckets seen (every one `create` made, and those `get` handed out), and whether their key was made again since. */
        const made: { key: string; bucket: TokenBucket; replaced: boolean }[] = [];
        const seen = (key: string, bucket: TokenBucket): void => {
          if (!made.some((m) => m.bucket === bucket)) made.push({ key, bucket, replaced: false });
        };
        const keyed =
          form === 'create'
            ? new KeyedLimiter({
                maxKeys,
                clock,
                create: (key) => {
                  const bucket = new TokenBucket({ ratePerSecond: 1, burst, clock });
                  for (const m of made) if (m.key === key) m.replaced = true;
                  seen(key, bucket);
                  return bucket;
                },
              })
            : new KeyedLimiter<TokenBucket>({ maxKeys, clock, tokenBucket: { ratePerSecond: 1, burst } });
        const permits: Permit[] = [];
        const waits: Promise<unknown>[] = [];
        for (const step of plan) {
          if (step.kind === 'advance') {
            await clock.advance(step.ms);
            continue;
          }
          if (step.kind === 'release') {
            permits.splice(step.index % Math.max(1, permits.length), 1)[0]?.release();
            continue;
          }
          const key = `k${step.key}`;
          if (step.kind === 'delete') {
            keyed.delete(key);
            continue;
          }
          if (step.kind === 'get') {
            const bucket = keyed.get(key);
            if (bucket !== undefined) seen(key, bucket);
            continue;
          }
          const held = [...keyed.keys()];
          const withWaiters = held.filter((k) => (keyed.statsFor(k)?.waiting ?? 0) > 0);
          const wasHeld = keyed.has(key);
          const refusedBefore = keyed.stats().refusedNoRoom;
          const createdBefore = keyed.stats().created;
          const count = Math.min(step.count, burst);
          if (step.kind === 'try') {
            const result = keyed.tryAcquire(key, count);
            if (result.granted) permits.push(result);
          } else {
            const wait = keyed.acquire(key, count, { maxWaitMs: step.maxWaitMs }).then(
              (permit) => permits.push(permit),
              () => {},
            );
            waits.push(wait);
          }
          const refused = keyed.stats().refusedNoRoom > refusedBefore;
          // a new key is refused only when the map is full and every key held has waiters
          expect(refused).toBe(!wasHeld && held.length >= maxKeys && withWaiters.length === held.length);
          expect(keyed.size).toBeLessThanOrEqual(maxKeys);
          // a key with waiters is never evicted
          expect(withWaiters.filter((k) => !keyed.has(k))).toEqual([]);
          if (!wasHeld && !refused) {
            // a key made (again) starts with its whole budget and no history
            expect(keyed.stats().created).toBe(createdBefore + 1);
            expect(keyed.statsFor(key)).toMatchObject({ admitted: 1, refused: 0, available: burst - count, waiting: 0 });
            // (create marks the buckets it replaces; a compact key's bucket is seen only through get)
            if (form === 'tokenBucket') for (const m of made) if (m.key === key) m.replaced = true;
          }
          // every bucket no longer held (its key evicted, deleted or made again) is closed, and only those
          expect(made.filter((m) => (m.replaced || !keyed.has(m.key)) !== m.bucket.isClosed)).toEqual([]);
        }
        keyed.close();
        expect(made.filter(({ bucket }) => !bucket.isClosed)).toEqual([]);
        await Promise.all(waits);
      }),
      { numRuns: 200 },
    );
  });
});
