import { CircuitBreaker, consecutiveFailures, countWindow, timeWindow, type TripStrategy } from '@sluice/breaker';
import type { Outcome } from '@sluice/core';
import { describeGateContract } from '@sluice/testing/contract';
import { expect } from 'vitest';

const trip = consecutiveFailures(1);

/** An upstream error that says the dependency is unhealthy. */
const serverError = Object.assign(new Error('503 Service Unavailable'), { status: 503 });

/**
 * Counts only 5xx errors. Why the subject needs a filter: the contract's `run()` test throws a
 * plain Error from `fn` and then expects the next `run` to pass. A half-open breaker that counted
 * that error would (rightly) reopen and refuse it; with this filter the plain error is not a
 * failure, so the trial counts as a success, as a 4xx would in production.
 */
const isServerFailure = ({ ok, error }: Outcome): boolean =>
  ok === false && typeof (error as { status?: unknown } | undefined)?.status === 'number' && (error as { status: number }).status >= 500;

describeGateContract('CircuitBreaker (half-open, halfOpenMaxCalls 3)', {
  create: ({ clock }) => {
    const gate = new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, halfOpenMaxCalls: 3, isFailure: isServerFailure, clock });
    gate.record({ ok: false, error: serverError }); // trips it without a counted admission
    clock.advanceSync(1_000);
    expect(gate.tryAcquire(0).granted).toBe(true); // the probe moves it to half-open (not counted)
    expect(gate.state).toBe('half-open');
    return { gate, initial: 3, queueLimit: 0, refillMs: 0, refusalReason: 'circuit-open' };
  },
  invalid: {
    'options missing': () => new CircuitBreaker(undefined as never),
    'options not an object': () => new CircuitBreaker(42 as never),
    'halfOpenAfterMs missing': ({ clock }) => new CircuitBreaker({ trip, clock } as never),
    'halfOpenAfterMs 0': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 0, clock }),
    'halfOpenAfterMs negative': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: -1, clock }),
    'halfOpenAfterMs NaN': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: Number.NaN, clock }),
    'halfOpenAfterMs Infinity': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: Infinity, clock }),
    'halfOpenAfterMs a string': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: '1000' as never, clock }),
    'trip missing': ({ clock }) => new CircuitBreaker({ halfOpenAfterMs: 1_000, clock } as never),
    'trip not a strategy': ({ clock }) => new CircuitBreaker({ trip: 5 as never, halfOpenAfterMs: 1_000, clock }),
    'trip whose create() returns no counter': ({ clock }) =>
      new CircuitBreaker({ trip: { rule: 'x', create: () => ({}) } as unknown as TripStrategy, halfOpenAfterMs: 1_000, clock }),
    'halfOpenMaxCalls 0': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, halfOpenMaxCalls: 0, clock }),
    'halfOpenMaxCalls fractional': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, halfOpenMaxCalls: 1.5, clock }),
    'halfOpenMaxCalls NaN': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, halfOpenMaxCalls: Number.NaN, clock }),
    'slowCallMs 0': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, slowCallMs: 0, clock }),
    'slowCallMs NaN': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, slowCallMs: Number.NaN, clock }),
    'isFailure not a function': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, isFailure: true as never, clock }),
    'name empty': ({ clock }) => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, name: '', clock }),
    'clock without now()': () => new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, clock: {} as never }),
    'consecutiveFailures(0)': ({ clock }) => new CircuitBreaker({ trip: consecutiveFailures(0), halfOpenAfterMs: 1_000, clock }),
    'consecutiveFailures(2.5)': ({ clock }) => new CircuitBreaker({ trip: consecutiveFailures(2.5), halfOpenAfterMs: 1_000, clock }),
    'consecutiveFailures(NaN)': ({ clock }) => new CircuitBreaker({ trip: consecutiveFailures(Number.NaN), halfOpenAfterMs: 1_000, clock }),
    'countWindow size 0': () => countWindow({ size: 0, failureRate: 0.5, minimumCalls: 1 }),
    'countWindow size fractional': () => countWindow({ size: 2.5, failureRate: 0.5, minimumCalls: 1 }),
    'countWindow size above the cap': () => countWindow({ size: 1_000_001, failureRate: 0.5, minimumCalls: 1 }),
    'countWindow failureRate 0': () => countWindow({ size: 10, failureRate: 0, minimumCalls: 1 }),
    'countWindow failureRate above 1': () => countWindow({ size: 10, failureRate: 1.01, minimumCalls: 1 }),
    'countWindow failureRate NaN': () => countWindow({ size: 10, failureRate: Number.NaN, minimumCalls: 1 }),
    'countWindow minimumCalls 0': () => countWindow({ size: 10, failureRate: 0.5, minimumCalls: 0 }),
    'countWindow minimumCalls missing': () => countWindow({ size: 10, failureRate: 0.5 } as never),
    'countWindow options missing': () => countWindow(undefined as never),
    'timeWindow windowMs 0': () => timeWindow({ windowMs: 0, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow windowMs Infinity': () => timeWindow({ windowMs: Infinity, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow windowMs not a multiple of bucketMs': () => timeWindow({ windowMs: 1_500, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow windowMs below bucketMs': () => timeWindow({ windowMs: 500, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow too many buckets': () => timeWindow({ windowMs: 1_000_000, bucketMs: 1, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow bucketMs 0': () => timeWindow({ windowMs: 1_000, bucketMs: 0, failureRate: 0.5, minimumCalls: 1 }),
    'timeWindow failureRate negative': () => timeWindow({ windowMs: 1_000, failureRate: -0.1, minimumCalls: 1 }),
    'timeWindow minimumCalls fractional': () => timeWindow({ windowMs: 1_000, failureRate: 0.5, minimumCalls: 1.5 }),
  },
});
