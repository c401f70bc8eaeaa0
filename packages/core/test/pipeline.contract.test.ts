import { Pipeline, pipeline } from '@sluice/core';
import { ControlledGate } from '@sluice/testing';
import { describeGateContract } from '@sluice/testing/contract';

describeGateContract('pipeline of two slot gates', {
  create: ({ clock }) => ({
    gate: pipeline(
      { clock, name: 'front' },
      new ControlledGate({ name: 'wide', capacity: 10, queueLimit: 100, clock }),
      new ControlledGate({ name: 'narrow', capacity: 2, queueLimit: 3, clock }),
    ),
    initial: 2,
    queueLimit: 3,
    refillMs: 0,
  }),
  invalid: {
    'a stage that is not a gate': ({ clock }) => pipeline({ clock }, new ControlledGate({ capacity: 1, clock }), {} as never),
    'the same gate twice': ({ clock }) => {
      const gate = new ControlledGate({ capacity: 1, clock });
      return pipeline({ clock }, gate, gate);
    },
    'an empty name': ({ clock }) => new Pipeline([new ControlledGate({ capacity: 1, clock })], { name: '', clock }),
  },
});

describeGateContract('pipeline of a rate stage and a slot stage', {
  create: ({ clock }) => ({
    gate: pipeline(
      { clock },
      new ControlledGate({ name: 'rate', capacity: 4, refillPerSecond: 10, returnOnRelease: false, queueLimit: 5, clock }),
      new ControlledGate({ name: 'slots', capacity: 10, clock }),
    ),
    initial: 4,
    queueLimit: 5,
    refillMs: 400,
  }),
});

describeGateContract('single-stage pipeline', {
  create: ({ clock }) => ({
    gate: pipeline({ clock }, new ControlledGate({ capacity: 3, queueLimit: 4, clock })),
    initial: 3,
    queueLimit: 4,
    refillMs: 0,
  }),
});

describeGateContract('nested pipeline', {
  create: ({ clock }) => ({
    gate: pipeline(
      { clock },
      pipeline(
        { clock },
        new ControlledGate({ name: 'outer-a', capacity: 10, clock }),
        new ControlledGate({ name: 'outer-b', capacity: 10, clock }),
      ),
      new ControlledGate({ name: 'inner', capacity: 3, queueLimit: 3, clock }),
    ),
    initial: 3,
    queueLimit: 3,
    refillMs: 0,
  }),
});
