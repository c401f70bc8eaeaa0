import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, QueueFullError, pipeline, refusalReasonOf, type FairnessOptions, type Refusal } from '@sluice/core';
import { ConcurrencyLimiter, type ConcurrencyLimiterOptions } from '@sluice/concurrency';
import { VirtualClock } from '@sluice/testing';

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

/** A limiter that shows how many keys have waiters (for the memory check). */
class InspectedLimiter extends ConcurrencyLimiter {
  get waitingKeys(): number {
    return this.queue.keys;
  }
}

/**
 * A noisy tenant submits 1,000 tasks, then two quiet tenants 10 each; every task takes 10 ms
 * at concurrency 4. Returns the tenants in the order their tasks started, counted from the
 * quiet tenants' arrival.
 */
async function noisyNeighbour(options: Partial<ConcurrencyLimiterOptions>): Promise<string[]> {
  const clock = new VirtualClock();
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 4, queueLimit: 2_000, clock, ...options });
  const started: string[] = [];
  const submit = (tenant: string) =>
    limiter.run(
      async () => {
        started.push(tenant);
        await sleep(clock, 10);
      },
      { key: tenant },
    );
  const tasks: Promise<void>[] = [];
  for (let i = 0; i < 1_000; i++) tasks.push(submit('noisy'));
  await clock.advance(25); // the noisy backlog is being served when the quiet tenants arrive
  const arrivedAfter = started.length;
  for (let i = 0; i < 10; i++) tasks.push(submit('quiet-a'), submit('quiet-b'));
  await clock.settle(Promise.all(tasks));
  expect(started).toHaveLength(1_020);
  return started.slice(arrivedAfter);
}

