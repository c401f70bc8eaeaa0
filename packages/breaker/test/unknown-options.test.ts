import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { CircuitBreaker, circuitBreaker, consecutiveFailures, countWindow, timeWindow } from '@sluice/breaker';

const trip = consecutiveFailures(3);
const table: InvalidOptionsCase[] = [
  [
    'CircuitBreaker',
    () => new CircuitBreaker({ trip, halfOpenAfterMS: 5 } as never),
    'CircuitBreaker: unknown option "halfOpenAfterMS"; did you mean "halfOpenAfterMs"?',
  ],
  [
    'circuitBreaker',
    () => circuitBreaker({ trip, halfOpenAfterMs: 5, onOpen: () => {} } as never),
    'CircuitBreaker: unknown option "onOpen"',
  ],
  [
    'countWindow (trip rule)',
    () => countWindow({ size: 10, failureRate: 0.5, minimumCall: 5 } as never),
    'countWindow: unknown option "minimumCall"; did you mean "minimumCalls"?',
  ],
  [
    'timeWindow (trip rule)',
    () => timeWindow({ windowMs: 1000, failureRate: 0.5, minimumCalls: 5, bucketSize: 1 } as never),
    'timeWindow: unknown option "bucketSize"; did you mean "bucketMs"?',
  ],
];

describeInvalidOptions('unknown options', table);
