import { checkName, checkNumber, checkOptions, optionKeys } from '@sluice/core';
import { UNIT_EPSILON, gcraAdmit, gcraAvailable, gcraParameters, gcraWaitMs } from './math.js';
import type { GcraOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';

const GCRA_KEYS = optionKeys<GcraOptions>()({
  ratePerSecond: true,
  burst: true,
  name: true,
  clock: true,
  queueLimit: true,
  maxStarvationMs: true,
});

/**
 * The generic cell rate algorithm: the same limit as a token bucket of `burst` tokens refilling
 * at `ratePerSecond`, stored as one number — the theoretical arrival time (TAT). A request of
 * cost c passes when `max(TAT, now) + c·T − now ≤ τ` (T = 1000 / rate ms, τ = burst · T), and
 * moves the TAT forward by c·T. The fill level is implied by `(TAT − now) / T`, so there is no
 * refill to compute, and one number is all a shared store has to keep (see `gcraAdmit`, the
 * pure function this gate runs, and that the Redis store runs too).
 *
 * Same API and behaviour as `TokenBucket` (FIFO waiting on one timer, early `maxWaitMs`
 * refusal, `TooLargeError` above `burst`, monotonic time).
 *
 * @example
 * ```ts
 * const limit = new Gcra({ ratePerSecond: 5, burst: 10 });
 * limit.tryAcquire(3); // granted: 7 left
 * ```
 */
export class Gcra extends RateLimiter {
  /** Sustained rate, units per second. */
  readonly ratePerSecond: number;
  /** Largest burst. */
  readonly burst: number;
  /** Emission interval T, ms per unit. */
  readonly emissionMs: number;
  /** Tolerance τ = burst × T, ms. */
  readonly toleranceMs: number;
  private tat = Number.NEGATIVE_INFINITY;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: GcraOptions) {
    const o = checkOptions('Gcra', options, GCRA_KEYS);
    const name = checkName('Gcra', o.name, 'gcra');
    const ratePerSecond = checkNumber(name, 'ratePerSecond', o.ratePerSecond, { min: 0, exclusiveMin: true });
    const burst = checkNumber(name, 'burst', o.burst, { min: 1, integer: true });
    super({ name, clock: o.clock, capacity: burst, queueLimit: o.queueLimit, maxStarvationMs: o.maxStarvationMs });
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    const { emissionMs, toleranceMs } = gcraParameters(ratePerSecond, burst);
    this.emissionMs = emissionMs;
    this.toleranceMs = toleranceMs;
  }

  /** The stored theoretical arrival time (clock ms; `-Infinity` before the first request). */
  get theoreticalArrivalTime(): number {
    return this.tat;
  }

  /** The hot path in one pass: one clock read, the GCRA comparison, the new TAT. */
  protected override tryTake(count: number): boolean {
    let now = this.clock.now();
    if (now > this.lastNow) this.lastNow = now;
    else now = this.lastNow;
    const tat = this.tat;
    const next = (tat > now ? tat : now) + (count === 0 ? 1 : count) * this.emissionMs;
    if (next - now > this.toleranceMs + UNIT_EPSILON * this.emissionMs) {
      this.refusedWaitMs = Math.ceil(next - this.toleranceMs - now);
      return false;
    }
    if (count !== 0) this.tat = next;
    return true;
  }

  protected canTakeAt(count: number, nowMs: number): boolean {
    return !Number.isNaN(gcraAdmit(this.tat, nowMs, count === 0 ? 1 : count, this.emissionMs, this.toleranceMs));
  }

  protected takeAt(count: number, nowMs: number): void {
    this.tat = gcraAdmit(this.tat, nowMs, count, this.emissionMs, Infinity);
  }

  protected waitMsAt(units: number, nowMs: number): number {
    return gcraWaitMs(this.tat, nowMs, units, this.emissionMs, this.toleranceMs);
  }

  protected availableAt(nowMs: number): number {
    return gcraAvailable(this.tat, nowMs, this.emissionMs, this.toleranceMs);
  }

  protected refundAt(count: number, nowMs: number): void {
    // moving the TAT back by count·T gives count units back; it never goes below now (a full bucket)
    this.tat = Math.max(nowMs, this.tat - count * this.emissionMs);
  }
}

/** Creates a {@link Gcra}. */
export function gcra(options: GcraOptions): Gcra {
  return new Gcra(options);
}
