import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { RedisLlmLimiter, RedisRateLimiter, RedisSemaphore, RedisStore, SharedCircuitBreaker, type RedisScriptClient } from '@sluice/redis';

// constructions are checked before anything is sent: a client that is never called is enough
const client = { evalsha: async () => 0, eval: async () => 0 } as unknown as RedisScriptClient;
const store = new RedisStore({ client });
const policy = { onStoreError: 'fail-closed' } as const;
const table: InvalidOptionsCase[] = [
  [
    'RedisStore',
    () => new RedisStore({ client, timeoutMS: 5 } as never),
    'RedisStore: unknown option "timeoutMS"; did you mean "timeoutMs"?',
  ],
  [
    'RedisRateLimiter.gcra',
    () => RedisRateLimiter.gcra({ store, ...policy, ratePerSecond: 1, brust: 1 } as never),
    'RedisRateLimiter.gcra: unknown option "brust"; did you mean "burst"?',
  ],
  [
    'RedisRateLimiter.slidingWindow',
    () => RedisRateLimiter.slidingWindow({ store, ...policy, limit: 1, windowMs: 1000, coalesce: true } as never),
    'RedisRateLimiter.slidingWindow: unknown option "coalesce"',
  ],
  [
    'lease (nested)',
    () => RedisRateLimiter.gcra({ store, ...policy, ratePerSecond: 1, burst: 10, lease: { units: 2, maxAge: 5 } } as never),
    'rate: unknown option "lease.maxAge"; did you mean "lease.maxAgeMs"?',
  ],
  [
    'gate(key, options)',
    () => RedisRateLimiter.gcra({ store, ...policy, ratePerSecond: 1, burst: 1 }).gate('k', { queuelimit: 5 } as never),
    'rate: unknown option "queuelimit"; did you mean "queueLimit"?',
  ],
  [
    'RedisSemaphore',
    () => new RedisSemaphore({ store, ...policy, limit: 1, leaseMs: 10, renews: true } as never),
    'RedisSemaphore: unknown option "renews"; did you mean "renew"?',
  ],
  [
    'SharedCircuitBreaker',
    () => new SharedCircuitBreaker({ store, ...policy, failureThreshold: 1, windowMs: 1, openMs: 1, halfOpenTrialMS: 5 } as never),
    'SharedCircuitBreaker: unknown option "halfOpenTrialMS"; did you mean "halfOpenTrialMs"?',
  ],
  [
    'RedisLlmLimiter',
    () => new RedisLlmLimiter({ store, ...policy, requestsPerMinute: 1, tokensPerMinut: 5 } as never),
    'RedisLlmLimiter: unknown option "tokensPerMinut"; did you mean "tokensPerMinute"?',
  ],
  [
    'a store policy key',
    () => new RedisSemaphore({ store, onStoreErrors: 'fail-open', limit: 1, leaseMs: 10 } as never),
    'RedisSemaphore: unknown option "onStoreErrors"; did you mean "onStoreError"?',
  ],
];

describeInvalidOptions('unknown options', table);
