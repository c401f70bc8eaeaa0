import { LoadShedder } from '@sluice/shedder';
import { describeGateContract } from '@sluice/testing/contract';

const one = [{ name: 'all', priority: 0, admitUpTo: 1 }];

// The seed's rule: no queue, refuse with `shed` past the level's share (19 of 20 for normal).
describeGateContract('LoadShedder (refuse at once)', {
  create: ({ clock }) => ({
    gate: new LoadShedder({ capacity: 20, clock }),
    initial: 19,
    queueLimit: 0,
    refillMs: 0,
    refusalReason: 'shed',
  }),
  invalid: {
    'capacity 0': ({ clock }) => new LoadShedder({ capacity: 0, clock }),
    'capacity fractional': ({ clock }) => new LoadShedder({ capacity: 2.5, clock }),
    'capacity missing': ({ clock }) => new LoadShedder({ clock } as never),
    'shedThreshold 0': ({ clock }) => new LoadShedder({ capacity: 10, shedThreshold: 0, clock }),
    'shedThreshold above 1': ({ clock }) => new LoadShedder({ capacity: 10, shedThreshold: 1.2, clock }),
    'levels empty': ({ clock }) => new LoadShedder({ capacity: 10, levels: [], clock }),
    'levels with one priority twice': ({ clock }) =>
      new LoadShedder({ capacity: 10, levels: [...one, { name: 'b', priority: 0, admitUpTo: 1 }], clock }),
    'a level admitted below the threshold': ({ clock }) =>
      new LoadShedder({ capacity: 10, shedThreshold: 0.9, levels: [{ name: 'a', priority: 0, admitUpTo: 0.5 }], clock }),
    'a less important level admitted further': ({ clock }) =>
      new LoadShedder({
        capacity: 10,
        levels: [
          { name: 'top', priority: 1, admitUpTo: 0.92 },
          { name: 'bottom', priority: 0, admitUpTo: 0.95 },
        ],
        clock,
      }),
    'a level without a name': ({ clock }) => new LoadShedder({ capacity: 10, levels: [{ name: '', priority: 0, admitUpTo: 1 }], clock }),
    'signals not an array': ({ clock }) => new LoadShedder({ capacity: 10, signals: { value: 1 } as never, clock }),
    'a signal without a value': ({ clock }) => new LoadShedder({ capacity: 10, signals: [{} as never], clock }),
    'codel targetMs 0': ({ clock }) => new LoadShedder({ capacity: 10, queueLimit: 5, codel: { targetMs: 0 }, clock }),
    'codel intervalMs not above targetMs': ({ clock }) =>
      new LoadShedder({ capacity: 10, queueLimit: 5, codel: { targetMs: 50, intervalMs: 50 }, clock }),
    'negative queueLimit': ({ clock }) => new LoadShedder({ capacity: 10, queueLimit: -1, clock }),
  },
});

// With a queue and CoDel off, a shedder is a plain in-flight gate.
describeGateContract('LoadShedder (queued, one level)', {
  create: ({ clock }) => ({
    gate: new LoadShedder({ capacity: 4, levels: one, queueLimit: 5, codel: false, clock }),
    initial: 4,
    queueLimit: 5,
    refillMs: 0,
  }),
});

// CoDel on, with a target no contract wait reaches: its bookkeeping must not disturb the gate.
describeGateContract('LoadShedder (queued, CoDel watching)', {
  create: ({ clock }) => ({
    gate: new LoadShedder({ capacity: 4, levels: one, queueLimit: 5, codel: { targetMs: 60_000, intervalMs: 120_000 }, clock }),
    initial: 4,
    queueLimit: 5,
    refillMs: 0,
  }),
});
