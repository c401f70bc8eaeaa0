import { describe, expect, it } from 'vitest';
import { Gcra, SlidingWindow, TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

// Refill summed over many small steps drifts below the exact value: ten 1 ms steps at 100/s give
// 0.9999999999999999 tokens. The bucket refused the token that was there (and GCRA, stepping in
// exact 10 ms, admitted it): found by the GCRA ≡ token bucket property.
describe('regression: refill summed in small steps', () => {
  it('a token bucket admits the token that ten 1 ms refills add up to', async () => {
    const clock = new VirtualClock();
    const bucket = new TokenBucket({ ratePerSecond: 100, burst: 1, clock });
    const cell = new Gcra({ ratePerSecond: 100, burst: 1, clock });
    expect(bucket.tryAcquire().granted).toBe(true);
    expect(cell.tryAcquire().granted).toBe(true);
    for (let ms = 1; ms < 10; ms++) {
      await clock.advance(1);
      expect(bucket.tryAcquire().granted).toBe(false);
      expect(cell.tryAcquire().granted).toBe(false);
    }
    await clock.advance(1);
    expect(bucket.tryAcquire().granted).toBe(true);
    expect(cell.tryAcquire().granted).toBe(true);
    expect(bucket.tokens).toBeGreaterThanOrEqual(0);
  });

  it('a sliding window admits what its estimate leaves room for after many small steps', async () => {
    const clock = new VirtualClock();
    const window = new SlidingWindow({ limit: 10, windowMs: 100, clock });
    window.tryAcquire(10);
    await clock.advance(100);
    for (let ms = 0; ms < 10; ms++) await clock.advance(1); // 10 % into the next window: 9 still counted
    expect(window.available).toBe(1);
    expect(window.tryAcquire().granted).toBe(true);
  });
});
