import { describe, expect, it } from 'vitest';
import { ACQUIRE_NOW, GateMeter, NOT_RUN, hasAcquireNow, TooLargeError, type Gate, type Outcome } from '@sluice/core';
import { TokenBucket } from '@sluice/rate-limit';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { VirtualClock } from '@sluice/testing';

/** Wraps a gate so each permit's release outcome is recorded. */
function recording(gate: Gate): { gate: Gate; releases: (Outcome | undefined)[] } {
  const releases: (Outcome | undefined)[] = [];
  const wrap = <P extends { release(outcome?: Outcome): void }>(permit: P): P =>
    ({ ...permit, release: (outcome?: Outcome) => (releases.push(outcome), permit.release(outcome)) }) as P;
  const proxy = Object.create(gate) as Gate;
  Object.assign(proxy, {
    tryAcquire: (count?: number, options?: object) => {
      const result = gate.tryAcquire(count, options);
      return result.granted ? wrap(result) : result;
    },
    acquire: (count?: number, options?: object) => gate.acquire(count, options).then(wrap),
  });
  if (hasAcquireNow(gate)) {
    Object.assign(proxy, {
      [ACQUIRE_NOW]: (count: number, priority: number) => {
        const permit = gate[ACQUIRE_NOW](count, priority);
        return permit === undefined ? undefined : wrap(permit);
      },
    });
  }
  return { gate: proxy, releases };
}

describe('GateMeter', () => {
  it('pays each item its cost, in order, releasing every permit once', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 3 });
    const meter = new GateMeter<number>('test', limiter, { cost: (n) => n });
    const out: number[] = [];
    for (const n of [1, 3, 0, 2]) await meter.pass(n, (item) => out.push(item));
    expect(out).toEqual([1, 3, 0, 2]);
    expect(limiter.stats().available).toBe(3);
    // cost 0 never asks the gate
    expect(limiter.stats().admitted).toBe(3);
  });

  it('a batch credit pays later items and what is left goes back with { cost: used }', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 10 });
    const { gate, releases } = recording(limiter);
    const meter = new GateMeter<number>('test', gate, { batch: 4 });
    const out: number[] = [];
    for (let i = 0; i < 6; i++) meter.pass(i, (item) => out.push(item));
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    // items 0–3 from the first credit (used up: released plainly), 4–5 from a second credit still held
    expect(limiter.stats().available).toBe(6);
    meter.close();
    expect(limiter.stats().available).toBe(10);
    expect(releases).toEqual([undefined, { cost: 2 }]);
    meter.close();
    expect(releases).toHaveLength(2);
  });

  it('stop withdraws a pending acquire, and later passes throw the reason', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const meter = new GateMeter<string>('test', limiter);
    const pending = meter.pass('x', () => {
      throw new Error('must not deliver');
    });
    expect(limiter.stats().waiting).toBe(1);
    const reason = new Error('stream cancelled');
    meter.stop(reason);
    await expect(pending).rejects.toBe(reason);
    expect(limiter.stats().waiting).toBe(0);
    expect(() => meter.pass('y', () => {})).toThrow(reason);
    held.release();
    expect(limiter.stats().available).toBe(1);
  });

  it('a failing deliver releases its permit as NOT_RUN and propagates', () => {
    const { gate, releases } = recording(new ConcurrencyLimiter({ maxConcurrent: 1 }));
    const meter = new GateMeter<number>('test', gate);
    expect(() =>
      meter.pass(1, () => {
        throw new Error('consumer broke');
      }),
    ).toThrow('consumer broke');
    expect(releases).toEqual([NOT_RUN]);
  });

  it('refuses bad options, impossible and invalid costs; maxWaitMs bounds a wait', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5, clock });
    expect(() => new GateMeter('test', bucket, { batch: 0 })).toThrow(/batch/);
    expect(() => new GateMeter('test', bucket, { maxWaitMs: Number.NaN })).toThrow(/maxWaitMs/);
    expect(() => new GateMeter('test', bucket, { cost: 1 as never })).toThrow(/cost/);
    const meter = new GateMeter<number>('test', bucket, { cost: (n) => n, maxWaitMs: 100 });
    expect(() => meter.pass(6, () => {})).toThrow(TooLargeError);
    expect(() => meter.pass(-1, () => {})).toThrow(/cost/);
    meter.pass(5, () => {});
    const late = meter.pass(5, () => {});
    await expect(clock.settle(Promise.resolve(late))).rejects.toThrow(/wait/i);
    expect(clock.now()).toBe(0);
  });
});
