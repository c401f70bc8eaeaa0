import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { LoadShedder, loadShedder } from '@sluice/shedder';
import { eventLoopLag } from '@sluice/shedder/node';

const table: [string, () => unknown, string][] = [
  ['LoadShedder', () => new LoadShedder({ capacity: 10, shedTreshold: 0.8 } as never), 'LoadShedder: unknown option "shedTreshold"; did you mean "shedThreshold"?'],
  ['loadShedder', () => loadShedder({ capacity: 10, maxWaitMs: 5 } as never), 'LoadShedder: unknown option "maxWaitMs"'],
  ['codel (nested)', () => new LoadShedder({ capacity: 10, queueLimit: 5, codel: { targetMS: 5 } } as never), 'shedder: unknown option "codel.targetMS"; did you mean "codel.targetMs"?'],
  [
    'levels (nested)',
    () => new LoadShedder({ capacity: 10, levels: [{ name: 'all', priority: 0, admitUpto: 1 }] } as never),
    'shedder: unknown option "levels[0].admitUpto"; did you mean "levels[0].admitUpTo"?',
  ],
  ['eventLoopLag', () => eventLoopLag({ saturatedMS: 50 } as never), 'eventLoopLag: unknown option "saturatedMS"; did you mean "saturatedMs"?'],
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
