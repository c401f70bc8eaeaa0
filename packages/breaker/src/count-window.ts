import { checkNumber, checkOptions, optionKeys } from '@sluice/core';
import { MAX_COUNT_WINDOW_SIZE, type CountWindowOptions } from './options.js';
import type { FailureRateTripReason, TripCounter, TripSnapshot, TripStrategy } from './trip-strategy.js';

/** The strategy {@link countWindow} makes: its options, checked. */
export interface CountWindowStrategy extends TripStrategy {
  /** Always `failure-rate`. */
  readonly rule: 'failure-rate';
  /** Outcomes in the window. */
  readonly size: number;
  /** Failure rate (0 < rate ≤ 1) at or above which the breaker opens. */
  readonly failureRate: number;
  /** Outcomes needed before the rate is judged, as configured. */
  readonly minimumCalls: number;
}

/**
 * The last `size` outcomes of one breaker, in a ring of bytes (1 = failure), with running
 * totals: recording and judging are O(1) whatever the size. Reads no clock.
 */
class CountWindowCounter implements TripCounter {
  readonly needsTime = false;
  private readonly ring: Uint8Array;
  private next = 0;
  private calls = 0;
  private failures = 0;
  /** min(minimumCalls, size): a window can never hold more than `size` outcomes. */
  private readonly minimumCalls: number;

  constructor(
    private readonly size: number,
    private readonly threshold: number,
    minimumCalls: number,
  ) {
    this.ring = new Uint8Array(size);
    this.minimumCalls = Math.min(minimumCalls, size);
  }

  record(failed: boolean): FailureRateTripReason | undefined {
    const slot = this.next;
    if (this.calls === this.size)
      this.failures -= this.ring[slot] as number; // the oldest outcome leaves
    else this.calls++;
    const bit = failed ? 1 : 0;
    this.ring[slot] = bit;
    this.failures += bit;
    this.next = slot + 1 === this.size ? 0 : slot + 1;
    if (this.calls < this.minimumCalls || this.failures === 0) return undefined;
    const rate = this.failures / this.calls;
    if (rate < this.threshold) return undefined;
    return { rule: 'failure-rate', rate, calls: this.calls, failures: this.failures, threshold: this.threshold };
  }

  reset(): void {
    this.ring.fill(0);
    this.next = 0;
    this.calls = 0;
    this.failures = 0;
  }

  snapshot(): TripSnapshot {
    return {
      calls: this.calls,
      failures: this.failures,
      failureRate: this.calls < this.minimumCalls ? undefined : this.failures / this.calls,
    };
  }
}

const COUNT_WINDOW_KEYS = optionKeys<CountWindowOptions>()({ size: true, failureRate: true, minimumCalls: true });

/**
 * Opens the breaker when, among the last `size` outcomes, the share of failures reaches
 * `failureRate` — judged only once at least `minimumCalls` outcomes were seen (the effective
 * minimum is `min(minimumCalls, size)`). Below the minimum the rate is undefined and nothing
 * happens, so a quiet period with two calls, one failed, does not open a breaker set to 50 %.
 *
 * Resilience4j's COUNT_BASED sliding window: a ring of the last N outcomes with running totals,
 * so each call costs O(1) and `size` bytes are held per breaker. Opens when rate ≥ threshold
 * (Resilience4j's `≥`, not opossum's strict `>`); a success that brings the window to its
 * minimum can open it too. The counts start empty each time the breaker closes.
 *
 * Choose it when traffic is steady enough that "the last N calls" is recent; for bursty traffic,
 * where the last N calls may be an hour old, prefer {@link timeWindow}.
 *
 * @param options - `size` (outcomes in the window: an integer from 1 to 1,000,000),
 *   `failureRate` (rate at or above which it opens: a number > 0 and ≤ 1; 0.5 = 50 %),
 *   `minimumCalls` (outcomes needed before the rate is judged: an integer ≥ 1). All required.
 * @throws InvalidArgumentError naming the bad option.
 *
 * @example
 * ```ts
 * // Open when half of the last 20 calls failed, judged from the 10th call on.
 * const trip = countWindow({ size: 20, failureRate: 0.5, minimumCalls: 10 });
 * ```
 */
export function countWindow(options: CountWindowOptions): CountWindowStrategy {
  const o = checkOptions('countWindow', options, COUNT_WINDOW_KEYS);
  const size = checkNumber('countWindow', 'size', o.size, { min: 1, max: MAX_COUNT_WINDOW_SIZE, integer: true });
  const failureRate = checkNumber('countWindow', 'failureRate', o.failureRate, { min: 0, exclusiveMin: true, max: 1 });
  const minimumCalls = checkNumber('countWindow', 'minimumCalls', o.minimumCalls, { min: 1, integer: true });
  return Object.freeze({
    rule: 'failure-rate' as const,
    size,
    failureRate,
    minimumCalls,
    create: (): TripCounter => new CountWindowCounter(size, failureRate, minimumCalls),
  });
}
