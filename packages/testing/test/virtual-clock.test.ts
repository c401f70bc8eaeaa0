import { describe, expect, it, vi } from 'vitest';
import { KEEP_ALIVE } from '@sluice/core';
import { VirtualClock, VirtualTimeStallError } from '@sluice/testing';

describe('VirtualClock', () => {
  it('fires timers in time order, ties in the order set, each at its own instant', async () => {
    const clock = new VirtualClock({ startMs: 1_000 });
    const fired: string[] = [];
    clock.setTimer(() => fired.push(`b@${clock.now()}`), 20);
    clock.setTimer(() => fired.push(`a@${clock.now()}`), 10);
    clock.setTimer(() => fired.push(`c@${clock.now()}`), 20);
    clock.setTimer(() => fired.push(`late@${clock.now()}`), 500);
    await clock.advance(100);
    expect(fired).toEqual(['a@1010', 'b@1020', 'c@1020']);
    expect(clock.now()).toBe(1_100);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.nextTimerAt).toBe(1_500);
  });

  it('runs promise continuations after each instant, so timers they set fire in the same advance', async () => {
    const clock = new VirtualClock();
    const seen: number[] = [];
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
    const task = (async () => {
      for (let i = 0; i < 3; i++) {
        await sleep(10);
        seen.push(clock.now());
      }
    })();
    await clock.advance(30);
    await task;
    expect(seen).toEqual([10, 20, 30]);
  });

  it('advanceSync fires due timers without yielding', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimer(() => fired.push(clock.now()), 5);
    clock.advanceSync(10);
    expect(fired).toEqual([5]);
    expect(clock.now()).toBe(10);
  });

  it('clearTimer cancels, and clearing a fired or foreign timer is a no-op', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    const a = clock.setTimer(() => fired.push('a'), 10);
    const b = clock.setTimer(() => fired.push('b'), 10);
    clock.clearTimer(a);
    await clock.advance(10);
    clock.clearTimer(b);
    clock.clearTimer({} as never);
    expect(fired).toEqual(['b']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('counts keep-alive timers separately', () => {
    const clock = new VirtualClock();
    clock.setTimer(() => {}, 1);
    clock.setTimer(() => {}, 1, KEEP_ALIVE);
    expect(clock.pendingTimers).toBe(2);
    expect(clock.keepAliveTimers).toBe(1);
  });

  it('settle() advances exactly as far as the promise needs', async () => {
    const clock = new VirtualClock();
    const value = await clock.settle(new Promise<string>((resolve) => clock.setTimer(() => resolve('x'), 250)));
    expect(value).toBe('x');
    expect(clock.now()).toBe(250);
    expect(await clock.settle(Promise.resolve(1))).toBe(1);
    expect(clock.now()).toBe(250);
    await expect(clock.settle(Promise.reject(new Error('no')))).rejects.toThrow('no');
  });

  it('settle() reports a promise that can never settle instead of hanging', async () => {
    const clock = new VirtualClock();
    clock.setTimer(() => {}, 10);
    const never = new Promise(() => {});
    await expect(clock.settle(never)).rejects.toThrow(VirtualTimeStallError);
    await expect(clock.settle(never)).rejects.toThrow(/no timer is scheduled, so nothing will ever settle it/);
    const late = new Promise<void>((resolve) => clock.setTimer(resolve, 1_000));
    await expect(clock.settle(late, { maxMs: 100 })).rejects.toThrow(/still pending after 100 ms of virtual time/);
  });

  it('runUntilIdle stops a timer that re-arms itself forever', async () => {
    const clock = new VirtualClock();
    const tick = (): void => void clock.setTimer(tick, 1);
    tick();
    await expect(clock.runUntilIdle({ maxTimers: 1_000 })).rejects.toThrow(/re-arms a timer forever/);
    const once = new VirtualClock();
    const fired: number[] = [];
    once.setTimer(() => fired.push(once.now()), 5);
    once.setTimer(() => fired.push(once.now()), 50);
    await once.runUntilIdle();
    expect(fired).toEqual([5, 50]);
  });

  it('reports a stall: timers pending and the clock not advanced for stallReportMs of real time', async () => {
    const onStall = vi.fn();
    const clock = new VirtualClock({ stallReportMs: 20, onStall });
    clock.setTimer(() => {}, 100);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(onStall).toHaveBeenCalledTimes(1);
    expect(onStall.mock.calls[0]?.[0]).toMatch(/1 timer\(s\) pending .*await clock\.advance/);
  });

  it('does not report a clock that keeps being advanced', async () => {
    const onStall = vi.fn();
    const clock = new VirtualClock({ stallReportMs: 30, onStall });
    clock.setTimer(() => {}, 10_000);
    for (let i = 0; i < 6; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      await clock.advance(1);
    }
    expect(onStall).not.toHaveBeenCalled();
  });

  it('setTime can move time backwards without firing timers (for misbehaving-clock tests)', async () => {
    const clock = new VirtualClock({ startMs: 100 });
    const fired: number[] = [];
    clock.setTimer(() => fired.push(clock.now()), 10);
    clock.setTime(50);
    expect(clock.now()).toBe(50);
    await clock.advance(30);
    expect(fired).toEqual([]);
    await clock.advance(30);
    expect(fired).toEqual([110]);
  });

  it('rejects bad arguments', async () => {
    expect(() => new VirtualClock({ startMs: Number.NaN })).toThrow(/startMs/);
    const clock = new VirtualClock();
    await expect(clock.advance(-1)).rejects.toThrow(/ms must be a finite number ≥ 0/);
    expect(() => clock.setTimer(5 as never, 1)).toThrow(TypeError);
  });
});
