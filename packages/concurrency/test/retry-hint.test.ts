import { describe, expect, it } from 'vitest';
import { LimitExceededError, NOT_RUN, QueueFullError, WaitTimeoutError, type Permit, type Refusal } from '@sluice/core';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { VirtualClock } from '@sluice/testing';

/** Holds one slot for `ms` of virtual time, then releases it. */
async function hold(clock: VirtualClock, limiter: ConcurrencyLimiter, ms: number): Promise<void> {
  const permit = limiter.tryAcquire(1) as Permit;
  expect(permit.granted).toBe(true);
  await clock.advance(ms);
  permit.release({ ok: true });
}

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

const hintOf = (result: Permit | Refusal): number | undefined => (result.granted ? Number.NaN : result.retryAfterMs);

describe('ConcurrencyLimiter: retry hints from the measured hold time', () => {
  it('has no hint before a slot came back, then tells the next in line the hold time it observed', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 0, clock });
    const first = limiter.tryAcquire(1) as Permit;
    const cold = limiter.tryAcquire(1);
    expect(cold).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: undefined });
    expect(limiter.serviceTimeMs).toBeUndefined();
    await clock.advance(50);
    first.release({ ok: true });
    expect(limiter.serviceTimeMs).toBe(50);

    const busy = limiter.tryAcquire(1) as Permit;
    expect(limiter.tryAcquire(1)).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: 50 });
    const refused = await limiter.acquire(1).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(LimitExceededError);
    expect(refused).toMatchObject({ code: 'LIMIT_EXCEEDED', retryAfterMs: 50 });
    busy.release();
  });

  it('follows the service time as it changes: each sample moves the estimate a fifth of the way', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 0, clock });
    for (let i = 0; i < 5; i++) await hold(clock, limiter, 50);
    expect(limiter.serviceTimeMs).toBe(50);
    await hold(clock, limiter, 200);
    expect(limiter.serviceTimeMs).toBeCloseTo(80, 9);
    const permit = limiter.tryAcquire(1) as Permit;
    expect(hintOf(limiter.tryAcquire(1))).toBe(80);
    await clock.advance(200);
    permit.release();
    for (let i = 0; i < 320; i++) await hold(clock, limiter, 200);
    const slow = limiter.tryAcquire(1) as Permit;
    // past the first 16 holds one in 8 is sampled: ≥ 40 samples, 80 + 120 × (1 − 0.8^40) rounded up
    expect(hintOf(limiter.tryAcquire(1))).toBe(200);
    slow.release();
    for (let i = 0; i < 320; i++) await hold(clock, limiter, 10);
    const fast = limiter.tryAcquire(1) as Permit;
    // 40 samples: 10 + 190 × 0.8^40 ≈ 10.03, rounded up: the old service time has all but gone
    expect(hintOf(limiter.tryAcquire(1))).toBe(11);
    fast.release();
    for (let i = 0; i < 320; i++) await hold(clock, limiter, 10);
    expect(limiter.serviceTimeMs).toBeCloseTo(10, 2);
  });

  it('counts the units ahead in waves of the limit: QUEUE_FULL, maxWaitMs and a timed-out waiter carry the wait', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 2, queueLimit: 2, clock });
    // two slots, each held 40 ms, measured while the limiter is busy
    const a = limiter.tryAcquire(1) as Permit;
    const b = limiter.tryAcquire(1) as Permit;
    await clock.advance(40);
    a.release();
    b.release();
    expect(limiter.serviceTimeMs).toBe(40);

    const held = [limiter.tryAcquire(1) as Permit, limiter.tryAcquire(1) as Permit];
    // next in line: one unit must come back, one wave of 2 per 40 ms → 20 ms
    expect(hintOf(limiter.tryAcquire(1))).toBe(20);
    expect(hintOf(limiter.tryAcquire(2))).toBe(40);
    const zero = await limiter.acquire(1, { maxWaitMs: 0 }).catch((error: unknown) => error);
    expect(zero).toBeInstanceOf(WaitTimeoutError);
    expect(zero).toMatchObject({ retryAfterMs: 20 });

    const waiters = [limiter.acquire(1), limiter.acquire(1)];
    // 2 units ahead + 1: 40 × 3 / 2 = 60 ms
    const full = await limiter.acquire(1).catch((error: unknown) => error);
    expect(full).toBeInstanceOf(QueueFullError);
    expect(full).toMatchObject({ code: 'QUEUE_FULL', retryAfterMs: 60 });
    expect(hintOf(limiter.tryAcquire(1))).toBe(60);
    expect(limiter.stats().waiting).toBe(2);

    for (const permit of held) permit.release();
    const granted = await clock.settle(Promise.all(waiters));
    for (const permit of granted) permit.release();
  });

  it('a hint is no prediction: a deadline below it still waits, and is served if a slot comes back in time', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 4, clock });
    await hold(clock, limiter, 40);
    const busy = limiter.tryAcquire(1) as Permit;
    expect(hintOf(limiter.tryAcquire(1))).toBe(40);
    const quick = limiter.acquire(1, { maxWaitMs: 10 }).catch((error: unknown) => error);
    await clock.advance(0);
    expect(limiter.stats().waiting).toBe(1); // queued, not refused on the hint
    await clock.advance(5);
    busy.release(); // this holder was quicker than the average
    const permit = await quick;
    expect(permit).toMatchObject({ granted: true });
    (permit as Permit).release();
    expect(clock.pendingTimers).toBe(0); // no wake timer was armed from the hint
  });

  it('a waiter whose deadline passes is told the wait still ahead of it', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 4, clock });
    await hold(clock, limiter, 30);
    const busy = limiter.tryAcquire(1) as Permit;
    const waiter = limiter.acquire(1, { maxWaitMs: 40 }).catch((error: unknown) => error);
    await clock.advance(40);
    const error = await waiter;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ retryAfterMs: 30 });
    busy.release();
  });

  it('is at least 1 ms, never 0, when work takes no time', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 4, queueLimit: 0, clock });
    for (let i = 0; i < 10; i++) await limiter.run(() => undefined);
    const held = Array.from({ length: 4 }, () => limiter.tryAcquire(1) as Permit);
    for (const permit of held) permit.release();
    expect(limiter.serviceTimeMs).toBe(0);
    const again = Array.from({ length: 4 }, () => limiter.tryAcquire(1) as Permit);
    expect(limiter.tryAcquire(1)).toMatchObject({ granted: false, retryAfterMs: 1 });
    await expect(limiter.acquire(1)).rejects.toMatchObject({ retryAfterMs: 1 });
    for (const permit of again) permit.release();
  });

  it('learns from run() as from permits, ignores NOT_RUN releases, and reads no clock while below half the limit', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 4, clock });
    // one at a time in a limit of 4: not busy, nothing measured
    for (let i = 0; i < 3; i++) await clock.settle(limiter.run(() => sleep(clock, 25)));
    expect(limiter.serviceTimeMs).toBeUndefined();
    // two at once: the second is admitted at half the limit, and measured
    await clock.settle(Promise.all([limiter.run(() => sleep(clock, 25)), limiter.run(() => sleep(clock, 25))]));
    expect(limiter.serviceTimeMs).toBe(25);
    const notRun = [limiter.tryAcquire(1) as Permit, limiter.tryAcquire(1) as Permit];
    await clock.advance(1);
    for (const permit of notRun) permit.release(NOT_RUN);
    expect(limiter.serviceTimeMs).toBe(25);
    // a run that asks for its context releases through its permit: measured too
    await clock.settle(
      Promise.all([
        limiter.run(() => sleep(clock, 75)),
        limiter.run(async (context) => {
          expect(context.permit.granted).toBe(true);
          await sleep(clock, 75);
        }),
      ]),
    );
    expect(limiter.serviceTimeMs).toBeCloseTo(25 + 0.2 * (75 - 25), 9);
  });

  it('arms no wake timer for waiters: a slot comes back only with a release', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    await hold(clock, limiter, 10);
    const busy = limiter.tryAcquire(1) as Permit;
    const waiter = limiter.acquire(1);
    await clock.advance(0);
    expect(clock.pendingTimers).toBe(0);
    const fired = clock.firedTimers;
    await clock.advance(1_000);
    expect(clock.firedTimers).toBe(fired);
    busy.release();
    (await waiter).release();
  });
});

describe('ConcurrencyLimiter: hold times are sampled', () => {
  it('measures the first 16 busy grants, then one in eight (two clock reads per measured hold)', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 0, clock });
    for (let i = 0; i < 16; i++) await hold(clock, limiter, 10);
    expect(limiter.serviceTimeMs).toBe(10);
    // seven unsampled holds of 90 ms change nothing; the eighth is a sample
    for (let i = 0; i < 7; i++) await hold(clock, limiter, 90);
    expect(limiter.serviceTimeMs).toBe(10);
    await hold(clock, limiter, 90);
    expect(limiter.serviceTimeMs).toBeCloseTo(10 + 0.2 * 80, 9);
  });
});
