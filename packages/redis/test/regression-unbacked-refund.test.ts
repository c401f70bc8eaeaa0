import { describe, expect, it } from 'vitest';
import { NOT_RUN, type Permit } from '@sluice/core';
import { RedisRateLimiter, RedisStore } from '@sluice/redis';
import { sharedRedis } from './fixtures/shared-redis.ts';

// What broke: units the failure policy granted while Redis was down (fail-open, insurance) were
// never debited in Redis, yet a permit of them released as NOT_RUN refunded them to Redis once it
// answered again — budget Redis never had, handed to every process.
const redis = sharedRedis();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('RedisGate: units granted while Redis was down are never refunded to it', () => {
  for (const policy of ['fail-open', 'insurance'] as const) {
    it(`${policy}: a NOT_RUN release of a fallback grant leaves Redis's budget as it was`, async () => {
      const name = `unbacked-${policy}`;
      const own = redis().duplicate();
      const limiter = RedisRateLimiter.gcra({
        store: new RedisStore({ client: own, timeoutMs: 200 }),
        name,
        ratePerSecond: 0.001,
        burst: 8,
        onStoreError: policy,
        expectedInstances: 1,
        probeIntervalMs: 20,
      });
      const checker = RedisRateLimiter.gcra({
        store: new RedisStore({ client: redis() }),
        name,
        ratePerSecond: 0.001,
        burst: 8,
        onStoreError: 'fail-closed',
      });
      const gate = limiter.gate('k');
      try {
        const first = (await gate.tryAcquireNow(4)) as Permit;
        expect(first.granted).toBe(true);
        first.release({ ok: true }); // 4 left in Redis

        own.disconnect();
        const fallback = (await gate.tryAcquireNow(3)) as Permit;
        expect(fallback.granted).toBe(true);
        expect(limiter.storeDown).toBe(true);

        await own.connect();
        for (let i = 0; i < 100 && limiter.storeDown; i++) await sleep(20);
        expect(limiter.storeDown).toBe(false);
        fallback.release(NOT_RUN);
        fallback.release(NOT_RUN);
        await sleep(50);
        // Redis still holds exactly the 4 it had: 5 are refused, 4 pass
        expect((await checker.take('k', 5)).granted).toBe(false);
        expect((await checker.take('k', 4)).granted).toBe(true);
      } finally {
        await limiter.close();
        await checker.close();
        own.disconnect();
      }
    }, 20_000);
  }
});
