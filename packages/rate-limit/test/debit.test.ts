import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { Gcra, SlidingWindow, TokenBucket, allOf } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

describe('debit: work that cost more than it reserved', () => {
  it('takes a token bucket into debt, which later requests wait out', async () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 10, clock });
    expect(bucket.tryAcquire(10).granted).toBe(true);
    bucket.debit(5);
    expect(bucket.tokens).toBe(-5);
    expect(bucket.available).toBe(0);
    expect(bucket.tryAcquire(1)).toMatchObject({ granted: false, retryAfterMs: 600 });
    await clock.advance(599);
    expect(bucket.tryAcquire(1).granted).toBe(false);
    await clock.advance(1);
    expect(bucket.tryAcquire(1).granted).toBe(true);
  });

  it('pushes a GCRA arrival time ahead and fills a sliding window past its limit', async () => {
    const clock = new VirtualClock();
    const cell = new Gcra({ ratePerSecond: 10, burst: 5, clock });
    cell.debit(8); // 3 units beyond the burst: 300 ms of debt before one more unit fits
    expect(cell.tryAcquire(1)).toMatchObject({ granted: false, retryAfterMs: 400 });
    const window = new SlidingWindow({ limit: 5, windowMs: 1_000, clock });
    window.debit(7);
    expect(window.available).toBe(0);
    expect(window.tryAcquire(1).granted).toBe(false);
  });

  it('debits every member of an allOf; validates its count; a closed limiter ignores it', () => {
    const clock = new VirtualClock();
    const a = new TokenBucket({ ratePerSecond: 1, burst: 4, clock });
    const b = new TokenBucket({ ratePerSecond: 1, burst: 8, clock });
    const both = allOf({ clock }, a, b);
    both.debit(6);
    expect([a.tokens, b.tokens]).toEqual([-2, 2]);
    expect(() => a.debit(-1)).toThrow(InvalidArgumentError);
    expect(() => a.debit(1.5)).toThrow(InvalidArgumentError);
    a.close();
    a.debit(3);
    expect(a.tokens).toBe(-2);
  });
});
