import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { passThrough } from '@sluice/core';
import { BoundedBuffer } from '@sluice/buffer';
import { bufferStream, fromBuffer, sseStream, throttle, toBuffer } from '@sluice/web-streams';

async function* none(): AsyncIterable<unknown> {}
const table: InvalidOptionsCase[] = [
  ['throttle', () => throttle(passThrough(), { batchSize: 4 } as never), 'throttle: unknown option "batchSize"; did you mean "batch"?'],
  ['throttle, far off', () => throttle(passThrough(), { objectMode: true } as never), 'throttle: unknown option "objectMode"'],
  [
    'throttle, a near miss',
    () => throttle(passThrough(), { maxWaitMS: 4 } as never),
    'throttle: unknown option "maxWaitMS"; did you mean "maxWaitMs"?',
  ],
  [
    'throttle, a strategy key',
    () => throttle(passThrough(), { readableStratgy: { highWaterMark: 1 } } as never),
    'throttle: unknown option "readableStratgy"; did you mean "readableStrategy"?',
  ],
  [
    'bufferStream',
    () => bufferStream(new BoundedBuffer({ capacity: 1 }), { writableStrategy: {} } as never),
    'bufferStream: unknown option "writableStrategy"; did you mean "readableStrategy"?',
  ],
  [
    'fromBuffer',
    () => fromBuffer(new BoundedBuffer({ capacity: 1 }), { signal: undefined } as never),
    'fromBuffer: unknown option "signal"',
  ],
  [
    'toBuffer',
    () => toBuffer(new BoundedBuffer({ capacity: 1 }), { ends: true } as never),
    'toBuffer: unknown option "ends"; did you mean "end"?',
  ],
  [
    'sseStream',
    () => sseStream(none(), { heartbeatMS: 5 } as never),
    'sseStream: unknown option "heartbeatMS"; did you mean "heartbeatMs"?',
  ],
];

describeInvalidOptions('unknown options', table);
