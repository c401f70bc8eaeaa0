import { describe, expect, it } from 'vitest';
import { Gcra, SlidingWindow, TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

const limiters = {
  TokenBucket: (clock: VirtualClock) => new TokenBucket({ ratePerSecond: 10, burst: 5, clock }),
  Gcra: (clock: VirtualClock) => new Gcra({ ratePerSecond: 10, burst: 5, clock }),
  SlidingWindow: (clock: VirtualClock) => new SlidingWindow({ limit: 5, windowMs: 500, clock }),
};

describe('a clock that stands still or jumps backwards', () => {
  for (const [name, make] of Object.entries(limiters)) {
    it(`${name}: gives no free budget and never goes negative`, async () => {
      const clock = new VirtualClock({ startMs: 10_000 });
      const gate = make(clock);
      expect(gate.tryAcquire(5).granted).toBe(true);
      for (let i = 0; i < 50; i++) expect(gate.tryAcquire().granted).toBe(false); // stands still
      clock.setTime(0); // ten seconds back
      expect(gate.tryAcquire().granted).toBe(false);
      expect(gate.available).toBe(0);
      clock.setTime(10_000); // back to where it was: still nothing
      expect(gate.tryAcquire().granted).toBe(false);
      clock.setTime(20_000); // real time has passed since: full again, not more
      expect(gate.available).toBe(5);
      expect(gate.tryAcquire(5).granted).toBe(true);
      expect(gate.tryAcquire().granted).toBe(false);
    });
  }
});
