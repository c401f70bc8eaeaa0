import { RedisRateLimiter, RedisStore } from '@sluice/redis';
import { describeRemoteGateContract } from '@sluice/testing/contract';
import { countingClock } from './fixtures/counting-clock.ts';
import { sharedRedis } from './fixtures/shared-redis.ts';

// The gate contract against a real redis-server: one key of each Redis limiter as a Gate.
const redis = sharedRedis();
let names = 0;

describeRemoteGateContract('RedisRateLimiter.gcra(…).gate(key)', {
  create: () => {
    const clock = countingClock();
    const store = new RedisStore({ client: redis(), clock });
    const limiter = RedisRateLimiter.gcra({
      store,
      name: `contract-gcra-${++names}`,
      ratePerSecond: 100,
      burst: 4,
      onStoreError: 'fail-closed',
    });
    return { gate: limiter.gate('k', { queueLimit: 6 }), initial: 4, queueLimit: 6, refillMs: 40, pendingTimers: clock.pending };
  },
  invalid: {
    'queueLimit -1': () =>
      RedisRateLimiter.gcra({ store: new RedisStore({ client: redis() }), ratePerSecond: 1, burst: 1, onStoreError: 'fail-closed' }).gate(
        'k',
        {
          queueLimit: -1,
        },
      ),
    'ratePerSecond NaN': () =>
      RedisRateLimiter.gcra({
        store: new RedisStore({ client: redis() }),
        ratePerSecond: Number.NaN,
        burst: 1,
        onStoreError: 'fail-closed',
      }),
  },
});

describeRemoteGateContract('RedisRateLimiter.slidingWindow(…).gate(key)', {
  create: () => {
    const clock = countingClock();
    const store = new RedisStore({ client: redis(), clock });
    const limiter = RedisRateLimiter.slidingWindow({
      store,
      name: `contract-window-${++names}`,
      limit: 4,
      windowMs: 40,
      onStoreError: 'fail-closed',
    });
    return { gate: limiter.gate('k', { queueLimit: 6 }), initial: 4, queueLimit: 6, refillMs: 80, pendingTimers: clock.pending };
  },
  invalid: {
    'windowMs 0': () =>
      RedisRateLimiter.slidingWindow({ store: new RedisStore({ client: redis() }), limit: 1, windowMs: 0, onStoreError: 'fail-closed' }),
  },
});
