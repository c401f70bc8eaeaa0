import type { Clock, Outcome } from '@sluice/core';
import type { TripStrategy } from './trip-strategy.js';

/** Default of {@link CircuitBreakerOptions.halfOpenMaxCalls}: one trial call, as Hystrix and opossum. */
export const DEFAULT_HALF_OPEN_MAX_CALLS = 1;

/** Default of {@link CircuitBreakerOptions.name}. */
export const DEFAULT_BREAKER_NAME = 'breaker';

/** Default of {@link TimeWindowOptions.bucketMs}: one-second buckets, as Resilience4j. */
export const DEFAULT_BUCKET_MS = 1_000;

/** Largest {@link CountWindowOptions.size}: one byte per outcome, so at most 1 MB per breaker. */
export const MAX_COUNT_WINDOW_SIZE = 1_000_000;

/** Most buckets a {@link TimeWindowOptions | time window} may have (`windowMs / bucketMs`): 16 bytes each. */
export const MAX_TIME_WINDOW_BUCKETS = 100_000;

/** Options of `CircuitBreaker`. */
export interface CircuitBreakerOptions {
  /**
   * How long the breaker stays open before it lets trial calls through, in ms. Required: a
   * finite number > 0 (it depends on how fast the protected service recovers; there is no
   * hidden default). The move to half-open happens on the first call at or after
   * `openedAt + halfOpenAfterMs`; no timer is armed.
   */
  readonly halfOpenAfterMs: number;
  /**
   * When a closed breaker opens. Required: `consecutiveFailures(n)`, `countWindow({...})`,
   * `timeWindow({...})`, or a custom {@link TripStrategy}.
   */
  readonly trip: TripStrategy;
  /**
   * Trial calls admitted while half-open, one per acquisition whatever its count. All of them
   * must succeed to close the breaker; any failure reopens it. An integer ≥ 1; default
   * {@link DEFAULT_HALF_OPEN_MAX_CALLS} (1).
   */
  readonly halfOpenMaxCalls?: number;
  /**
   * A call that took longer than this, in ms, counts as a failure even when it succeeded (a
   * slow dependency is failing too). A number > 0, or `Infinity`; default: off (duration never
   * counts). The duration is the outcome's `durationMs`; for a permit released without one, the
   * time from grant to release.
   */
  readonly slowCallMs?: number;
  /**
   * Decides whether an outcome counts as a failure. Default: `outcome.ok === false`. Use it to
   * keep errors that say nothing about the dependency's health (a 404, a validation error) out
   * of the count: `({ ok, error }) => ok === false && !(error instanceof NotFoundError)`.
   * Called only for outcomes whose `ok` is `true` or `false`: an outcome with `ok` absent
   * (`NOT_RUN`, or a release without outcome) is never counted. Must not throw.
   */
  readonly isFailure?: (outcome: Outcome) => boolean;
  /** Name used in refusals, errors and metrics; default {@link DEFAULT_BREAKER_NAME} (`"breaker"`). */
  readonly name?: string;
  /**
   * Time source; default `systemClock`. Read only when something needs the time: the open
   * state's deadline, `slowCallMs`, a time window, a custom `isFailure` (for `durationMs`).
   * Pass a `VirtualClock` in tests. No timer is ever armed on it.
   */
  readonly clock?: Clock;
}

/** Options of {@link countWindow}. */
export interface CountWindowOptions {
  /** Outcomes in the window: the last `size` calls. Required: an integer from 1 to {@link MAX_COUNT_WINDOW_SIZE}. */
  readonly size: number;
  /**
   * Failure rate at or above which the breaker opens, as a fraction: `0.5` = 50 %. Required: a
   * number > 0 and ≤ 1.
   */
  readonly failureRate: number;
  /**
   * Outcomes needed before the rate is judged at all; below it the rate is undefined and the
   * breaker stays closed. Required: an integer ≥ 1. Values above `size` act as `size`.
   */
  readonly minimumCalls: number;
}

/** Options of {@link timeWindow}. */
export interface TimeWindowOptions {
  /**
   * Length of the window, in ms: outcomes older than this no longer count. Required: a finite
   * number > 0, a whole multiple of `bucketMs`, at most {@link MAX_TIME_WINDOW_BUCKETS} buckets.
   */
  readonly windowMs: number;
  /**
   * Granularity of the window, in ms: outcomes are counted per bucket, and a bucket leaves the
   * window as a whole. A finite number > 0; default {@link DEFAULT_BUCKET_MS} (1,000).
   */
  readonly bucketMs?: number;
  /**
   * Failure rate at or above which the breaker opens, as a fraction: `0.5` = 50 %. Required: a
   * number > 0 and ≤ 1.
   */
  readonly failureRate: number;
  /**
   * Outcomes needed in the window before the rate is judged at all; below it the rate is
   * undefined and the breaker stays closed. Required: an integer ≥ 1.
   */
  readonly minimumCalls: number;
}