describe('ConcurrencyLimiter fairness', () => {
  it('a noisy tenant’s 1,000 queued tasks do not delay two quiet tenants: they finish within ~30 admissions', async () => {
    const fair = await noisyNeighbour({ fairness: {} });
    const lastQuiet = Math.max(fair.lastIndexOf('quiet-a'), fair.lastIndexOf('quiet-b'));
    expect(lastQuiet).toBeLessThan(30);
    // round-robin: noisy, quiet-a, quiet-b, noisy, ...
    expect(fair.slice(0, 9)).toEqual(['noisy', 'quiet-a', 'quiet-b', 'noisy', 'quiet-a', 'quiet-b', 'noisy', 'quiet-a', 'quiet-b']);
    // without fairness the same traffic makes them wait behind the whole backlog
    const fifo = await noisyNeighbour({});
    expect(fifo.indexOf('quiet-a')).toBeGreaterThan(900);
  });

  it('caps what one key may have waiting: past perKeyQueueLimit it is refused with queue-full, other keys still queue', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 3, queueLimit: 100, clock, fairness: { perKeyQueueLimit: 5 } });
    const refusals: Refusal[] = [];
    limiter.onRefuse((refusal) => refusals.push(refusal));
    const held = await limiter.acquire(3, { key: 'noisy' }); // every slot, granted at once: not waiting
    const noisy = Array.from({ length: 5 }, () => limiter.run(() => 'noisy', { key: 'noisy' }));
    const refused: unknown = await limiter.run(() => 'too many', { key: 'noisy' }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refusalReasonOf(refused)).toBe('queue-full');
    expect(refused).toMatchObject({ perKey: true, key: 'noisy', queueLimit: 5, retryAfterMs: undefined });
    expect((refused as Error).message).toBe('concurrency: queue is full for key "noisy" (perKeyQueueLimit 5)');
    expect(refusals).toEqual([{ granted: false, reason: 'queue-full', gate: 'concurrency', retryAfterMs: undefined }]);
    // another key still queues; the cap counts units (a waiter of 3 takes 3 of the 5)
    const big = limiter.acquire(3, { key: 'quiet' });
    const tooBig: unknown = await limiter.acquire(3, { key: 'quiet' }).catch((error: unknown) => error);
    expect(tooBig).toMatchObject({ perKey: true, key: 'quiet' });
    const small = limiter.run(() => 'quiet', { key: 'quiet' });
    expect(limiter.stats()).toMatchObject({ waiting: 7, queued: 9, refused: 2, admitted: 1 });
    held.release();
    const results = await clock.settle(
      Promise.all([
        ...noisy,
        big.then((permit) => {
          permit.release();
          return 'big';
        }),
        small,
      ]),
    );
    expect(results).toEqual(['noisy', 'noisy', 'noisy', 'noisy', 'noisy', 'big', 'quiet']);
    expect(limiter.stats()).toMatchObject({ waiting: 0, queued: 0, admitted: 8, refused: 2 });
  });

  it('fairBy chooses the key: here the tenant part of "tenant:user"', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({
      maxConcurrent: 1,
      clock,
      fairness: { fairBy: (options) => (typeof options?.key === 'string' ? options.key.split(':')[0] : undefined) },
    });
    const started: string[] = [];
    const submit = (key: string) => limiter.run(() => void started.push(key), { key });
    const all = [submit('acme:1'), submit('acme:2'), submit('acme:3'), submit('globex:1'), submit('acme:4'), submit('initech:1')];
    await clock.settle(Promise.all(all));
    // acme:1 ran at once; then acme, globex and initech take turns (acme's users are one tenant)
    expect(started).toEqual(['acme:1', 'acme:2', 'globex:1', 'initech:1', 'acme:3', 'acme:4']);
  });

  it('the key reaches the limiter through a pipeline', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock, fairness: { perKeyQueueLimit: 1 } });
    const gate = pipeline({ clock }, limiter);
    const held = await gate.acquire(1, { key: 'a' });
    const waiting = gate.acquire(1, { key: 'a' });
    const refused: unknown = await gate.acquire(1, { key: 'a' }).catch((error: unknown) => error);
    expect(refused).toMatchObject({ perKey: true, key: 'a' });
    const refusedRun: unknown = await gate.run(() => 'never', { key: 'a' }).catch((error: unknown) => error);
    expect(refusedRun).toMatchObject({ perKey: true, key: 'a' });
    const other = gate.acquire(1, { key: 'b' });
    await clock.advance(0);
    expect(limiter.stats().waiting).toBe(2);
    held.release();
    (await clock.settle(waiting)).release();
    (await clock.settle(other)).release();
  });

  it('priorities still come first; fairness applies among waiters of one priority', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock, fairness: {} });
    const started: string[] = [];
    const submit = (label: string, key: string, priority = 0) => limiter.run(() => void started.push(label), { key, priority });
    const all = [
      submit('hold', 'x'),
      submit('a1', 'a'),
      submit('a2', 'a'),
      submit('b1', 'b'),
      submit('A1', 'a', 5),
      submit('A2', 'a', 5),
      submit('C1', 'c', 5),
    ];
    await clock.settle(Promise.all(all));
    expect(started).toEqual(['hold', 'A1', 'C1', 'A2', 'a1', 'b1', 'a2']);
  });

  it('keeps nothing per key once its waiters are gone: after 10,000 keys have come and gone no key is held', async () => {
    const clock = new VirtualClock();
    const limiter = new InspectedLimiter({ maxConcurrent: 8, queueLimit: 1_000, clock, fairness: { perKeyQueueLimit: 2 } });
    const tasks: Promise<unknown>[] = [];
    for (let wave = 0; wave < 20; wave++) {
      const abort = new AbortController();
      for (let i = 0; i < 500; i++) {
        const key = `tenant-${wave * 500 + i}`;
        const options = i % 5 === 0 ? { key, signal: abort.signal } : i % 5 === 1 ? { key, maxWaitMs: 3 } : { key };
        tasks.push(limiter.run(() => sleep(clock, 1), options).catch((error: unknown) => error));
      }
      expect(limiter.waitingKeys).toBeGreaterThan(400);
      abort.abort(new Error('gone'));
      await clock.advance(100);
      expect(limiter.waitingKeys).toBe(0);
    }
    const outcomes = await clock.settle(Promise.all(tasks));
    expect(outcomes).toHaveLength(10_000);
    // most aborted or timed-out waiters left before their turn (the first few of a wave ran at once)
    expect(outcomes.filter((outcome) => outcome instanceof Error).length).toBeGreaterThan(3_500);
    expect(limiter.waitingKeys).toBe(0);
    expect(limiter.stats()).toMatchObject({ waiting: 0, queued: 0 });
  });

  it('bad fairness options throw an InvalidArgumentError at construction; a bad key is refused at acquire', async () => {
    const bad: [FairnessOptions, RegExp][] = [
      [{ perKeyQueueLimit: 0 }, /concurrency: fairness.perKeyQueueLimit must be a finite integer ≥ 1 ≤ 1024; received 0 \(number\)/],
      [{ perKeyQueueLimit: 2.5 }, /fairness.perKeyQueueLimit must be a finite integer/],
      [{ perKeyQueueLimit: 2_000 }, /fairness.perKeyQueueLimit .*received 2000/],
      [{ fairBy: 42 as unknown as () => string }, /fairness.fairBy must be a function or undefined; received 42 \(number\)/],
    ];
    for (const [fairness, message] of bad) {
      expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, fairness })).toThrow(InvalidArgumentError);
      expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, fairness })).toThrow(message);
    }
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, fairness: {} });
    await expect(limiter.run(() => 1, { key: {} as unknown as string })).rejects.toThrow(
      /concurrency: key must be a string or a number \(not NaN\); received an object/,
    );
    await expect(limiter.acquire(1, { key: Number.NaN })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(limiter.stats()).toMatchObject({ admitted: 0, refused: 0 });
  });
});
