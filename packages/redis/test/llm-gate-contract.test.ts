import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { isGate, pipeline } from '@sluice/core';
import { RedisLlmLimiter, RedisStore } from '@sluice/redis';
import { describeRemoteGateContract } from '@sluice/testing/contract';
import { countingClock } from './fixtures/counting-clock.ts';
import { sharedRedis } from './fixtures/shared-redis.ts';

// The gate contract against a real redis-server: one key of a RedisLlmLimiter as a Gate. Redis's
// clock cannot be sped up, so the test shortens the quota’s minute to 400 ms (windowScale).
const redis = sharedRedis();
let names = 0;
const MINUTE_SCALE = 400 / 60_000;

describeRemoteGateContract('RedisLlmLimiter.gate(key)', {
  create: () => {
    const clock = countingClock();
    const limiter = new RedisLlmLimiter({
      store: new RedisStore({ client: redis(), clock }),
      name: `contract-llm-${++names}`,
      requestsPerMinute: 4,
      windowScale: MINUTE_SCALE,
      onStoreError: 'fail-closed',
    });
    return { gate: limiter.gate('k', { queueLimit: 6 }), initial: 4, queueLimit: 6, refillMs: 410, pendingTimers: clock.pending };
  },
  invalid: {
    'queueLimit -1': () =>
      new RedisLlmLimiter({ store: new RedisStore({ client: redis() }), requestsPerMinute: 1, onStoreError: 'fail-closed' }).gate('k', {
        queueLimit: -1,
      }),
    'tokensPerMinute 0': () =>
      new RedisLlmLimiter({ store: new RedisStore({ client: redis() }), tokensPerMinute: 0, onStoreError: 'fail-closed' }),
  },
});

describe('RedisLlmLimiter refusals and gate', () => {
  it('tryAcquire refuses with the core Refusal: reason, gate name, retryAfterMs; paused after a provider 429', async () => {
    const name = `llm-refusal-${++names}`;
    const limiter = new RedisLlmLimiter({
      store: new RedisStore({ client: redis() }),
      name,
      requestsPerMinute: 1,
      onStoreError: 'fail-closed',
    });
    const first = await limiter.tryAcquire({});
    expect(first.granted).toBe(true);
    const refused = await limiter.tryAcquire({});
    expect(refused).toMatchObject({ granted: false, reason: 'exhausted', gate: name });
    if (!refused.granted) expect(refused.retryAfterMs).toBeGreaterThan(50_000);
    const other = await limiter.tryAcquire({}, { key: 'other' });
    expect(other.granted).toBe(true);
    const pauses: number[] = [];
    limiter.onPause((event) => pauses.push(event.durationMs));
    await limiter.observe({ status: 429, headers: new Headers({ 'retry-after': '3' }) }, undefined, { key: 'paused' });
    expect(pauses).toEqual([3_000]);
    expect(await limiter.tryAcquire({}, { key: 'paused' })).toMatchObject({ granted: false, reason: 'paused', gate: name });
    limiter.close();
  });

  it('a plain count is tokens (one request each) when a token limit is set, as in LlmLimiter', async () => {
    const limiter = new RedisLlmLimiter({
      store: new RedisStore({ client: redis() }),
      name: `llm-units-${++names}`,
      tokensPerMinute: 100,
      requestsPerMinute: 3,
      onStoreError: 'fail-closed',
    });
    expect(limiter.countsTokens).toBe(true);
    const gate = limiter.gate();
    expect(isGate(gate)).toBe(true);
    expect(gate.capacity).toBe(100);
    const a = await gate.tryAcquireNow(60);
    expect(a.granted).toBe(true);
    expect((await gate.tryAcquireNow(50)).granted).toBe(false); // tokens
    expect((await gate.tryAcquireNow(10)).granted).toBe(true);
    expect((await gate.tryAcquireNow(10)).granted).toBe(true);
    expect(await gate.tryAcquireNow(1)).toMatchObject({ granted: false, reason: 'exhausted' }); // the 3 requests are spent
    gate.close();
    limiter.close();
  });

  it('composes in pipeline() with an in-memory gate', async () => {
    const limiter = new RedisLlmLimiter({
      store: new RedisStore({ client: redis() }),
      name: `llm-pipe-${++names}`,
      requestsPerMinute: 10,
      onStoreError: 'fail-closed',
    });
    const door = pipeline(limiter.gate('k'), new ConcurrencyLimiter({ maxConcurrent: 2 }));
    await expect(door.run(async () => 'answered')).resolves.toBe('answered');
    limiter.close();
  });
});
