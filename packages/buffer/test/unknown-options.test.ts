import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { BoundedBuffer, DroppingBuffer, PriorityBuffer } from '@sluice/buffer';

const table: [string, () => unknown, string][] = [
  ['BoundedBuffer', () => new BoundedBuffer({ capacity: 4, highWatermark: 3 } as never), 'BoundedBuffer: unknown option "highWatermark"; did you mean "highWaterMark"?'],
  ['BoundedBuffer, a dropping option', () => new BoundedBuffer({ capacity: 4, strategy: 'drop-oldest' } as never), 'BoundedBuffer: unknown option "strategy"'],
  ['DroppingBuffer', () => new DroppingBuffer({ capacity: 4, strategy: 'drop-oldest', randm: Math.random } as never), 'DroppingBuffer: unknown option "randm"; did you mean "random"?'],
  ['PriorityBuffer', () => new PriorityBuffer({ capacity: 4, levels: 2, whenfull: 'refuse' } as never), 'PriorityBuffer: unknown option "whenfull"; did you mean "whenFull"?'],
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
