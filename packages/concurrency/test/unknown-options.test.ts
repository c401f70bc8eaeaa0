import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { ConcurrencyLimiter, concurrencyLimiter } from '@sluice/concurrency';

const table: [string, () => unknown, string][] = [
  ['ConcurrencyLimiter', () => new ConcurrencyLimiter({ maxConcurrency: 4 } as never), 'ConcurrencyLimiter: unknown option "maxConcurrency"; did you mean "maxConcurrent"?'],
  ['concurrencyLimiter', () => concurrencyLimiter({ maxConcurrent: 4, timeoutMs: 5 } as never), 'ConcurrencyLimiter: unknown option "timeoutMs"'],
  ['adaptive (nested)', () => new ConcurrencyLimiter({ maxConcurrent: 4, adaptive: { algorithm: 'aimd', maxlimit: 8 } } as never), 'concurrency: unknown option "adaptive.maxlimit"; did you mean "adaptive.maxLimit"?'],
  ['fairness (nested)', () => new ConcurrencyLimiter({ maxConcurrent: 4, fairness: { fairby: () => 'a' } } as never), 'concurrency: unknown option "fairness.fairby"; did you mean "fairness.fairBy"?'],
  ['fairness, far off', () => new ConcurrencyLimiter({ name: 'pool', maxConcurrent: 4, fairness: { tenants: 3 } } as never), 'pool: unknown option "fairness.tenants"'],
];

describe('unknown options', () => {
  it.each(table)('%s', (_label, make, message) => {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as Error).message).toBe(message);
  });
});
