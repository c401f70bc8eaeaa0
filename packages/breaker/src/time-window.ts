import { InvalidArgumentError, checkNumber, checkOptions, optionalNumber, optionKeys } from '@sluice/core';
import { DEFAULT_BUCKET_MS, MAX_TIME_WINDOW_BUCKETS, type TimeWindowOptions } from './options.js';
import type { FailureRateTripReason, TripCounter, TripSnapshot, TripStrategy } from './trip-strategy.js';

/** The strategy {@link timeWindow} makes: its options, checked. */
export interface TimeWindowStrategy extends TripStrategy {
  /** Always `failure-rate`. */
  readonly rule: 'failure-rate';
  /** Window length, in ms. */
  readonly windowMs: number;
  /** Bucket length, in ms. */
  readonly bucketMs: number;
  /** Buckets in the window (`windowMs / bucketMs`). */
  readonly buckets: number;
  /** Failure rate (0 < rate ≤ 1) at or above which the breaker opens. */
  readonly failureRate: number;
  /** Outcomes needed in the window before the rate is judged. */
  readonly minimumCalls: number;
}

/**
 * Per-bucket counts of one breaker with running totals: a bucket's counts are subtracted from
 * the totals as it leaves the window, so recording and judging are O(1) (moving over k empty
 * buckets after a quiet spell costs O(min(k, buckets)) once).
 */
class TimeWindowCounter implements TripCounter {
  readonly needsTime = true;
  private readonly calls: Float64Array;
  private readonly failures: Float64Array;
  /** Index of the newest bucket, `floor(now / bucketMs)`; every older one in the ring is within the window. */
  private head = -Infinity;
  /** Slot of the newest bucket in the ring. */
  private slot = 0;
  /** When the newest bucket ends, in ms: until then `advance` is one comparison. */
  private headEndsAt = -Infinity;
  private totalCalls = 0;
  private totalFailures = 0;

  constructor(
    private readonly buckets: number,
    private readonly bucketMs: number,
    private readonly threshold: number,
    private readonly minimumCalls: number,
  ) {
    this.calls = new Float64Array(buckets);
    this.failures = new Float64Array(buckets);
  }

  record(failed: boolean, nowMs: number): FailureRateTripReason | undefined {
    const slot = this.advance(nowMs);
    this.calls[slot] = (this.calls[slot] as number) + 1;
    this.totalCalls++;
    if (failed) {
      this.failures[slot] = (this.failures[slot] as number) + 1;
      this.totalFailures++;
    }
    if (this.totalCalls < this.minimumCalls || this.totalFailures === 0) return undefined;
    const rate = this.totalFailures / this.totalCalls;
    if (rate < this.threshold) return undefined;
    return { rule: 'failure-rate', rate, calls: this.totalCalls, failures: this.totalFailures, threshold: this.threshold };
  }

  reset(nowMs: number): void {
    this.calls.fill(0);
    this.failures.fill(0);
    this.totalCalls = 0;
    this.totalFailures = 0;
    this.moveHead(Math.floor(nowMs / this.bucketMs));
  }

  snapshot(nowMs: number): TripSnapshot {
    this.advance(nowMs);
    return {
      calls: this.totalCalls,
      failures: this.totalFailures,
      failureRate: this.totalCalls < this.minimumCalls ? undefined : this.totalFailures / this.totalCalls,
    };
  }

  /** Moves the window to `nowMs`, dropping the buckets that left it; returns the current bucket's slot. */
  private advance(nowMs: number): number {
    // Why only `<`: a clock that stands still or steps back keeps counting into the newest bucket.
    if (nowMs < this.headEndsAt) return this.slot;
    const index = Math.floor(nowMs / this.bucketMs);
    if (index <= this.head) return this.slot; // floating-point edge at a bucket boundary
    const n = this.buckets;
    if (index - this.head >= n) {
      this.calls.fill(0);
      this.failures.fill(0);
      this.totalCalls = 0;
      this.totalFailures = 0;
    } else {
      for (let i = this.head + 1; i <= index; i++) {
        const slot = ((i % n) + n) % n;
        this.totalCalls -= this.calls[slot] as number;
        this.totalFailures -= this.failures[slot] as number;
        this.calls[slot] = 0;
        this.failures[slot] = 0;
      }
    }
    this.moveHead(index);
    return this.slot;
  }

