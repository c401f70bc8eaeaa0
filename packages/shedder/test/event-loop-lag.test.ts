import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { LoadShedder } from '@sluice/shedder';
import { eventLoopLag } from '@sluice/shedder/node';
import { VirtualClock } from '@sluice/testing';

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Keeps the loop busy in `blockMs` slices (yielding between them) for about `totalMs`. */
async function saturate(totalMs: number, blockMs: number): Promise<void> {
  const end = performance.now() + totalMs;
  while (performance.now() < end) {
    const until = performance.now() + blockMs;
    while (performance.now() < until) {
      // spin: a CPU-bound request handler
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

describe('eventLoopLag (real event loop)', () => {
  it('rises when the loop is saturated, makes the shedder shed, and falls back when idle', async () => {
    const lag = eventLoopLag({ saturatedMs: 40, windowMs: 200, resolutionMs: 5 });
    const shedder = new LoadShedder({ capacity: 100, signals: [lag] });
    try {
      await pause(250);
      expect(lag.value).toBeLessThan(0.5);
      expect(shedder.tryAcquire(1, { priority: -1 }).granted).toBe(true);
      await saturate(450, 60); // every timer fires ~60 ms late: past saturation
      expect(lag.lagMs).toBeGreaterThan(40);
      expect(lag.value).toBe(1);
      expect(shedder.utilisation).toBe(1);
      expect(shedder.tryAcquire(1, { priority: 1 })).toMatchObject({ granted: false, reason: 'shed' });
      await pause(450);
      expect(lag.value).toBeLessThan(0.5);
      expect(shedder.tryAcquire(1, { priority: 1 }).granted).toBe(true);
    } finally {
      lag.close();
    }
    expect(lag.value).toBe(0);
    lag.close(); // idempotent
  });

  it('times its windows on the given clock and stops them on close()', () => {
    const clock = new VirtualClock();
    const lag = eventLoopLag({ clock, windowMs: 100 });
    expect(clock.pendingTimers).toBe(1);
    clock.advanceSync(100);
    expect(clock.pendingTimers).toBe(1); // re-armed for the next window
    lag.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejects bad options at construction', () => {
    expect(() => eventLoopLag({ saturatedMs: 0 })).toThrow(InvalidArgumentError);
    expect(() => eventLoopLag({ percentile: 0 })).toThrow(InvalidArgumentError);
    expect(() => eventLoopLag({ percentile: 101 })).toThrow(InvalidArgumentError);
    expect(() => eventLoopLag({ resolutionMs: 2.5 })).toThrow(InvalidArgumentError);
    expect(() => eventLoopLag({ windowMs: 15, resolutionMs: 10 })).toThrow(/windowMs/);
  });
});
