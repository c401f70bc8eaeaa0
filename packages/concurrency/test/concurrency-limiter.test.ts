import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClosedError, QueueFullError, WaitTimeoutError, type Permit } from '@sluice/core';
import { ConcurrencyLimiter, type LimitChange } from '@sluice/concurrency';
import { VirtualClock, driveGate, settleAll } from '@sluice/testing';
import { gateOperations } from '@sluice/testing/arbitraries';

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

describe('ConcurrencyLimiter', () => {
  it('runs at most maxConcurrent at once and the rest in order', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 2, clock });
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    const tasks = Array.from({ length: 6 }, (_, i) =>
      limiter.run(async () => {
        running++;
        peak = Math.max(peak, running);
        order.push(i);
        await sleep(clock, 10);
        running--;
        return i * 10;
      }),
    );
    expect(limiter.inFlight).toBe(2);
    expect(limiter.stats().waiting).toBe(4);
    const results = await clock.settle(Promise.all(tasks));
    expect(results).toEqual([0, 10, 20, 30, 40, 50]);
    expect(peak).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    expect(clock.now()).toBe(30);
    expect(limiter.inFlight).toBe(0);
  });

  it('run releases the slot whether fn returns or throws', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    await expect(
      limiter.run(() => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    await expect(
      limiter.run(async () => {
        throw new Error('async');
      }),
    ).rejects.toThrow('async');
    expect(limiter.inFlight).toBe(0);
    await expect(limiter.run(() => 7)).resolves.toBe(7);
    expect(limiter.stats()).toMatchObject({ admitted: 3, waiting: 0 });
  });

  it('hands fn its signal and a permit when it asks for them; releasing early frees the slot', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const controller = new AbortController();
    let seen: AbortSignal | undefined;
    const first = limiter.run(
      async ({ signal, permit }) => {
        seen = signal;
        permit.release({ ok: true });
        await sleep(clock, 100);
      },
      { signal: controller.signal },
    );
    await clock.advance(0);
    expect(seen).toBe(controller.signal);
    expect(limiter.inFlight).toBe(0);
    const second = limiter.run(() => 'next');
    await expect(second).resolves.toBe('next'); // did not wait for the first to finish
    await clock.settle(first);
    expect(limiter.inFlight).toBe(0);
  });

  it('a queued run never starts when it times out, is aborted, or the limiter closes', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 3, clock });
    const started: string[] = [];
    const hold = limiter.run(() => sleep(clock, 1_000));
    const timedOut = limiter.run(() => started.push('timed out'), { maxWaitMs: 50 }).catch((e: unknown) => e);
    const controller = new AbortController();
    const aborted = limiter.run(() => started.push('aborted'), { signal: controller.signal }).catch((e: unknown) => e);
    const closed = limiter.run(() => started.push('closed')).catch((e: unknown) => e);
    await expect(limiter.run(() => started.push('overflow'))).rejects.toBeInstanceOf(QueueFullError);
    controller.abort(new Error('gone'));
    await clock.advance(50);
    expect(await timedOut).toBeInstanceOf(WaitTimeoutError);
    expect(((await aborted) as Error).message).toBe('gone');
    limiter.close();
    expect(await closed).toBeInstanceOf(ClosedError);
    await clock.settle(hold);
    expect(started).toEqual([]);
  });

  it('setLimit: growing admits waiters at once; shrinking lets running work finish', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const changes: LimitChange[] = [];
    limiter.onLimitChange((change) => changes.push(change));
    const runs = Array.from({ length: 4 }, () => limiter.run(() => sleep(clock, 100)));
    expect(limiter.inFlight).toBe(1);
    limiter.setLimit(3);
    expect(limiter.inFlight).toBe(3);
    limiter.setLimit(1);
    expect(limiter.inFlight).toBe(3); // nothing cancelled
    await clock.advance(100);
    expect(limiter.inFlight).toBe(1); // the last waiter started once in-flight was below the limit
    await clock.settle(Promise.all(runs));
    expect(changes.map((c) => [c.from, c.to])).toEqual([
      [1, 3],
      [3, 1],
    ]);
    expect(() => limiter.setLimit(0)).toThrow(/limit must be a finite integer ≥ 1; received 0/);
  });

  it('serves a larger priority first', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const order: string[] = [];
    const hold = limiter.run(() => sleep(clock, 10));
    const runs = [limiter.run(() => void order.push('normal')), limiter.run(() => void order.push('urgent'), { priority: 5 })];
    await clock.settle(Promise.all([hold, ...runs]));
    expect(order).toEqual(['urgent', 'normal']);
  });

  it('acquire/release works like run for callers that manage the permit', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const first = (await limiter.acquire()) as Permit;
    const second = limiter.acquire();
    expect(limiter.stats().waiting).toBe(1);
    first.release({ ok: true, durationMs: 5 });
    first.release({ ok: true, durationMs: 5 });
    (await second).release();
    expect(limiter.inFlight).toBe(0);
  });

  it('never has more in flight than its limit, and settles every waiter (fast-check, virtual time)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 2, max: 4 }), gateOperations({ maxCount: 2, priorities: [0, 3] }), async (limit, operations) => {
        const clock = new VirtualClock();
        const limiter = new ConcurrencyLimiter({ maxConcurrent: limit, queueLimit: 8, clock, maxStarvationMs: 300 });
        const report = await driveGate(limiter, clock, operations, {
          afterStep: () => {
            expect(limiter.inFlight).toBeLessThanOrEqual(limit);
            expect(limiter.inFlight).toBeGreaterThanOrEqual(0);
          },
        });
        expect(report.violations).toEqual([]);
        limiter.close();
        expect(await settleAll(clock, report)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});
