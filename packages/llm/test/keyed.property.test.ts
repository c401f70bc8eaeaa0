import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@sluice/testing';
import type { LlmLimiter, LlmPermit } from '../src/llm-limiter.js';
import { KeyedLlmLimiter } from '../src/router.js';

type Step =
  | { readonly kind: 'try'; readonly key: number; readonly tokens: number }
  | { readonly kind: 'wait'; readonly key: number; readonly tokens: number; readonly maxWaitMs: number }
  | { readonly kind: 'release'; readonly index: number; readonly ran: boolean }
  | { readonly kind: 'advance'; readonly ms: number };

const key = fc.integer({ min: 0, max: 7 });
const tokens = fc.integer({ min: 1, max: 60 });
const plan: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('try' as const), key, tokens }) },
    {
      weight: 3,
      arbitrary: fc.record({ kind: fc.constant('wait' as const), key, tokens, maxWaitMs: fc.integer({ min: 1, max: 60_000 }) }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), index: fc.nat(), ran: fc.boolean() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
  ),
  { maxLength: 100, size: 'max' },
);

describe('KeyedLlmLimiter in virtual time (fast-check)', () => {
  it('refuses a new key only when every key has work outstanding, stays within maxKeys, closes what it evicts and starts re-added keys fresh', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), plan, async (maxKeys, steps) => {
        const clock = new VirtualClock();
        const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 60 }, maxKeys, clock });
        /** Per key: acquires still waiting plus permits not yet released (the test's own count). */
        const outstanding = new Map<string, number>();
        const add = (k: string, n: number): void => {
          outstanding.set(k, (outstanding.get(k) ?? 0) + n);
        };
        const permits: { key: string; permit: LlmPermit }[] = [];
        const current = new Map<string, LlmLimiter>();
        const replaced: LlmLimiter[] = [];
        const waits: Promise<unknown>[] = [];
        for (const step of steps) {
          if (step.kind === 'advance') {
            await clock.advance(step.ms);
            continue;
          }
          if (step.kind === 'release') {
            const taken = permits.splice(step.index % Math.max(1, permits.length), 1)[0];
            if (taken !== undefined) {
              taken.permit.release(step.ran ? { ok: true, usage: { totalTokens: taken.permit.inputTokens } } : undefined);
              add(taken.key, -1);
            }
            continue;
          }
          await clock.advance(0); // settles what the last steps started, so the count above is current
          const k = `k${step.key}`;
          const held = [...current.keys()].filter((h) => keyed.has(h));
          const inUse = held.filter((h) => (outstanding.get(h) ?? 0) > 0);
          const wasHeld = keyed.has(k);
          const refusedBefore = keyed.stats().refusedNoRoom;
          const createdBefore = keyed.stats().created;
          if (step.kind === 'try') {
            const result = keyed.tryAcquire(k, step.tokens);
            if (result.granted) {
              permits.push({ key: k, permit: result });
              add(k, 1);
            }
          } else {
            const refused = keyed.stats().refusedNoRoom;
            const wait = keyed.acquire(k, step.tokens, { maxWaitMs: step.maxWaitMs });
            if (keyed.stats().refusedNoRoom === refused) {
              add(k, 1);
              waits.push(
                wait.then(
                  (permit) => permits.push({ key: k, permit }),
                  () => add(k, -1),
                ),
              );
            } else {
              waits.push(wait.catch(() => {}));
            }
          }
          const refused = keyed.stats().refusedNoRoom > refusedBefore;
          // a new key is refused only when the map is full and every key held has work outstanding
          expect(refused).toBe(!wasHeld && held.length >= maxKeys && inUse.length === held.length);
          expect(keyed.size).toBeLessThanOrEqual(maxKeys);
          // a key with work outstanding is never evicted
          expect(inUse.filter((h) => !keyed.has(h))).toEqual([]);
          if (!wasHeld && !refused) {
            // a key made (again) gets a new limiter with its whole budget (less this request)
            expect(keyed.stats().created).toBe(createdBefore + 1);
            const limiter = keyed.limiter(k);
            const before = current.get(k);
            if (before !== undefined) replaced.push(before);
            expect(limiter).not.toBe(before);
            current.set(k, limiter);
            expect(limiter.remaining('tokens')).toBe(60 - step.tokens);
          }
          // every limiter no longer held (evicted) is closed, and only those
          expect(replaced.filter((limiter) => !limiter.isClosed)).toEqual([]);
          expect([...current].filter(([h, limiter]) => limiter.isClosed === keyed.has(h))).toEqual([]);
        }
        keyed.close();
        expect([...current.values()].filter((limiter) => !limiter.isClosed)).toEqual([]);
        await Promise.all(waits);
      }),
      { numRuns: 200 },
    );
  });
});
