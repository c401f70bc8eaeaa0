import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { ConcurrencyLimiter, concurrencyLimiter } from '@sluice/concurrency';

const table: InvalidOptionsCase[] = [
  [
    'ConcurrencyLimiter',
    () => new ConcurrencyLimiter({ maxConcurrency: 4 } as never),
    'ConcurrencyLimiter: unknown option "maxConcurrency"; did you mean "maxConcurrent"?',
  ],
  [
    'concurrencyLimiter',
    () => concurrencyLimiter({ maxConcurrent: 4, timeoutMs: 5 } as never),
    'ConcurrencyLimiter: unknown option "timeoutMs"',
  ],
  [
    'adaptive (nested)',
    () => new ConcurrencyLimiter({ maxConcurrent: 4, adaptive: { algorithm: 'aimd', maxlimit: 8 } } as never),
    'concurrency: unknown option "adaptive.maxlimit"; did you mean "adaptive.maxLimit"?',
  ],
  [
    'fairness (nested)',
    () => new ConcurrencyLimiter({ maxConcurrent: 4, fairness: { fairby: () => 'a' } } as never),
    'concurrency: unknown option "fairness.fairby"; did you mean "fairness.fairBy"?',
  ],
  [
    'fairness, far off',
    () => new ConcurrencyLimiter({ name: 'pool', maxConcurrent: 4, fairness: { tenants: 3 } } as never),
    'pool: unknown option "fairness.tenants"',
  ],
];

describeInvalidOptions('unknown options', table);
