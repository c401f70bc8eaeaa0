import { checkNumber, checkOptions, optionKeys } from '@sluice/core';

/** Options of {@link EwmaRate}. */
export interface EwmaRateOptions {
  /** Smoothing window, ms: a step change in the rate shows 63 % of its size after one window; default 10,000. */
  readonly windowMs?: number;
}

const EWMA_RATE_KEYS = optionKeys<EwmaRateOptions>()({ windowMs: true });

/**
 * Events per second from a growing counter sampled at any times: an exponentially weighted
 * moving average whose weight follows the time between samples (`α = 1 − e^(−Δt / window)`), so
 * irregular sampling smooths the same as regular sampling. The first sample, and a counter that
 * went backwards (a reset), only set the baseline.
 *
 * @example
 * ```ts
 * const rate = new EwmaRate({ windowMs: 10_000 });
 * rate.observe(0, 0);
 * rate.observe(500, 1_000); // 500 events in a second
 * rate.perSecond; // ≈ 47.6 after one second of a 10 s window
 * ```
 */
export class EwmaRate {
  /** Smoothing window, ms. */
  readonly windowMs: number;
  private lastCount = Number.NaN;
  private lastAt = Number.NaN;
  private rate = 0;

  /** @throws InvalidArgumentError for a bad window. */
  constructor(options: EwmaRateOptions = {}) {
    const o = checkOptions('EwmaRate', options, EWMA_RATE_KEYS);
    this.windowMs = checkNumber('EwmaRate', 'windowMs', o.windowMs ?? 10_000, { min: 0, exclusiveMin: true });
  }

  /** The smoothed rate, events per second (0 before two samples). */
  get perSecond(): number {
    return this.rate;
  }

  /** Feeds the counter's value `total` read at monotonic time `nowMs`. */
  observe(total: number, nowMs: number): void {
    const elapsed = nowMs - this.lastAt;
    if (Number.isNaN(this.lastCount) || total < this.lastCount || !(elapsed >= 0)) {
      this.lastCount = total;
      this.lastAt = nowMs;
      return;
    }
    if (elapsed === 0) return;
    const instant = ((total - this.lastCount) * 1000) / elapsed;
    const alpha = 1 - Math.exp(-elapsed / this.windowMs);
    this.rate += alpha * (instant - this.rate);
    this.lastCount = total;
    this.lastAt = nowMs;
  }
}
