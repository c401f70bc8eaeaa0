import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { consecutiveFailures } from '@sluice/breaker';
import { OverloadProtection, overloadProtection } from '@sluice/overload';

const table: InvalidOptionsCase[] = [
  [
    'OverloadProtection',
    () => new OverloadProtection({ limitr: { ratePerSecond: 1, burst: 1 } } as never),
    'OverloadProtection: unknown option "limitr"; did you mean "limiter"?',
  ],
  [
    'overloadProtection',
    () => overloadProtection({ concurrency: { maxConcurrent: 1 }, bulkhead: {} } as never),
    'OverloadProtection: unknown option "bulkhead"',
  ],
  // layer options are checked by the component that owns their keys
  [
    'limiter layer options',
    () => overloadProtection({ limiter: { ratePerSecond: 1, burst: 1, burts: 2 } } as never),
    'TokenBucket: unknown option "burts"; did you mean "burst"?',
  ],
  [
    'breaker layer options',
    () => overloadProtection({ breaker: { trip: consecutiveFailures(2), halfOpenAfterMs: 5, halfOpenMaxCall: 1 } } as never),
    'CircuitBreaker: unknown option "halfOpenMaxCall"; did you mean "halfOpenMaxCalls"?',
  ],
  [
    'shedder layer options',
    () => overloadProtection({ shedder: { capacity: 5, codel: { lifo: true, target: 5 } } } as never),
    'shedder: unknown option "codel.target"; did you mean "codel.targetMs"?',
  ],
  [
    'concurrency layer options',
    () => overloadProtection({ concurrency: { maxConcurrent: 1, adaptive: { minlimit: 1 } } } as never),
    'concurrency: unknown option "adaptive.minlimit"; did you mean "adaptive.minLimit"?',
  ],
];

describeInvalidOptions('unknown options', table);
