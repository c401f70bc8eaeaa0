import type { GateStats } from '@sluice/core';
import type { BreakerState } from './transitions.js';

/** `CircuitBreaker.stats()`: the gate counters plus the breaker's own state. */
export interface BreakerStats extends GateStats {
  /** The state now (`open` until a call moves it to `half-open`: the move is lazy). */
  readonly state: BreakerState;
  /** Outcomes the trip strategy holds (its window, or the current run of failures). */
  readonly calls: number;
  /** Failures among them. */
  readonly failures: number;
  /** `failures / calls` (0 to 1), or `undefined` below the strategy's minimum number of calls. */
  readonly failureRate: number | undefined;
  /** Half-open trial calls admitted and not yet settled (0 in any other state). */
  readonly trialsInFlight: number;
  /**
   * While `open`: ms until the next call may move it to half-open (0 once due). `undefined` in
   * every other state.
   */
  readonly retryAfterMs: number | undefined;
  /** Moves into `open` or `isolated` so far (the `onOpen` events). Only grows. */
  readonly opened: number;
}
