import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { LoadShedder, loadShedder } from '@sluice/shedder';
import { eventLoopLag } from '@sluice/shedder/node';

const table: InvalidOptionsCase[] = [
  [
    'LoadShedder',
    () => new LoadShedder({ capacity: 10, shedTreshold: 0.8 } as never),
    'LoadShedder: unknown option "shedTreshold"; did you mean "shedThreshold"?',
  ],
  ['loadShedder', () => loadShedder({ capacity: 10, maxWaitMs: 5 } as never), 'LoadShedder: unknown option "maxWaitMs"'],
  [
    'codel (nested)',
    () => new LoadShedder({ capacity: 10, queueLimit: 5, codel: { targetMS: 5 } } as never),
    'shedder: unknown option "codel.targetMS"; did you mean "codel.targetMs"?',
  ],
  [
    'levels (nested)',
    () => new LoadShedder({ capacity: 10, levels: [{ name: 'all', priority: 0, admitUpto: 1 }] } as never),
    'shedder: unknown option "levels[0].admitUpto"; did you mean "levels[0].admitUpTo"?',
  ],
  [
    'eventLoopLag',
    () => eventLoopLag({ saturatedMS: 50 } as never),
    'eventLoopLag: unknown option "saturatedMS"; did you mean "saturatedMs"?',
  ],
];

describeInvalidOptions('unknown options', table);