  private moveHead(index: number): void {
    const n = this.buckets;
    this.head = index;
    this.slot = ((index % n) + n) % n;
    this.headEndsAt = (index + 1) * this.bucketMs;
  }
}

const TIME_WINDOW_KEYS = optionKeys<TimeWindowOptions>()({
  windowMs: true,
  bucketMs: true,
  failureRate: true,
  minimumCalls: true,
});

/**
 * Opens the breaker when, among the outcomes of the last `windowMs`, the share of failures
 * reaches `failureRate` — judged only once the window holds at least `minimumCalls` outcomes.
 * Below the minimum the rate is undefined and nothing happens.
 *
 * Outcomes are counted in buckets of `bucketMs` (default 1 s); the window is the current bucket
 * plus the `windowMs / bucketMs − 1` before it, so an outcome counts for between
 * `windowMs − bucketMs` and `windowMs` and then leaves with its bucket. Resilience4j's
 * TIME_BASED window and Hystrix's rolling buckets, with running totals so each call is O(1)
 * (16 bytes per bucket), and no timer: buckets expire as time is read. Opens when rate ≥
 * threshold; the counts start empty each time the breaker closes. Reads the clock once per
 * counted outcome.
 *
 * Choose it for bursty or low-volume traffic, where "the last N calls" of a
 * {@link countWindow} may be long past.
 *
 * @param options - `windowMs` (window length in ms: a finite number > 0, a whole multiple of
 *   `bucketMs`, at most 100,000 buckets), `bucketMs` (bucket length in ms; default 1,000),
 *   `failureRate` (rate at or above which it opens: > 0 and ≤ 1), `minimumCalls` (outcomes in
 *   the window before the rate is judged: an integer ≥ 1). All but `bucketMs` required.
 * @throws InvalidArgumentError naming the bad option.
 *
 * @example
 * ```ts
 * // Hystrix's defaults: 10 s in ten 1 s buckets, 50 %, at least 20 calls.
 * const trip = timeWindow({ windowMs: 10_000, failureRate: 0.5, minimumCalls: 20 });
 * ```
 */
export function timeWindow(options: TimeWindowOptions): TimeWindowStrategy {
  const o = checkOptions('timeWindow', options, TIME_WINDOW_KEYS);
  const windowMs = checkNumber('timeWindow', 'windowMs', o.windowMs, { min: 0, exclusiveMin: true });
  const bucketMs = optionalNumber('timeWindow', 'bucketMs', o.bucketMs, DEFAULT_BUCKET_MS, { min: 0, exclusiveMin: true });
  const failureRate = checkNumber('timeWindow', 'failureRate', o.failureRate, { min: 0, exclusiveMin: true, max: 1 });
  const minimumCalls = checkNumber('timeWindow', 'minimumCalls', o.minimumCalls, { min: 1, integer: true });
  const ratio = windowMs / bucketMs;
  const buckets = Math.round(ratio);
  // Why a tolerance: 300 / 0.1 is 2999.9999999999995 in binary floating point.
  if (buckets < 1 || Math.abs(ratio - buckets) > 1e-9 * buckets) {
    throw new InvalidArgumentError('timeWindow', 'windowMs', `a whole multiple of bucketMs (${bucketMs} ms)`, windowMs);
  }
  if (buckets > MAX_TIME_WINDOW_BUCKETS) {
    throw new InvalidArgumentError('timeWindow', 'windowMs', `at most ${MAX_TIME_WINDOW_BUCKETS} × bucketMs (${bucketMs} ms)`, windowMs);
  }
  return Object.freeze({
    rule: 'failure-rate' as const,
    windowMs,
    bucketMs,
    buckets,
    failureRate,
    minimumCalls,
    create: (): TripCounter => new TimeWindowCounter(buckets, bucketMs, failureRate, minimumCalls),
  });
}
