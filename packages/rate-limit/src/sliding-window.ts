import { checkName, checkNumber, checkOptions, optionKeys } from '@sluice/core';
import { UNIT_EPSILON, slidingWindowEstimate, slidingWindowWaitMs } from './math.js';
import type { SlidingWindowOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';

const SLIDING_WINDOW_KEYS = optionKeys<SlidingWindowOptions>()({
  limit: true,
  windowMs: true,
  name: true,
  clock: true,
  queueLimit: true,
  maxStarvationMs: true,
});

/**
 * "At most `limit` per `windowMs`", for people who think in requests per minute: the weighted
 * two-window approximation of a sliding window (nginx-style). It counts the current fixed
 * window and the previous one, and estimates the last `windowMs` as
 * `previous × (share of it still inside the window) + current`. A request passes while that
 * estimate plus its count stays within `limit`.
 *
 * Unlike a fixed window it does not allow 2 × `limit` around a window boundary; unlike an exact
 * sliding log it keeps three numbers, not one timestamp per request. Within any fixed window at
 * most `limit` pass.
 *
 * @example
 * ```ts
 * const perMinute = new SlidingWindow({ limit: 60, windowMs: 60_000 });
 * perMinute.tryAcquire(); // granted while fewer than ~60 passed in the last minute
 * ```
 */
export class SlidingWindow extends RateLimiter {
  /** Most units per window. */
  readonly limit: number;
  /** Window length, ms. */
  readonly windowMs: number;
  private windowStart: number;
  private previous = 0;
  private current = 0;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: SlidingWindowOptions) {
    const o = checkOptions('SlidingWindow', options, SLIDING_WINDOW_KEYS);
    const name = checkName('SlidingWindow', o.name, 'sliding-window');
    const limit = checkNumber(name, 'limit', o.limit, { min: 1, integer: true });
    const windowMs = checkNumber(name, 'windowMs', o.windowMs, { min: 0, exclusiveMin: true });
    super({ name, clock: o.clock, capacity: limit, queueLimit: o.queueLimit, maxStarvationMs: o.maxStarvationMs });
    this.limit = limit;
    this.windowMs = windowMs;
    this.windowStart = this.lastNow;
  }

  /** The hot path in one pass: one clock read, the roll, the estimate, the count. */
  protected override tryTake(count: number): boolean {
    let now = this.clock.now();
    if (now > this.lastNow) this.lastNow = now;
    else now = this.lastNow;
    if (now - this.windowStart >= this.windowMs) this.roll(now);
    const into = (now - this.windowStart) / this.windowMs;
    const needed = count === 0 ? 1 : count;
    if (this.previous * (1 - into) + this.current + needed > this.limit + UNIT_EPSILON) {
      this.refusedWaitMs = Math.ceil(this.waitMsAt(needed, now));
      return false;
    }
    this.current += count;
    return true;
  }

  protected canTakeAt(count: number, nowMs: number): boolean {
    this.roll(nowMs);
    const estimate = slidingWindowEstimate(this.previous, this.current, this.windowStart, nowMs, this.windowMs);
    return estimate + (count === 0 ? 1 : count) <= this.limit + UNIT_EPSILON;
  }

  protected takeAt(count: number, nowMs: number): void {
    this.roll(nowMs);
    this.current += count;
  }

  protected waitMsAt(units: number, nowMs: number): number {
    this.roll(nowMs);
    const first = slidingWindowWaitMs(
      this.previous,
      this.current,
      this.windowStart,
      nowMs,
      this.windowMs,
      this.limit,
      Math.min(units, this.limit),
    );
    // more than one window's worth queued: each further `limit` units takes about one window
    return units <= this.limit ? first : first + (Math.ceil(units / this.limit) - 1) * this.windowMs;
  }

  protected availableAt(nowMs: number): number {
    this.roll(nowMs);
    return Math.max(
      0,
      Math.floor(this.limit - slidingWindowEstimate(this.previous, this.current, this.windowStart, nowMs, this.windowMs) + UNIT_EPSILON),
    );
  }

  protected refundAt(count: number, nowMs: number): void {
    this.roll(nowMs);
    this.current = Math.max(0, this.current - count);
  }

  /** Moves to the window holding `nowMs`: the current count becomes the previous one (or both reset after a gap). */
  private roll(nowMs: number): void {
    const elapsed = nowMs - this.windowStart;
    if (elapsed < this.windowMs) return;
    const windows = Math.floor(elapsed / this.windowMs);
    this.previous = windows === 1 ? this.current : 0;
    this.current = 0;
    this.windowStart += windows * this.windowMs;
  }
}

/** Creates a {@link SlidingWindow}. */
export function slidingWindow(options: SlidingWindowOptions): SlidingWindow {
  return new SlidingWindow(options);
}
