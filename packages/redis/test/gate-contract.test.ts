import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { systemClock, type Clock, type TimerHandle } from '@sluice/core';
import { RedisRateLimiter, RedisStore } from '@sluice/redis';
import { describeRemoteGateContract } from '@sluice/testing/contract';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

// The gate contract against a real redis-server: one key of each Redis limiter as a Gate.
let server: RedisServer;
let client: Redis;
let names = 0;

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1');
}, 30_000);

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

/** The real clock, counting the timers it has pending (for the "no timer after close" check). */
function countingClock(): Clock & { pending: () => number } {
  const live = new Set<TimerHandle>();
  return {
    now: () => systemClock.now(),
    setTimer(callback, delayMs, options) {
      const handle: TimerHandle = systemClock.setTimer(
        () => {
          live.delete(handle);
          callback();
        },
        delayMs,
        options,
      );
      live.add(handle);
      return handle;
    },
    clearTimer(handle) {
      live.delete(handle);
      systemClock.clearTimer(handle);
    },
    pending: () => live.size,
  };
}

describeRemoteGateContract('RedisRateLimiter.gcra(…).gate(key)', {
  create: () => {
    const clock = countingClock();
    const store = new RedisStore({ client, clock });
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
      RedisRateLimiter.gcra({ store: new RedisStore({ client }), ratePerSecond: 1, burst: 1, onStoreError: 'fail-closed' }).gate('k', {
        queueLimit: -1,
      }),
    'ratePerSecond NaN': () =>
      RedisRateLimiter.gcra({ store: new RedisStore({ client }), ratePerSecond: Number.NaN, burst: 1, onStoreError: 'fail-closed' }),
  },
});

describeRemoteGateContract('RedisRateLimiter.slidingWindow(…).gate(key)', {
  create: () => {
    const clock = countingClock();
    const store = new RedisStore({ client, clock });
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
      RedisRateLimiter.slidingWindow({ store: new RedisStore({ client }), limit: 1, windowMs: 0, onStoreError: 'fail-closed' }),
  },
});
