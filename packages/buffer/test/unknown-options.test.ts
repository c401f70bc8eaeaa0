import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { BoundedBuffer, DroppingBuffer, PriorityBuffer } from '@sluice/buffer';

const table: InvalidOptionsCase[] = [
  [
    'BoundedBuffer',
    () => new BoundedBuffer({ capacity: 4, highWatermark: 3 } as never),
    'BoundedBuffer: unknown option "highWatermark"; did you mean "highWaterMark"?',
  ],
  [
    'BoundedBuffer, a dropping option',
    () => new BoundedBuffer({ capacity: 4, strategy: 'drop-oldest' } as never),
    'BoundedBuffer: unknown option "strategy"',
  ],
  [
    'DroppingBuffer',
    () => new DroppingBuffer({ capacity: 4, strategy: 'drop-oldest', randm: Math.random } as never),
    'DroppingBuffer: unknown option "randm"; did you mean "random"?',
  ],
  [
    'PriorityBuffer',
    () => new PriorityBuffer({ capacity: 4, levels: 2, whenfull: 'refuse' } as never),
    'PriorityBuffer: unknown option "whenfull"; did you mean "whenFull"?',
  ],
];

describeInvalidOptions('unknown options', table);
