import { describe, expect, it } from 'vitest';
import { overloadProtection } from '@sluice/overload';
import { throttle } from '@sluice/web-streams';
import { RedisLlmLimiter, RedisRateLimiter, RedisSemaphore, RedisStore, SharedCircuitBreaker } from '@sluice/redis';
import { sharedRedis } from './fixtures/shared-redis.ts';

// The Redis gates go where every gate goes: overloadProtection's limiter slot and a stream's throttle.
const redis = sharedRedis();
let names = 0;
const store = () => new RedisStore({ client: redis() });

describe('Redis gates compose like in-memory gates', () => {
  it('overloadProtection with a Redis semaphore gate as its limiter: runs, and the units come back', async () => {
    const sem = new RedisSemaphore({
      store: store(),
      name: `compose-sem-${++names}`,
      maxConcurrent: 2,
      leaseMs: 5_000,
      onStoreError: 'fail-closed',
    });
    const door = overloadProtection({ limiter: sem.gate('k'), concurrency: { maxConcurrent: 4 } });
    const answers = await Promise.all([1, 2, 3].map((n) => door.run(async () => n * 10)));
    expect(answers).toEqual([10, 20, 30]);
    expect((await sem.gate('k').tryAcquireNow(2)).granted).toBe(true);
    door.close();
    await sem.close();
  });

  it('a web stream throttled by Redis gates (rate limiter, LLM quota, shared breaker) passes every chunk in order', async () => {
    const limiter = RedisRateLimiter.gcra({
      store: store(),
      name: `compose-rate-${++names}`,
      ratePerSecond: 200,
      burst: 2,
      onStoreError: 'fail-closed',
    });
    const quota = new RedisLlmLimiter({
      store: store(),
      name: `compose-llm-${names}`,
      requestsPerMinute: 100,
      onStoreError: 'fail-closed',
    });
    const breaker = new SharedCircuitBreaker({
      store: store(),
      name: `compose-breaker-${names}`,
      failureThreshold: 3,
      windowMs: 1_000,
      halfOpenAfterMs: 100,
      onStoreError: 'fail-closed',
    });
    const source = new ReadableStream<number>({
      start(controller) {
        for (let i = 0; i < 6; i++) controller.enqueue(i);
        controller.close();
      },
    });
    const out: number[] = [];
    const throttled = source
      .pipeThrough(throttle<number>(breaker.gate()))
      .pipeThrough(throttle<number>(limiter.gate('k')))
      .pipeThrough(throttle<number>(quota.gate('k')));
    for await (const chunk of throttled as unknown as AsyncIterable<number>) out.push(chunk);
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    await Promise.all([limiter.close(), quota.close(), breaker.close()]);
  });
});
