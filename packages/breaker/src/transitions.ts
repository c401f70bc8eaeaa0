import type { Outcome } from '@sluice/core';
import type { TripReason } from './trip-strategy.js';

/**
 * The state of a `CircuitBreaker`.
 *
 * - `closed`: everything passes; outcomes are counted by the trip strategy.
 * - `open`: everything is refused with `circuit-open` and `retryAfterMs` = time until half-open.
 * - `half-open`: `halfOpenMaxCalls` trial calls pass, the rest are refused; all trials
 *   succeeding closes the breaker, any failing reopens it.
 * - `isolated`: opened by hand with `isolate()`; refuses everything (no `retryAfterMs`) until
 *   `reset()`.
 *
 * Legal moves: closed → open, open → half-open, half-open → closed, half-open → open, any →
 * isolated (`isolate()`), any → closed (`reset()`).
 */
export type BreakerState = 'closed' | 'open' | 'half-open' | 'isolated';

/** The trip strategy opened a closed breaker; `trip` says which rule and with what numbers. */
export interface TrippedReason {
  /** Discriminant. */
  readonly cause: 'tripped';
  /** The strategy's reason, e.g. `{ rule: 'consecutive', failures: 5, threshold: 5 }`. */
  readonly trip: TripReason;
}

/** A trial call failed while half-open, so the breaker opened again for `halfOpenAfterMs`. */
export interface TrialFailedReason {
  /** Discriminant. */
  readonly cause: 'trial-failed';
  /** The failing trial's outcome (a failure by `isFailure`, or slower than `slowCallMs`). */
  readonly outcome: Outcome;
}

/** `isolate()` was called. */
export interface IsolatedReason {
  /** Discriminant. */
  readonly cause: 'isolated';
}

/** Why the breaker moved to `open` (or `isolated`), passed to `onOpen` listeners. */
export type OpenReason = TrippedReason | TrialFailedReason | IsolatedReason;

/** Every trial call of a half-open breaker succeeded. */
export interface TrialsSucceededReason {
  /** Discriminant. */
  readonly cause: 'trials-succeeded';
  /** How many trials succeeded (`halfOpenMaxCalls`). */
  readonly trials: number;
}

/** `reset()` was called on a breaker that was not closed. */
export interface ResetReason {
  /** Discriminant. */
  readonly cause: 'reset';
  /** The state it was reset from. */
  readonly from: BreakerState;
}

/** Why the breaker moved to `closed`, passed to `onClose` listeners. */
export type CloseReason = TrialsSucceededReason | ResetReason;

/** Listener of `onOpen`: called once per move into `open` or `isolated`. */
export type OpenListener = (reason: OpenReason) => void;

/** Listener of `onHalfOpen`: called once per move into `half-open`. */
export type HalfOpenListener = () => void;

/** Listener of `onClose`: called once per move into `closed`. */
export type CloseListener = (reason: CloseReason) => void;
