// Type-level tests: compiled by `pnpm typecheck` (an assertion that fails is a type error).
import { expectTypeOf } from 'vitest';
import {
  CircuitBreaker,
  consecutiveFailures,
  countWindow,
  timeWindow,
  type BreakerState,
  type BreakerStats,
  type CloseReason,
  type OpenReason,
  type TripReason,
  type TripStrategy,
} from '@sluice/breaker';
import type { Disposer, Gate, GateStats } from '@sluice/core';

declare const breaker: CircuitBreaker;

// a breaker is a gate, and its stats are gate stats plus its own
expectTypeOf(breaker).toMatchTypeOf<Gate>();
expectTypeOf(breaker.stats()).toEqualTypeOf<BreakerStats>();
expectTypeOf<BreakerStats>().toMatchTypeOf<GateStats>();
expectTypeOf(breaker.state).toEqualTypeOf<BreakerState>();

// strategies are strategies, with their parameters readable
expectTypeOf(consecutiveFailures(5)).toMatchTypeOf<TripStrategy>();
expectTypeOf(consecutiveFailures(5).threshold).toEqualTypeOf<number>();
expectTypeOf(countWindow({ size: 10, failureRate: 0.5, minimumCalls: 5 })).toMatchTypeOf<TripStrategy>();
expectTypeOf(timeWindow({ windowMs: 10_000, failureRate: 0.5, minimumCalls: 5 }).buckets).toEqualTypeOf<number>();

// events: reasons narrow on `cause`
expectTypeOf(breaker.onOpen).parameter(0).parameter(0).toEqualTypeOf<OpenReason>();
expectTypeOf(breaker.onClose((reason) => expectTypeOf(reason).toEqualTypeOf<CloseReason>())).toEqualTypeOf<Disposer>();
breaker.onOpen((reason) => {
  if (reason.cause === 'tripped') expectTypeOf(reason.trip).toEqualTypeOf<TripReason>();
});

// required options
// @ts-expect-error halfOpenAfterMs is required
new CircuitBreaker({ trip: consecutiveFailures(5) });
// @ts-expect-error trip is required
new CircuitBreaker({ halfOpenAfterMs: 1_000 });
