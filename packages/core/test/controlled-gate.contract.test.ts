import { ControlledGate } from '@sluice/testing';
import { describeGateContract } from '@sluice/testing/contract';

// GateBase's own machinery, through the simplest gates built on it.
describeGateContract('GateBase as slots (ControlledGate)', {
  create: ({ clock }) => ({ gate: new ControlledGate({ capacity: 3, queueLimit: 4, clock }), initial: 3, queueLimit: 4, refillMs: 0 }),
  invalid: {
    'capacity 0': ({ clock }) => new ControlledGate({ capacity: 0, clock }),
    'capacity NaN': ({ clock }) => new ControlledGate({ capacity: Number.NaN, clock }),
    'negative queueLimit': ({ clock }) => new ControlledGate({ capacity: 1, queueLimit: -1, clock }),
    'fractional queueLimit': ({ clock }) => new ControlledGate({ capacity: 1, queueLimit: 1.5, clock }),
    'negative maxStarvationMs': ({ clock }) => new ControlledGate({ capacity: 1, maxStarvationMs: -5, clock }),
    'refillPerSecond Infinity': ({ clock }) => new ControlledGate({ capacity: 1, refillPerSecond: Infinity, clock }),
  },
});

describeGateContract('GateBase as a rate gate (ControlledGate)', {
  create: ({ clock }) => ({
    gate: new ControlledGate({ capacity: 5, refillPerSecond: 20, returnOnRelease: false, queueLimit: 6, clock }),
    initial: 5,
    queueLimit: 6,
    refillMs: 250,
  }),
});

describeGateContract('GateBase without a queue (ControlledGate, queueLimit 0)', {
  create: ({ clock }) => ({ gate: new ControlledGate({ capacity: 2, queueLimit: 0, clock }), initial: 2, queueLimit: 0, refillMs: 0 }),
});
