import { describe, expect, it } from 'vitest';
import { SlidingWindow, TokenBucket, allOf } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

describe('allOf', () => {
  it('admits only when every member can, and takes from all at once', () => {
    const clock = new VirtualClock();
    const perSecond = new TokenBucket({ ratePerSecond: 4, burst: 4, clock });
    const perMinute = new SlidingWindow({ limit: 6, windowMs: 60_000, clock });
    const gate = allOf({ clock }, perSecond, perMinute);
    expect(gate.capacity).toBe(4);
    expect(gate.tryAcquire(4).granted).toBe(true);
    expect(perSecond.available).toBe(0);
    expect(perMinute.available).toBe(2);
    const refusal = gate.tryAcquire(1);
    expect(refusal).toMatchObject({ granted: false, reason: 'exhausted', gate: 'all-of', retryAfterMs: 250 });
  });

  it('waits without holding any member’s budget, and its retry hint is the longest member’s', async () => {
    const clock = new VirtualClock();
    const perSecond = new TokenBucket({ ratePerSecond: 10, burst: 5, clock });
    const perMinute = new SlidingWindow({ limit: 5, windowMs: 60_000, clock });
    const gate = allOf({ clock, queueLimit: 10 }, perSecond, perMinute);
    gate.tryAcquire(5);
    await clock.advance(1_000); // the bucket is full again; the minute window is not
    const waiting = gate.acquire(1);
    await clock.advance(10_000);
    expect(perSecond.available).toBe(5); // nothing taken from the bucket while waiting on the window
    const hint = gate.tryAcquire(1);
    expect(hint.granted).toBe(false);
    if (!hint.granted) expect(hint.retryAfterMs).toBeGreaterThan(40_000);
    await clock.settle(waiting, { maxMs: 120_000 });
    expect(clock.now()).toBeGreaterThanOrEqual(60_000);
  });

  it('4/s and 60/min and 10,000/day: a steady burst of demand never breaks any of them', async () => {
    const clock = new VirtualClock();
    const gate = allOf(
      { clock, queueLimit: 1_000 },
      new TokenBucket({ ratePerSecond: 4, burst: 4, clock }),
      new SlidingWindow({ limit: 60, windowMs: 60_000, clock }),
      new SlidingWindow({ limit: 10_000, windowMs: 86_400_000, clock }),
    );
    const grants: number[] = [];
    const callers = Array.from({ length: 8 }, async () => {
      while (clock.now() < 600_000) {
        await gate.acquire(1);
        grants.push(clock.now());
      }
    });
    await clock.advance(600_000);
    gate.close();
    await Promise.allSettled(callers);
    // the bucket (4/s, burst 4) allows at most burst + rate × t in any window: 8 in any second
    for (let i = 0; i < grants.length; i++) {
      const inSecond = grants.filter((t) => t >= (grants[i] as number) && t < (grants[i] as number) + 1_000).length;
      expect(inSecond).toBeLessThanOrEqual(8);
    }
    for (let m = 0; m < 10; m++) expect(grants.filter((t) => t >= m * 60_000 && t < (m + 1) * 60_000).length).toBeLessThanOrEqual(60);
    expect(grants.length).toBeGreaterThan(0.9 * 600); // ~60 a minute for ten minutes
  });

  it('reads its members’ clock when none is given, and refuses members on different clocks', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const a = new TokenBucket({ ratePerSecond: 2, burst: 2, clock });
    const b = new TokenBucket({ ratePerSecond: 10, burst: 10, clock });
    const both = allOf(a, b);
    expect(both.tryAcquire(2).granted).toBe(true);
    expect(both.tryAcquire(1).granted).toBe(false);
    await clock.advance(1_000);
    // one virtual second refilled `a` completely: the composite read virtual time, not the real clock
    expect(a.stats().available).toBe(2);
    expect(both.tryAcquire(2).granted).toBe(true);
    const other = new TokenBucket({ ratePerSecond: 1, burst: 1, clock: new VirtualClock({ stallReportMs: false }) });
    expect(() => allOf(a, other)).toThrow(/clock/);
    expect(allOf({ clock }, b, other).members).toHaveLength(2);
  });

  it('refund gives back to every member; close closes them', () => {
    const clock = new VirtualClock();
    const a = new TokenBucket({ ratePerSecond: 1, burst: 2, clock });
    const b = new TokenBucket({ ratePerSecond: 1, burst: 3, clock });
    const gate = allOf({ clock }, a, b);
    gate.tryAcquire(2);
    gate.refund(1);
    expect([a.available, b.available]).toEqual([1, 2]);
    gate.close();
    expect(a.isClosed && b.isClosed).toBe(true);
  });

  it('never overtakes a member’s own waiters', async () => {
    const clock = new VirtualClock();
    const shared = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    const gate = allOf({ clock }, shared);
    shared.tryAcquire(2);
    const direct = shared.acquire(1);
    await clock.advance(100); // one token: it belongs to the direct waiter queued first
    await direct;
    expect(gate.tryAcquire(1).granted).toBe(false);
  });
});
