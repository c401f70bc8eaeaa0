import { describe, expect, it } from 'vitest';
import { EMPTY_PERMIT, TooLargeError, WaitTimeoutError, type Refusal } from '@sluice/core';
import { TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

function bucket(options: { ratePerSecond?: number; burst?: number; initialTokens?: number; queueLimit?: number } = {}) {
  const clock = new VirtualClock();
  const gate = new TokenBucket({
    ratePerSecond: options.ratePerSecond ?? 10,
    burst: options.burst ?? 5,
    clock,
    ...(options.initialTokens === undefined ? {} : { initialTokens: options.initialTokens }),
    ...(options.queueLimit === undefined ? {} : { queueLimit: options.queueLimit }),
  });
  return { clock, gate };
}

describe('TokenBucket', () => {
  it('answers at fixed instants exactly as the refill arithmetic says (10/s, burst 5)', async () => {
    const { clock, gate } = bucket();
    // [at ms, count, granted?, tokens after (exact), retryAfterMs when refused]
    const table: [number, number, boolean, number, number | undefined][] = [
      [0, 3, true, 2, undefined],
      [0, 2, true, 0, undefined],
      [0, 1, false, 0, 100],
      [50, 1, false, 0.5, 50],
      [100, 1, true, 0, undefined],
      [350, 3, false, 2.5, 50],
      [400, 3, true, 0, undefined],
      [10_000, 5, true, 0, undefined], // refill caps at burst: no more than 5 after a long pause
      [10_000, 1, false, 0, 100],
    ];
    for (const [at, count, granted, tokens, retryAfterMs] of table) {
      await clock.advanceTo(at);
      const result = gate.tryAcquire(count);
      expect([at, count, result.granted]).toEqual([at, count, granted]);
      expect(gate.tokens).toBeCloseTo(tokens, 9);
      if (!result.granted) expect(result.retryAfterMs).toBe(retryAfterMs);
    }
  });

  it('hands out a permit per grant (a probe gets the shared one), and frozen refusals reused while nothing changed', async () => {
    const { clock, gate } = bucket({ burst: 1 });
    expect(gate.tryAcquire(0)).toBe(EMPTY_PERMIT);
    expect(gate.tryAcquire().granted).toBe(true);
    const a = gate.tryAcquire() as Refusal;
    const b = gate.tryAcquire() as Refusal;
    expect(b).toBe(a); // same answer in the same instant: no allocation
    expect(Object.isFrozen(a)).toBe(true); // safe to keep
    await clock.advance(30);
    const c = gate.tryAcquire() as Refusal;
    expect(c).not.toBe(a);
    expect([a.retryAfterMs, c.retryAfterMs]).toEqual([100, 70]);
    expect(gate.stats().refused).toBe(3);
  });

  it('starts from initialTokens', () => {
    const { gate } = bucket({ initialTokens: 0 });
    expect(gate.available).toBe(0);
    expect(gate.tryAcquire().granted).toBe(false);
  });

  it('a clock that stands still refills nothing; one that jumps back gives no negative tokens and no free burst', async () => {
    const { clock, gate } = bucket({ ratePerSecond: 10, burst: 5 });
    await clock.advanceTo(1_000);
    gate.tryAcquire(5);
    for (let i = 0; i < 100; i++) expect(gate.tryAcquire().granted).toBe(false); // time stands still
    clock.setTime(0); // backwards by a second
    expect(gate.tokens).toBe(0);
    expect(gate.tryAcquire().granted).toBe(false);
    clock.setTime(1_000); // back where it was: still nothing new
    expect(gate.tokens).toBe(0);
    clock.setTime(1_100); // 100 ms past the high-water mark of time: one token
    expect(gate.tryAcquire().granted).toBe(true);
    expect(gate.tryAcquire().granted).toBe(false);
  });

  it('serves waiters FIFO on one timer, each when its tokens have refilled', async () => {
    const { clock, gate } = bucket({ ratePerSecond: 10, burst: 5, queueLimit: 20 });
    gate.tryAcquire(5);
    const grants: string[] = [];
    void gate.acquire(3).then(() => grants.push(`3@${clock.now()}`));
    void gate.acquire(1).then(() => grants.push(`1@${clock.now()}`));
    void gate.acquire(2).then(() => grants.push(`2@${clock.now()}`));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(1_000);
    expect(grants).toEqual(['3@300', '1@400', '2@600']);
    expect(clock.pendingTimers).toBe(0);
  });

  it('acquire with tokens available resolves without arming a timer', async () => {
    const { clock, gate } = bucket();
    const permit = await gate.acquire(2);
    expect(permit.granted).toBe(true);
    expect(clock.pendingTimers).toBe(0);
  });

  it('refuses at once a wait that would exceed maxWaitMs, with the wait it would take', async () => {
    const { clock, gate } = bucket();
    gate.tryAcquire(5);
    const error = await gate.acquire(4, { maxWaitMs: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).retryAfterMs).toBe(400);
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });

  it('a request above burst throws at once naming both numbers', async () => {
    const { gate } = bucket({ burst: 5 });
    expect(() => gate.tryAcquire(6)).toThrow(TooLargeError);
    expect(() => gate.tryAcquire(6)).toThrow(/count 6 exceeds capacity 5/);
    await expect(gate.acquire(6)).rejects.toThrow(/can never be granted/);
  });

  it('aborting a waiter takes nothing from the bucket and lets the ones behind go on time', async () => {
    const { clock, gate } = bucket({ ratePerSecond: 10, burst: 5, queueLimit: 20 });
    gate.tryAcquire(5);
    const controller = new AbortController();
    const big = gate.acquire(5, { signal: controller.signal }).catch((e: unknown) => e);
    const grants: number[] = [];
    void gate.acquire(1).then(() => grants.push(clock.now()));
    await clock.advance(150);
    controller.abort(new Error('stop'));
    expect(((await big) as Error).message).toBe('stop');
    await clock.advance(0);
    expect(grants).toEqual([150]); // the small one behind it goes at once: it fits
    // 1.5 tokens refilled by t=150, 1 taken by the small waiter, none by the aborted one
    expect(gate.tokens).toBeCloseTo(0.5, 9);
  });

  it('refund gives unused tokens back (never above burst) and serves waiters', async () => {
    const { clock, gate } = bucket({ burst: 5 });
    gate.tryAcquire(5);
    const waiting = gate.acquire(2);
    gate.refund(3);
    await expect(waiting).resolves.toMatchObject({ granted: true });
    expect(gate.tokens).toBeCloseTo(1, 9);
    gate.refund(100);
    expect(gate.tokens).toBe(5);
    expect(() => gate.refund(-1)).toThrow(/count must be a finite integer ≥ 0/);
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports available, pressure and stats', () => {
    const { gate } = bucket({ burst: 4 });
    gate.tryAcquire(3);
    expect(gate.available).toBe(1);
    expect(gate.pressure).toBe(0.75);
    expect(gate.stats()).toMatchObject({ capacity: 4, available: 1, admitted: 1, refused: 0, waiting: 0 });
  });
});
