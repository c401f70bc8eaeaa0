import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { LimitExceededError, NOT_RUN, pipeline, type Gate, type Permit } from '@sluice/core';
import { RedisLlmLimiter, RedisRateLimiter, RedisSemaphore, RedisStore } from '@sluice/redis';
import { sharedRedis } from './fixtures/shared-redis.ts';

// What broke (in memory first): in `pipeline(limiter, pool)` every refusal by the pool burned a
// unit of the limiter, and a permit released with NOT_RUN ("nothing was used") kept its units
// spent. The Redis gates give a not-run permit's units back to Redis, exactly once.
const redis = sharedRedis();
let names = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One admitted through `pipeline(gate, pool)`, then three refused by the pool. */
async function oneInThreeRefused(gate: Gate): Promise<Permit> {
  const pool = new ConcurrencyLimiter({ name: 'pool', maxConcurrent: 1, queueLimit: 0 });
  const door = pipeline(gate, pool);
  const first = await door.acquire(1);
  for (let i = 0; i < 3; i++) await expect(door.acquire(1)).rejects.toBeInstanceOf(LimitExceededError);
  // the refunds are calls to Redis, sent after the refusal
  await sleep(50);
  return first;
}

describe('Redis gates: a refused or unused request spends nothing', () => {
  it('RedisRateLimiter.gate: pipeline(gate, pool) — one admitted, three refused by the pool leave 4 of 5', async () => {
    const limiter = RedisRateLimiter.gcra({
      store: new RedisStore({ client: redis() }),
      name: `nr-gcra-${++names}`,
      ratePerSecond: 0.01,
      burst: 5,
      onStoreError: 'fail-closed',
    });
    const first = await oneInThreeRefused(limiter.gate('k'));
    expect((await limiter.take('k', 4)).granted).toBe(true);
    expect((await limiter.take('k', 1)).granted).toBe(false);
    first.release({ ok: true });
    await limiter.close();
  });

  it('RedisRateLimiter.slidingWindow gate: pipeline(gate, pool) — three refused by the pool leave 4 of 5; NOT_RUN refunds once', async () => {
    const limiter = RedisRateLimiter.slidingWindow({
      store: new RedisStore({ client: redis() }),
      name: `nr-window-${++names}`,
      limit: 5,
      windowMs: 60_000,
      onStoreError: 'fail-closed',
    });
    const first = await oneInThreeRefused(limiter.gate('k'));
    expect((await limiter.take('k', 4)).granted).toBe(true);
    expect((await limiter.take('k', 1)).granted).toBe(false);
    first.release(NOT_RUN);
    first.release(NOT_RUN);
    await sleep(50);
    expect((await limiter.take('k', 1)).granted).toBe(true);
    expect((await limiter.take('k', 1)).granted).toBe(false);
    await limiter.close();
  });

  it('RedisRateLimiter.gate: release(NOT_RUN) twice refunds once', async () => {
    const limiter = RedisRateLimiter.gcra({
      store: new RedisStore({ client: redis() }),
      name: `nr-once-${++names}`,
      ratePerSecond: 0.01,
      burst: 5,
      onStoreError: 'fail-closed',
    });
    expect((await limiter.take('k', 3)).granted).toBe(true);
    const gate = limiter.gate('k');
    const permit = await gate.acquire(2);
    permit.release(NOT_RUN);
    permit.release(NOT_RUN);
    await sleep(50);
    expect((await limiter.take('k', 2)).granted).toBe(true);
    expect((await limiter.take('k', 1)).granted).toBe(false);
    await limiter.close();
  });

  it('RedisSemaphore.gate: pipeline(gate, pool) — the refused requests hold no unit; NOT_RUN frees once', async () => {
    const sem = new RedisSemaphore({
      store: new RedisStore({ client: redis() }),
      name: `nr-sem-${++names}`,
      maxConcurrent: 3,
      leaseMs: 5_000,
      onStoreError: 'fail-closed',
    });
    const gate = sem.gate('k');
    const first = await oneInThreeRefused(gate);
    const two = await gate.tryAcquireNow(2);
    expect(two.granted).toBe(true);
    expect((await gate.tryAcquireNow(1)).granted).toBe(false);
    first.release(NOT_RUN);
    first.release(NOT_RUN);
    await sleep(50);
    expect((await gate.tryAcquireNow(1)).granted).toBe(true);
    expect((await gate.tryAcquireNow(1)).granted).toBe(false);
    if (two.granted) two.release();
    await sem.close();
  });

  it('RedisLlmLimiter.gate: pipeline(gate, pool) — the refused requests leave the request budget whole; NOT_RUN refunds once', async () => {
    const limiter = new RedisLlmLimiter({
      store: new RedisStore({ client: redis() }),
      name: `nr-llm-${++names}`,
      requestsPerMinute: 5,
      onStoreError: 'fail-closed',
    });
    const first = await oneInThreeRefused(limiter.gate('k'));
    for (let i = 0; i < 4; i++) expect((await limiter.tryAcquire({}, { key: 'k' })).granted).toBe(true);
    expect(await limiter.tryAcquire({}, { key: 'k' })).toMatchObject({ granted: false, reason: 'exhausted' });
    first.release(NOT_RUN);
    first.release(NOT_RUN);
    await sleep(50);
    expect((await limiter.tryAcquire({}, { key: 'k' })).granted).toBe(true);
    expect((await limiter.tryAcquire({}, { key: 'k' })).granted).toBe(false);
    limiter.close();
  });
});
