import { describe, expect, it } from 'vitest';
import { SlidingWindow, slidingWindowEstimate, slidingWindowWaitMs } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

describe('SlidingWindow', () => {
  it('weights the previous window by how much of it still overlaps', async () => {
    const clock = new VirtualClock();
    const window = new SlidingWindow({ limit: 10, windowMs: 1_000, clock });
    expect(window.tryAcquire(10).granted).toBe(true);
    expect(window.tryAcquire().granted).toBe(false);
    await clock.advanceTo(1_250); // 75 % of the previous window still counts: 7.5 → 2 whole units free
    expect(window.available).toBe(2);
    expect(window.tryAcquire(2).granted).toBe(true);
    expect(window.tryAcquire().granted).toBe(false);
    await clock.advanceTo(1_500); // 5 + 2 = 7 → 3 free
    expect(window.available).toBe(3);
    await clock.advanceTo(2_999); // now the previous window is [1000, 2000) with its 2, nearly faded
    expect(window.available).toBe(9);
    await clock.advanceTo(4_000); // two windows later nothing is counted
    expect(window.available).toBe(10);
  });

  it('does not allow twice the limit around a window boundary, as a fixed window would', async () => {
    const clock = new VirtualClock();
    const window = new SlidingWindow({ limit: 10, windowMs: 1_000, clock });
    await clock.advanceTo(990);
    expect(window.tryAcquire(10).granted).toBe(true);
    await clock.advanceTo(1_010); // a fixed window would reset here
    expect(window.available).toBe(0);
  });

  it('predicts waits: within the window as the previous weight fades, or into the next window', () => {
    // previous 10, current 2, at 25 % into a 1,000 ms window, limit 10: needs 1 more
    expect(slidingWindowEstimate(10, 2, 0, 250, 1_000)).toBe(9.5);
    expect(slidingWindowWaitMs(10, 2, 0, 250, 1_000, 10, 1)).toBeCloseTo(50, 9); // at 300: 10 × 0.7 + 2 + 1 = 10
    expect(slidingWindowWaitMs(0, 10, 0, 100, 1_000, 10, 1)).toBeCloseTo(1_000, 9); // next window at 1,000, 10 × 0.9 + 1 = 10
    expect(slidingWindowWaitMs(0, 3, 0, 100, 1_000, 10, 2)).toBe(0);
    expect(slidingWindowWaitMs(0, 10, 0, 0, 1_000, 10, 10)).toBeCloseTo(2_000, 9);
  });

  it('grants a waiter when the window has room again, and refuses a wait it cannot meet', async () => {
    const clock = new VirtualClock();
    const window = new SlidingWindow({ limit: 4, windowMs: 1_000, clock, queueLimit: 10 });
    window.tryAcquire(4);
    await expect(window.acquire(1, { maxWaitMs: 100 })).rejects.toThrow(/retry after 1250 ms/);
    const permit = await clock.settle(window.acquire(1));
    expect(permit.granted).toBe(true);
    expect(clock.now()).toBe(1_250);
  });

  it('refund gives units back to the current window', () => {
    const window = new SlidingWindow({ limit: 3, windowMs: 1_000, clock: new VirtualClock() });
    window.tryAcquire(3);
    window.refund(2);
    expect(window.available).toBe(2);
  });
});
