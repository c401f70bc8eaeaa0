import { NOT_RUN, pipeline } from '@sluice/core';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { Gcra, SlidingWindow, TokenBucket, allOf } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';
import { describe, expect, it } from 'vitest';

// What broke: in `pipeline(bucket, pool)` every refusal by the pool burned a bucket token, and
// a permit released with NOT_RUN ("nothing was used") kept its units spent.

describe('a refused or unused request spends nothing', () => {
  it('pipeline(bucket, pool): one admitted and three refused by the pool leave 4 of 5 tokens', () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 5, clock });
    const pool = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 0, clock });
    const door = pipeline(bucket, pool);
    const first = door.tryAcquire();
    expect(first.granted).toBe(true);
    for (let i = 0; i < 3; i++) expect(door.tryAcquire()).toMatchObject({ granted: false, gate: pool.name });
    expect(bucket.available).toBe(4);
    if (first.granted) first.release({ ok: true });
    expect(bucket.available).toBe(4); // work that ran stays spent
  });

  for (const [label, make] of [
    ['TokenBucket', (clock: VirtualClock) => new TokenBucket({ ratePerSecond: 1, burst: 5, clock })],
    ['Gcra', (clock: VirtualClock) => new Gcra({ ratePerSecond: 1, burst: 5, clock })],
    ['SlidingWindow', (clock: VirtualClock) => new SlidingWindow({ limit: 5, windowMs: 60_000, clock })],
  ] as const) {
    it(`${label}: release(NOT_RUN) gives the units back once, never above capacity, and wakes a waiter`, async () => {
      const clock = new VirtualClock();
      const limiter = make(clock);
      const held = limiter.tryAcquire(5);
      expect(held.granted).toBe(true);
      let woke = false;
      const waiting = limiter.acquire(2).then((p) => {
        woke = true;
        return p;
      });
      if (!held.granted) return;
      held.release(NOT_RUN);
      held.release(NOT_RUN); // a second release is a no-op: no double refund
      await clock.advance(0);
      expect(woke).toBe(true);
      expect(limiter.available).toBe(3);
      (await waiting).release({ cost: 0 });
      expect(limiter.available).toBe(5);
    });
  }

  it('a released cost reconciles: less gives back the difference, more takes the extra', () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket({ ratePerSecond: 1, burst: 10, clock });
    const a = bucket.tryAcquire(4);
    if (a.granted) a.release({ ok: true, cost: 1 });
    expect(bucket.available).toBe(9);
    const b = bucket.tryAcquire(2);
    if (b.granted) b.release({ ok: true, cost: 5 });
    expect(bucket.available).toBe(4);
  });
});

describe('allOf: a refused or unused request spends nothing in any member', () => {
  it('pipeline(allOf(a, b), pool): refusals by the pool leave every member whole; NOT_RUN refunds both once', () => {
    const clock = new VirtualClock();
    const a = new TokenBucket({ ratePerSecond: 1, burst: 5, clock });
    const b = new Gcra({ ratePerSecond: 1, burst: 3, clock });
    const both = allOf(a, b);
    const pool = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 0, clock });
    const door = pipeline(both, pool);
    const first = door.tryAcquire();
    expect(first.granted).toBe(true);
    for (let i = 0; i < 2; i++) expect(door.tryAcquire()).toMatchObject({ granted: false, gate: pool.name });
    expect([a.available, b.available]).toEqual([4, 2]);
    if (first.granted) {
      first.release(NOT_RUN);
      first.release(NOT_RUN);
    }
    expect([a.available, b.available]).toEqual([5, 3]);
    const c = both.tryAcquire(2);
    if (c.granted) c.release({ ok: true, cost: 1 });
    expect([a.available, b.available]).toEqual([4, 2]);
  });
});
