import { describe, expect, it } from 'vitest';
import { KEEP_ALIVE, systemClock } from '@sluice/core';

describe('systemClock', () => {
  it('reads monotonic milliseconds that advance with real time', async () => {
    const a = systemClock.now();
    await new Promise((resolve) => setTimeout(resolve, 15));
    const b = systemClock.now();
    expect(b).toBeGreaterThan(a);
    expect(b - a).toBeGreaterThanOrEqual(10);
    expect(b - a).toBeLessThan(5_000);
  });

  it('binds the runtime source lazily, once: after the first read `now` is the bound native reader', () => {
    systemClock.now();
    expect(Object.hasOwn(systemClock, 'now')).toBe(true);
    expect(systemClock.now.name).toMatch(/bound now/);
  });

  it('fires timers, lets them be cleared, and unrefs them unless keepAlive is asked for', async () => {
    const fired: string[] = [];
    const idle = systemClock.setTimer(() => fired.push('idle'), 1);
    const kept = systemClock.setTimer(() => fired.push('kept'), 1, KEEP_ALIVE);
    const cleared = systemClock.setTimer(() => fired.push('cleared'), 1);
    systemClock.clearTimer(cleared);
    expect((idle as unknown as NodeJS.Timeout).hasRef()).toBe(false);
    expect((kept as unknown as NodeJS.Timeout).hasRef()).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fired.sort()).toEqual(['idle', 'kept']);
  });

  it('treats negative and NaN delays as 0 and caps delays that setTimeout would overflow', async () => {
    const fired: number[] = [];
    systemClock.setTimer(() => fired.push(1), -5);
    systemClock.setTimer(() => fired.push(2), Number.NaN);
    const far = systemClock.setTimer(() => fired.push(3), 10 * 2 ** 31);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(fired).toEqual([1, 2]); // the capped far timer did not fire after 1 ms as an overflow would
    systemClock.clearTimer(far);
  });
});
