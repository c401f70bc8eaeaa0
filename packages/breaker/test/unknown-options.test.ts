import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { CircuitBreaker, circuitBreaker, consecutiveFailures, countWindow, timeWindow } from '@sluice/breaker';

const trip = consecutiveFailures(3);
const table: [string, () => unknown, string][] = [
  ['CircuitBreaker', () => new CircuitBreaker({ trip, halfOpenAfterMS: 5 } as never), 'CircuitBreaker: unknown option "halfOpenAfterMS"; did you mean "halfOpenAfterMs"?'],
  ['circuitBreaker', () => circuitBreaker({ trip, halfOpenAfterMs: 5, onOpen: () => {} } as never), 'CircuitBreaker: unknown option "onOpen"'],
  ['countWindow (trip rule)', () => countWindow({ size: 10, failureRate: 0.5, minimumCall: 5 } as never), 'countWindow: unknown option "minimumCall"; did you mean "minimumCalls"?'],
  ['timeWindow (trip rule)', () => timeWindow({ windowMs: 1000, failureRate: 0.5, minimumCalls: 5, bucketSize: 1 } as never), 'timeWindow: unknown option "bucketSize"; did you mean "bucketMs"?'],
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
