import { describe, expect, it } from 'vitest';
import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { AllOf, Gcra, KeyedLimiter, SlidingWindow, TokenBucket, allOf, gcra, slidingWindow, tokenBucket } from '@sluice/rate-limit';

const table: InvalidOptionsCase[] = [
  [
    'TokenBucket, a near miss',
    () => new TokenBucket({ ratePerMinute: 10, burst: 1 } as never),
    'TokenBucket: unknown option "ratePerMinute"; did you mean "ratePerSecond"?',
  ],
  [
    'TokenBucket, letter case',
    () => tokenBucket({ ratepersecond: 10, burst: 1 } as never),
    'TokenBucket: unknown option "ratepersecond"; did you mean "ratePerSecond"?',
  ],
  [
    'TokenBucket, far off',
    () => new TokenBucket({ ratePerSecond: 1, burst: 1, colour: 'red' } as never),
    'TokenBucket: unknown option "colour"',
  ],
  ['Gcra', () => gcra({ ratePerSecond: 1, brust: 1 } as never), 'Gcra: unknown option "brust"; did you mean "burst"?'],
  ['Gcra (class)', () => new Gcra({ ratePerSecond: 1, burst: 1, initialTokens: 1 } as never), 'Gcra: unknown option "initialTokens"'],
  [
    'SlidingWindow',
    () => new SlidingWindow({ limit: 1, windowMS: 1000 } as never),
    'SlidingWindow: unknown option "windowMS"; did you mean "windowMs"?',
  ],
  [
    'slidingWindow',
    () => slidingWindow({ limit: 1, windowMs: 1000, queuelimit: 1 } as never),
    'SlidingWindow: unknown option "queuelimit"; did you mean "queueLimit"?',
  ],
  [
    'KeyedLimiter',
    () => new KeyedLimiter({ create: () => tokenBucket({ ratePerSecond: 1, burst: 1 }), maxKey: 5 } as never),
    'KeyedLimiter: unknown option "maxKey"; did you mean "maxKeys"?',
  ],
  [
    'AllOf',
    () => new AllOf([tokenBucket({ ratePerSecond: 1, burst: 1 })], { nam: 'x' } as never),
    'AllOf: unknown option "nam"; did you mean "name"?',
  ],
  [
    'allOf(options, ...)',
    () => allOf({ clocks: 1 } as never, tokenBucket({ ratePerSecond: 1, burst: 1 })),
    'AllOf: unknown option "clocks"; did you mean "clock"?',
  ],
];

describeInvalidOptions('unknown options', table);

describe('a keyed limiter template', () => {
  it('is checked by the limiter that owns its keys, when a key is first used', () => {
    const keyed = new KeyedLimiter({ create: () => tokenBucket({ ratePerSecond: 1, burst: 1, burts: 2 } as never) });
    expect(() => keyed.tryAcquire('a')).toThrow('TokenBucket: unknown option "burts"; did you mean "burst"?');
  });
});
