import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { passThrough } from '@sluice/core';
import { BoundedBuffer } from '@sluice/buffer';
import { ControlledGate, ProviderSimulator, VirtualClock, driveGate, simulateLoad, simulateProducerConsumer } from '@sluice/testing';
import { arrivalSchedule, gateOperations } from '@sluice/testing/arbitraries';

const clock = new VirtualClock({ stallReportMs: false });
const table: InvalidOptionsCase[] = [
  [
    'ControlledGate',
    () => new ControlledGate({ capacity: 1, intial: 0 } as never),
    'ControlledGate: unknown option "intial"; did you mean "initial"?',
  ],
  ['VirtualClock', () => new VirtualClock({ startMS: 0 } as never), 'VirtualClock: unknown option "startMS"; did you mean "startMs"?'],
  [
    'ProviderSimulator',
    () => new ProviderSimulator({ clock, requestsPerMinute: 1, tokensPerMinute: 1, formt: 'openai' } as never),
    'ProviderSimulator: unknown option "formt"; did you mean "format"?',
  ],
  [
    'gateOperations',
    () => gateOperations({ maxCount: 1, maxOperation: 5 } as never),
    'gateOperations: unknown option "maxOperation"; did you mean "maxOperations"?',
  ],
  ['arrivalSchedule', () => arrivalSchedule({ maxGap: 5 } as never), 'arrivalSchedule: unknown option "maxGap"; did you mean "maxGapMs"?'],
];
const asyncTable: [string, () => Promise<unknown>, string][] = [
  [
    'simulateLoad',
    () => simulateLoad({ clock, durationMs: 10, arrivalsPerSecond: 1, serviceTimeMs: 1, server: 2 } as never),
    'simulateLoad: unknown option "server"; did you mean "servers"?',
  ],
  [
    'simulateProducerConsumer',
    () =>
      simulateProducerConsumer({
        clock,
        buffer: new BoundedBuffer({ capacity: 1, clock }),
        durationMs: 10,
        producePerSecond: 1,
        consumePerSecond: 1,
        seeds: 1,
      } as never),
    'simulateProducerConsumer: unknown option "seeds"; did you mean "seed"?',
  ],
  ['VirtualClock.settle', () => clock.settle(Promise.resolve(1), { timeout: 5 } as never), 'VirtualClock.settle: unknown option "timeout"'],
  [
    'driveGate',
    () => driveGate(passThrough(), clock, [], { signal: 2 } as never),
    'driveGate: unknown option "signal"; did you mean "signals"?',
  ],
];

describeInvalidOptions('unknown options', table);

describe('unknown options of helpers that return a promise', () => {
  it.each(asyncTable)('%s', async (_label, run, message) => {
    const settled = run();
    await expect(settled).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(settled).rejects.toThrow(message);
  });
});
