import { checkNumber } from '@sluice/core';
import type { ConsecutiveTripReason, TripCounter, TripSnapshot, TripStrategy } from './trip-strategy.js';

/** The strategy {@link consecutiveFailures} makes. */
export interface ConsecutiveFailuresStrategy extends TripStrategy {
  /** Always `consecutive`. */
  readonly rule: 'consecutive';
  /** Failures in a row that open the breaker. */
  readonly threshold: number;
}

/** The run of failures of one breaker. Reads no clock. */
class ConsecutiveCounter implements TripCounter {
  readonly needsTime = false;
  private failures = 0;

  constructor(private readonly threshold: number) {}

  record(failed: boolean): ConsecutiveTripReason | undefined {
    if (!failed) {
      this.failures = 0;
      return undefined;
    }
    if (++this.failures < this.threshold) return undefined;
    return { rule: 'consecutive', failures: this.failures, threshold: this.threshold };
  }

  reset(): void {
    this.failures = 0;
  }

  snapshot(): TripSnapshot {
    return { calls: this.failures, failures: this.failures, failureRate: undefined };
  }
}

/**
 * Opens the breaker after `threshold` failures in a row; any success starts the count again.
 *
 * The cheapest rule (one integer per breaker, no clock) and the right one for a dependency that
 * is either up or down. It never judges a rate, so one success among many failures keeps the
 * breaker closed: for flaky dependencies prefer {@link countWindow} or {@link timeWindow}.
 * Equivalent to cockatiel's `ConsecutiveBreaker(threshold)`.
 *
 * @param threshold - failures in a row that open the breaker: an integer ≥ 1 (1 opens on the
 *   first failure).
 * @throws InvalidArgumentError when `threshold` is not an integer ≥ 1.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ trip: consecutiveFailures(5), halfOpenAfterMs: 10_000 });
 * ```
 */
export function consecutiveFailures(threshold: number): ConsecutiveFailuresStrategy {
  const checked = checkNumber('consecutiveFailures', 'threshold', threshold, { min: 1, integer: true });
  return Object.freeze({
    rule: 'consecutive' as const,
    threshold: checked,
    create: (): TripCounter => new ConsecutiveCounter(checked),
  });
}
