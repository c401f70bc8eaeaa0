/**
 * Why a trip strategy opened the breaker, passed to `onOpen` listeners (inside an
 * {@link OpenReason} of cause `tripped`). `rule` names the rule; the other fields are the numbers
 * that crossed the threshold.
 */
export interface TripReason {
  /** The rule that tripped: `consecutive`, `failure-rate`, or a custom strategy's own name. */
  readonly rule: string;
}

/** {@link consecutiveFailures} tripped: `failures` calls in a row failed. */
export interface ConsecutiveTripReason extends TripReason {
  /** Always `consecutive`. */
  readonly rule: 'consecutive';
  /** Failures in a row when it tripped (equal to `threshold`). */
  readonly failures: number;
  /** The configured threshold. */
  readonly threshold: number;
}

/** {@link countWindow} or {@link timeWindow} tripped: the failure rate reached the threshold. */
export interface FailureRateTripReason extends TripReason {
  /** Always `failure-rate`. */
  readonly rule: 'failure-rate';
  /** The failure rate when it tripped, from 0 to 1 (at least `threshold`). */
  readonly rate: number;
  /** Outcomes in the window when it tripped. */
  readonly calls: number;
  /** Failures among them. */
  readonly failures: number;
  /** The configured `failureRate`. */
  readonly threshold: number;
}

/** What a trip strategy's counter holds now, for `stats()`. */
export interface TripSnapshot {
  /**
   * Outcomes the rule currently looks at: those in the window (count or time), or for
   * {@link consecutiveFailures} the current run of failures.
   */
  readonly calls: number;
  /** Failures among {@link TripSnapshot.calls}. */
  readonly failures: number;
  /**
   * `failures / calls`, from 0 to 1; `undefined` while fewer than the minimum number of calls
   * were seen (the rate is not judged yet) and for rules that do not use a rate.
   */
  readonly failureRate: number | undefined;
}

/**
 * The counting state of one breaker, made by {@link TripStrategy.create}. The breaker calls it
 * only while closed: {@link TripCounter.record} once per counted outcome, {@link TripCounter.reset}
 * whenever it closes (trials succeeded, or `reset()`).
 *
 * Implement it (with a {@link TripStrategy} that makes it) to plug in a rule of your own.
 * Every method must be cheap: `record` runs on the success path of every call.
 */
export interface TripCounter {
  /**
   * Whether {@link TripCounter.record}, {@link TripCounter.reset} and
   * {@link TripCounter.snapshot} need the current time. When `false` the breaker reads no clock
   * for them and passes `0` as `nowMs`.
   */
  readonly needsTime: boolean;
  /**
   * Counts one outcome (`failed` is the breaker's verdict: `isFailure` or too slow) at `nowMs`
   * (the breaker's clock, ms) and returns why the breaker must open now, or `undefined` to stay
   * closed. A success may trip too: a window that reaches its minimum number of calls with a
   * success can already be at the threshold.
   */
  record(failed: boolean, nowMs: number): TripReason | undefined;
  /** Forgets every outcome (the breaker closed or was reset) at `nowMs`. */
  reset(nowMs: number): void;
  /** What the rule holds at `nowMs`; may drop expired buckets, never changes a verdict. */
  snapshot(nowMs: number): TripSnapshot;
}

/**
 * A rule deciding when a closed breaker opens: an immutable description (safe to share between
 * breakers) that makes one {@link TripCounter} per breaker. Made by {@link consecutiveFailures},
 * {@link countWindow} and {@link timeWindow}, or written by hand for a custom rule.
 *
 * @example
 * ```ts
 * // A custom rule: open after `n` failures in total since the breaker last closed.
 * const totalFailures = (n: number): TripStrategy => ({
 *   rule: 'total',
 *   create() {
 *     let failures = 0;
 *     return {
 *       needsTime: false,
 *       record: (failed) => (failed && ++failures >= n ? { rule: 'total' } : undefined),
 *       reset: () => void (failures = 0),
 *       snapshot: () => ({ calls: failures, failures, failureRate: undefined }),
 *     };
 *   },
 * });
 * ```
 */
export interface TripStrategy {
  /** Name of the rule, as in its {@link TripReason}: `consecutive`, `failure-rate`, …. */
  readonly rule: string;
  /** Makes the counting state of one breaker (called once, by the breaker's constructor). */
  create(): TripCounter;
}
