import { consecutiveFailures } from '@sluice/breaker';
import { OverloadProtection } from '@sluice/overload';
import { describeGateContract } from '@sluice/testing/contract';

const one = [{ name: 'all', priority: 0, admitUpTo: 1 }];

describeGateContract('OverloadProtection (breaker → shedder → concurrency)', {
  create: ({ clock }) => ({
    gate: new OverloadProtection({
      breaker: { trip: consecutiveFailures(1_000), halfOpenAfterMs: 1_000 },
      shedder: { capacity: 100, levels: one },
      concurrency: { maxConcurrent: 3, queueLimit: 4 },
      clock,
    }),
    initial: 3,
    queueLimit: 4,
    refillMs: 0,
  }),
  invalid: {
    'no layer at all': ({ clock }) => new OverloadProtection({ clock }),
    'a shedder given as the breaker': ({ clock }) =>
      new OverloadProtection({
        breaker: new (class {
          name = 'x';
          tryAcquire() {}
          acquire() {}
        })() as never,
        clock,
      }),
    'bad breaker options': ({ clock }) => new OverloadProtection({ breaker: { trip: consecutiveFailures(1), halfOpenAfterMs: -1 }, clock }),
    'bad shedder options': ({ clock }) => new OverloadProtection({ shedder: { capacity: 0 }, clock }),
    'bad limiter options': ({ clock }) => new OverloadProtection({ limiter: { ratePerSecond: 0, burst: 1 }, clock }),
    'bad concurrency options': ({ clock }) => new OverloadProtection({ concurrency: { maxConcurrent: -2 }, clock }),
    'limiter not an object': ({ clock }) => new OverloadProtection({ limiter: 5 as never, clock }),
  },
});

describeGateContract('OverloadProtection (every layer, rate-limited)', {
  create: ({ clock }) => ({
    gate: new OverloadProtection({
      breaker: { trip: consecutiveFailures(1_000), halfOpenAfterMs: 1_000 },
      shedder: { capacity: 1_000, levels: one },
      limiter: { ratePerSecond: 10, burst: 4, queueLimit: 4 },
      concurrency: { maxConcurrent: 100, queueLimit: 100 },
      clock,
    }),
    initial: 4,
    queueLimit: 4,
    refillMs: 400,
  }),
});
