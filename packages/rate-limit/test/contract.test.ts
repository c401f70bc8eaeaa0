import { AllOf, Gcra, KeyedLimiter, SlidingWindow, TokenBucket, allOf } from '@sluice/rate-limit';
import { describeGateContract } from '@sluice/testing/contract';

describeGateContract('TokenBucket', {
  create: ({ clock }) => ({
    gate: new TokenBucket({ ratePerSecond: 20, burst: 5, queueLimit: 6, clock }),
    initial: 5,
    queueLimit: 6,
    refillMs: 250,
  }),
  invalid: {
    'ratePerSecond 0': ({ clock }) => new TokenBucket({ ratePerSecond: 0, burst: 1, clock }),
    'ratePerSecond negative': ({ clock }) => new TokenBucket({ ratePerSecond: -1, burst: 1, clock }),
    'ratePerSecond NaN': ({ clock }) => new TokenBucket({ ratePerSecond: Number.NaN, burst: 1, clock }),
    'ratePerSecond Infinity': ({ clock }) => new TokenBucket({ ratePerSecond: Infinity, burst: 1, clock }),
    'burst 0': ({ clock }) => new TokenBucket({ ratePerSecond: 1, burst: 0, clock }),
    'burst fractional': ({ clock }) => new TokenBucket({ ratePerSecond: 1, burst: 1.5, clock }),
    'initialTokens above burst': ({ clock }) => new TokenBucket({ ratePerSecond: 1, burst: 2, initialTokens: 3, clock }),
    'negative queueLimit': ({ clock }) => new TokenBucket({ ratePerSecond: 1, burst: 2, queueLimit: -1, clock }),
    'missing rate': ({ clock }) => new TokenBucket({ burst: 2, clock } as never),
  },
});

describeGateContract('Gcra', {
  create: ({ clock }) => ({
    gate: new Gcra({ ratePerSecond: 20, burst: 5, queueLimit: 6, clock }),
    initial: 5,
    queueLimit: 6,
    refillMs: 250,
  }),
  invalid: {
    'ratePerSecond 0': ({ clock }) => new Gcra({ ratePerSecond: 0, burst: 1, clock }),
    'burst 0': ({ clock }) => new Gcra({ ratePerSecond: 1, burst: 0, clock }),
    'burst NaN': ({ clock }) => new Gcra({ ratePerSecond: 1, burst: Number.NaN, clock }),
  },
});

describeGateContract('SlidingWindow', {
  create: ({ clock }) => ({
    gate: new SlidingWindow({ limit: 5, windowMs: 1_000, queueLimit: 6, clock }),
    initial: 5,
    queueLimit: 6,
    refillMs: 2_000,
  }),
  invalid: {
    'limit 0': ({ clock }) => new SlidingWindow({ limit: 0, windowMs: 1_000, clock }),
    'limit fractional': ({ clock }) => new SlidingWindow({ limit: 2.5, windowMs: 1_000, clock }),
    'windowMs 0': ({ clock }) => new SlidingWindow({ limit: 1, windowMs: 0, clock }),
    'windowMs Infinity': ({ clock }) => new SlidingWindow({ limit: 1, windowMs: Infinity, clock }),
  },
});

describeGateContract('KeyedLimiter (one key)', {
  create: ({ clock }) => {
    const keyed = new KeyedLimiter({
      create: () => new TokenBucket({ ratePerSecond: 20, burst: 5, queueLimit: 6, clock }),
      maxKeys: 4,
      clock,
    });
    return { gate: keyed.gate('client-a'), initial: 5, queueLimit: 6, refillMs: 250 };
  },
  invalid: {
    'maxKeys 0': ({ clock }) => new KeyedLimiter({ create: () => new TokenBucket({ ratePerSecond: 1, burst: 1, clock }), maxKeys: 0 }),
    'create missing': () => new KeyedLimiter({} as never),
  },
});

describeGateContract('allOf (4/s and 6 per 2 s)', {
  create: ({ clock }) => ({
    gate: allOf(
      { clock, queueLimit: 6 },
      new TokenBucket({ ratePerSecond: 4, burst: 4, clock }),
      new SlidingWindow({ limit: 6, windowMs: 2_000, clock }),
    ),
    initial: 4,
    queueLimit: 6,
    refillMs: 4_000,
  }),
  invalid: {
    'no members': () => new AllOf([]),
    'a member that is not a limiter': ({ clock }) => allOf({ clock }, new TokenBucket({ ratePerSecond: 1, burst: 1, clock }), {} as never),
    'the same limiter twice': ({ clock }) => {
      const bucket = new TokenBucket({ ratePerSecond: 1, burst: 1, clock });
      return allOf({ clock }, bucket, bucket);
    },
  },
});
