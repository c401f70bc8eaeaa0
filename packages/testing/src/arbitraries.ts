import { checkOptions, optionKeys } from '@sluice/core';
import fc from 'fast-check';
import type { GateOperation } from './driver.js';

export type { GateOperation } from './driver.js';

/** Options of {@link gateOperations}. */
export interface GateOperationsOptions {
  /** Largest count a request asks for (the gate's capacity or less). Required. */
  readonly maxCount: number;
  /** Steps per workload, at most; default 60. */
  readonly maxOperations?: number;
  /** Priorities to draw from; default `[0]` (FIFO only). */
  readonly priorities?: readonly number[];
  /** Largest single `advance`, in ms; default 1,000. */
  readonly maxAdvanceMs?: number;
  /** Shared abort signals the workload picks from; default 3 (as `driveGate`). */
  readonly signals?: number;
  /** Whether `acquire` steps may carry `maxWaitMs`; default true. */
  readonly withDeadlines?: boolean;
  /** Whether count 0 (probes) may appear; default true. */
  readonly withProbes?: boolean;
}

const GATE_OPERATIONS_KEYS = optionKeys<GateOperationsOptions>()({
  maxCount: true,
  maxOperations: true,
  priorities: true,
  maxAdvanceMs: true,
  signals: true,
  withDeadlines: true,
  withProbes: true,
});

/**
 * Workloads for a gate: sequences of `try`, `acquire` (with priorities, deadlines and shared
 * abort signals), `release`, `abort` and `advance` steps, to run with `driveGate` in virtual
 * time. Shrinks towards short workloads of small counts.
 *
 * @example
 * ```ts
 * await fc.assert(fc.asyncProperty(gateOperations({ maxCount: 3 }), async (operations) => {
 *   const clock = new VirtualClock();
 *   const report = await driveGate(makeGate(clock), clock, operations);
 *   expect(report.violations).toEqual([]);
 * }));
 * ```
 */
export function gateOperations(options: GateOperationsOptions): fc.Arbitrary<GateOperation[]> {
  checkOptions('gateOperations', options, GATE_OPERATIONS_KEYS);
  const priorities = options.priorities ?? [0];
  const signals = options.signals ?? 3;
  const maxCount = options.maxCount;
  const minCount = options.withProbes === false ? 1 : 0;
  const count = fc.integer({ min: minCount, max: maxCount });
  const priority = fc.constantFrom(...priorities);
  const maxWaitMs =
    options.withDeadlines === false ? fc.constant(undefined) : fc.option(fc.integer({ min: 0, max: 2_000 }), { nil: undefined, freq: 2 });
  const operation: fc.Arbitrary<GateOperation> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('try' as const), count, priority }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('acquire' as const),
        count: fc.integer({ min: 1, max: maxCount }),
        priority,
        maxWaitMs,
        signal: fc.option(fc.nat({ max: signals - 1 }), { nil: undefined, freq: 2 }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), signal: fc.nat({ max: signals - 1 }) }) },
    {
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: options.maxAdvanceMs ?? 1_000 }) }),
    },
  );
  return fc.array(operation, { maxLength: options.maxOperations ?? 60 });
}

/** One arrival of an {@link arrivalSchedule}. */
export interface Arrival {
  /** Virtual time of arrival, in ms from the start. */
  readonly atMs: number;
  /** Units it asks for. */
  readonly count: number;
  /** Its priority. */
  readonly priority: number;
}

/** Options of {@link arrivalSchedule}. */
export interface ArrivalScheduleOptions {
  /** Arrivals at most; default 200. */
  readonly maxArrivals?: number;
  /** Largest gap between two arrivals, in ms; default 100. Gaps of 0 (bursts) are common. */
  readonly maxGapMs?: number;
  /** Largest count per arrival; default 1. */
  readonly maxCount?: number;
  /** Priorities to draw from; default `[0]`. */
  readonly priorities?: readonly number[];
}

const ARRIVAL_SCHEDULE_KEYS = optionKeys<ArrivalScheduleOptions>()({
  maxArrivals: true,
  maxGapMs: true,
  maxCount: true,
  priorities: true,
});

/**
 * Arrival schedules: non-decreasing arrival times (bursts included: many gaps are 0), each with
 * a count and a priority. For invariants that must hold whatever the traffic looks like, e.g. "a
 * token bucket never admits more than burst + rate × t in any window".
 */
export function arrivalSchedule(options: ArrivalScheduleOptions = {}): fc.Arbitrary<Arrival[]> {
  checkOptions('arrivalSchedule', options, ARRIVAL_SCHEDULE_KEYS);
  const maxGapMs = options.maxGapMs ?? 100;
  const gap = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: maxGapMs }), fc.double({ min: 0, max: maxGapMs, noNaN: true }));
  const arrival = fc.record({
    gap,
    count: fc.integer({ min: 1, max: options.maxCount ?? 1 }),
    priority: fc.constantFrom(...(options.priorities ?? [0])),
  });
  return fc.array(arrival, { maxLength: options.maxArrivals ?? 200 }).map((items) => {
    let at = 0;
    return items.map(({ gap: g, count, priority }) => {
      at += g;
      return { atMs: at, count, priority };
    });
  });
}
