import { ConcurrencyLimiter } from '@sluice/concurrency';
import { describeGateContract } from '@sluice/testing/contract';

describeGateContract('ConcurrencyLimiter', {
  create: ({ clock }) => ({
    gate: new ConcurrencyLimiter({ maxConcurrent: 3, queueLimit: 4, clock }),
    initial: 3,
    queueLimit: 4,
    refillMs: 0,
  }),
  invalid: {
    'maxConcurrent 0': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 0, clock }),
    'maxConcurrent fractional': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 2.5, clock }),
    'maxConcurrent missing': ({ clock }) => new ConcurrencyLimiter({ clock } as never),
    'negative queueLimit': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: -1, clock }),
    'unknown adaptive algorithm': ({ clock }) =>
      new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { algorithm: 'vegas' as never }, clock }),
    'adaptive maxLimit below the start': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 20, adaptive: { maxLimit: 10 }, clock }),
    'adaptive smoothing 0': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { smoothing: 0 }, clock }),
    'adaptive backoffRatio 0.2': ({ clock }) =>
      new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { algorithm: 'aimd', backoffRatio: 0.2 }, clock }),
  },
});

describeGateContract('ConcurrencyLimiter (adaptive)', {
  create: ({ clock }) => ({
    gate: new ConcurrencyLimiter({ maxConcurrent: 3, queueLimit: 4, adaptive: { minLimit: 1, maxLimit: 12 }, clock }),
    initial: 3,
    queueLimit: 4,
    refillMs: 0,
  }),
});

describeGateContract('ConcurrencyLimiter (fairness, requests without a key)', {
  create: ({ clock }) => ({
    gate: new ConcurrencyLimiter({ maxConcurrent: 3, queueLimit: 4, fairness: {}, clock }),
    initial: 3,
    queueLimit: 4,
    refillMs: 0,
  }),
  invalid: {
    'fairness.perKeyQueueLimit 0': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 1, fairness: { perKeyQueueLimit: 0 }, clock }),
    'fairness.perKeyQueueLimit fractional': ({ clock }) =>
      new ConcurrencyLimiter({ maxConcurrent: 1, fairness: { perKeyQueueLimit: 1.5 }, clock }),
    'fairness.perKeyQueueLimit above queueLimit': ({ clock }) =>
      new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 4, fairness: { perKeyQueueLimit: 5 }, clock }),
    'fairness.fairBy not a function': ({ clock }) =>
      new ConcurrencyLimiter({ maxConcurrent: 1, fairness: { fairBy: 'tenant' as never }, clock }),
    'fairness not an object': ({ clock }) => new ConcurrencyLimiter({ maxConcurrent: 1, fairness: true as never, clock }),
  },
});

// Every request its own key: taking turns between keys in arrival order is FIFO again, so the
// contract holds while every grant goes through the ring of keys.
describeGateContract('ConcurrencyLimiter (fairness, a key per request)', {
  create: ({ clock }) => {
    let next = 0;
    return {
      gate: new ConcurrencyLimiter({ maxConcurrent: 3, queueLimit: 4, fairness: { perKeyQueueLimit: 3, fairBy: () => next++ }, clock }),
      initial: 3,
      queueLimit: 4,
      refillMs: 0,
    };
  },
});
