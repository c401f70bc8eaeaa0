import { describe, expect, it } from 'vitest';
import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { passThrough } from '@sluice/core';
import { BoundedBuffer } from '@sluice/buffer';
import { bufferStream, fromBuffer, throttle, toBuffer } from '@sluice/node-streams';

const table: InvalidOptionsCase[] = [
  [
    'throttle',
    () => throttle(passThrough(), { objectmode: true } as never),
    'throttle: unknown option "objectmode"; did you mean "objectMode"?',
  ],
  [
    'throttle, a meter key',
    () => throttle(passThrough(), { cots: () => 1 } as never),
    'throttle: unknown option "cots"; did you mean "cost"?',
  ],
  ['throttle, far off', () => throttle(passThrough(), { writableStrategy: {} } as never), 'throttle: unknown option "writableStrategy"'],
  [
    'fromBuffer',
    () => fromBuffer(new BoundedBuffer({ capacity: 1 }), { highWatermark: 1 } as never),
    'fromBuffer: unknown option "highWatermark"; did you mean "highWaterMark"?',
  ],
  [
    'toBuffer',
    () => toBuffer(new BoundedBuffer({ capacity: 1 }), { ended: true } as never),
    'toBuffer: unknown option "ended"; did you mean "end"?',
  ],
  ['bufferStream', () => bufferStream(new BoundedBuffer({ capacity: 1 }), { end: true } as never), 'bufferStream: unknown option "end"'],
];

describeInvalidOptions('unknown options', table);

describe('throttle passes only the meter options to its meter', () => {
  it('accepts the stream options next to the meter options', () => {
    expect(() =>
      throttle(passThrough(), { objectMode: true, highWaterMark: 4, batch: 2, cost: () => 1, priority: 1, maxWaitMs: 10 }),
    ).not.toThrow();
  });
});
