import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { LimitExceededError, QueueFullError, WaitTimeoutError, isGate, pipeline, type Clock } from '@sluice/core';
import { RedisSemaphore, RedisStore } from '@sluice/redis';
import { describeRemoteGateContract } from '@sluice/testing/contract';
import { countingClock } from './fixtures/counting-clock.ts';
import { sharedRedis } from './fixtures/shared-redis.ts';

// The gate contract against a real redis-server: one key of a RedisSemaphore as a Gate.
const redis = sharedRedis();
let names = 0;

function semaphore(extra: { fair?: boolean; renew?: boolean; leaseMs?: number } = {}, clock?: Clock): RedisSemaphore {
  return new RedisSemaphore({
    store: new RedisStore({ client: redis(), ...(clock === undefined ? {} : { clock }) }),
    name: `contract-semaphore-${++names}`,
    maxConcurrent: 4,
    leaseMs: 600,
    maxPollMs: 5,
    onStoreError: 'fail-closed',
    ...extra,
  });
}

describeRemoteGateContract('RedisSemaphore.gate(key)', {
  create: () => {
    const clock = countingClock();
    // without renewal a held unit comes back when its lease lapses: the contract's "refill"
    const gate = semaphore({ renew: false, leaseMs: 150 }, clock).gate('k', { queueLimit: 6 });
    return { gate, initial: 4, queueLimit: 6, refillMs: 160, pendingTimers: clock.pending };
  },
  invalid: {
    'queueLimit -1': () => semaphore().gate('k', { queueLimit: -1 }),
    'maxConcurrent 0': () =>
      new RedisSemaphore({ store: new RedisStore({ client: redis() }), maxConcurrent: 0, leaseMs: 1_000, onStoreError: 'fail-closed' }),
    'limit 1.5 (deprecated alias)': () =>
      new RedisSemaphore({ store: new RedisStore({ client: redis() }), limit: 1.5, leaseMs: 1_000, onStoreError: 'fail-closed' }),
  },
});

describe('RedisSemaphore.gate(key) as a gate among gates', () => {
  it('is a Gate; refusals are core Refusals with reason, gate name and a retry hint', async () => {
    const sem = semaphore();
    const gate = sem.gate('db');
    expect(isGate(gate)).toBe(true);
    const held = await gate.tryAcquireNow(4);
    expect(held.granted).toBe(true);
    const refusal = await gate.tryAcquireNow(1);
    expect(refusal).toMatchObject({ granted: false, reason: 'exhausted', gate: `${sem.name}:db` });
    if (!refusal.granted) expect(refusal.retryAfterMs).toBeGreaterThan(0);
    // the in-memory limiter's error classes: no queue → LimitExceededError, full queue → QueueFullError
    await expect(sem.gate('db', { queueLimit: 0 }).acquire(1)).rejects.toBeInstanceOf(LimitExceededError);
    const small = sem.gate('db', { queueLimit: 1 });
    const waiting = small.acquire(1, { maxWaitMs: 2_000 });
    await expect(small.acquire(1)).rejects.toBeInstanceOf(QueueFullError);
    await expect(small.acquire(1, { maxWaitMs: 0 })).rejects.toBeInstanceOf(WaitTimeoutError);
    if (held.granted) held.release({ ok: true });
    (await waiting).release({ ok: true });
    await sem.close();
  });

  it('composes in pipeline() with an in-memory ConcurrencyLimiter: waiters wait in order, releases free both', async () => {
    const sem = semaphore();
    const pool = new ConcurrencyLimiter({ maxConcurrent: 2, queueLimit: 10 });
    const door = pipeline(sem.gate('p'), pool);
    const a = await door.acquire(1);
    const b = await door.acquire(1);
    let thirdIn = false;
    const third = door.acquire(1).then((p) => {
      thirdIn = true;
      return p;
    });
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(thirdIn).toBe(false);
    expect(pool.stats().available).toBe(0);
    a.release({ ok: true });
    const c = await third;
    b.release({ ok: true });
    c.release({ ok: true });
    await expect(door.run(async () => 'ran')).resolves.toBe('ran');
    // everything released: the whole semaphore is free again
    const all = await sem.gate('p').tryAcquireNow(4);
    expect(all.granted).toBe(true);
    await sem.close();
  });

  it('a permit taken by the old acquire(key) path and released wakes a gate waiter of the same key', async () => {
    const sem = semaphore();
    const old = await Promise.all([1, 2, 3, 4].map(() => sem.acquire('mix')));
    const gate = sem.gate('mix');
    const waiting = gate.acquire(1);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(gate.stats().waiting).toBe(1);
    old[0]?.release();
    (await waiting).release();
    for (const p of old.slice(1)) p.release();
    await sem.close();
  });
});
