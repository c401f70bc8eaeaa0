import type { Clock } from '@sluice/core';

/** Options every limiter takes. */
export interface LimiterOptions {
  /** Name used in refusals, errors and metrics; default the limiter kind (`"token-bucket"`, …). */
  readonly name?: string;
  /** Time source; default `systemClock`. Pass a `VirtualClock` in tests. */
  readonly clock?: Clock;
  /**
   * Most units that may wait in `acquire` at once (a waiter of count 3 takes 3). Default: the
   * limiter's capacity (`burst` or `limit`), so a waiter never waits longer than about two
   * bursts. `0` makes `acquire` refuse instead of waiting.
   */
  readonly queueLimit?: number;
  /** Anti-starvation age for priorities, in ms; default 10,000 (see `WaiterQueue`). */
  readonly maxStarvationMs?: number;
}

/** Options of `TokenBucket`. */
export interface TokenBucketOptions extends LimiterOptions {
  /** Tokens added per second, continuously. Required: a finite number > 0. */
  readonly ratePerSecond: number;
  /** Most tokens the bucket holds (the largest burst, and the largest count one request may ask for). Required: an integer ≥ 1. */
  readonly burst: number;
  /** Tokens at creation; default `burst` (full). From 0 to `burst`. */
  readonly initialTokens?: number;
}

/** Options of `Gcra`: the same limit as a token bucket, stored as one number. */
export interface GcraOptions extends LimiterOptions {
  /** Sustained rate, in units per second. Required: a finite number > 0. */
  readonly ratePerSecond: number;
  /** Largest burst (and largest count one request may ask for). Required: an integer ≥ 1. */
  readonly burst: number;
}

/** Options of `SlidingWindow`. */
export interface SlidingWindowOptions extends LimiterOptions {
  /** Most units per window. Required: an integer ≥ 1. */
  readonly limit: number;
  /** Window length in ms, e.g. 60,000 for "per minute". Required: a finite number > 0. */
  readonly windowMs: number;
}
