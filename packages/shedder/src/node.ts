import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import {
  InvalidArgumentError,
  checkNumber,
  checkOptions,
  systemClock,
  optionKeys,
  type Clock,
  type TimerHandle,
  checkClock,
} from '@sluice/core';
import type { LoadSignal } from './options.js';

/** Options of {@link eventLoopLag}. */
export interface EventLoopLagOptions {
  /** Event-loop lag, ms, that counts as fully saturated (value 1); default 100. */
  readonly saturatedMs?: number;
  /** Percentile of the window's lag samples that is reported, 1–100; default 90. */
  readonly percentile?: number;
  /** How often the value is recomputed from the samples of the window just ended, ms; default 500. */
  readonly windowMs?: number;
  /** How often the runtime samples the loop, ms; default 10. */
  readonly resolutionMs?: number;
  /**
   * Clock that times the windows; default `systemClock`. (The samples themselves are always the
   * runtime's real event-loop delays.)
   */
  readonly clock?: Clock;
}

/** A {@link LoadSignal} fed by the Node event loop's delay histogram; see {@link eventLoopLag}. */
export interface EventLoopLagSignal extends LoadSignal {
  /** Lag, ms, measured in the last complete window (the chosen percentile, sampling interval removed). */
  readonly lagMs: number;
  /** Stops sampling and the window timer; `value` stays 0 afterwards. Idempotent. */
  close(): void;
}

const EVENT_LOOP_LAG_KEYS = optionKeys<EventLoopLagOptions>()({
  saturatedMs: true,
  percentile: true,
  windowMs: true,
  resolutionMs: true,
  clock: true,
});

/**
 * A load signal from event-loop lag, for a `LoadShedder`'s `signals`: when the process is
 * CPU-saturated its timers fire late, and the shedder sheds instead of letting every request
 * time out.
 *
 * Every `windowMs` it takes the `percentile` of the runtime's event-loop delay samples
 * (`perf_hooks.monitorEventLoopDelay`, sampled every `resolutionMs`), subtracts the sampling
 * interval itself, and reports `value = lag / saturatedMs`, capped at 1. So with the default
 * levels and `saturatedMs: 100`, a loop lagging 90 ms sheds `low`, 95 ms `normal`, 98 ms `high`.
 * The window timer does not keep the process alive. Call `close()` when done.
 *
 * Node only: import it from `@sluice/shedder/node`.
 *
 * @example
 * ```ts
 * const lag = eventLoopLag({ saturatedMs: 200 });
 * const shedder = new LoadShedder({ capacity: 500, signals: [lag] });
 * ```
 */
export function eventLoopLag(options: EventLoopLagOptions = {}): EventLoopLagSignal {
  const o = checkOptions('eventLoopLag', options, EVENT_LOOP_LAG_KEYS);
  const saturatedMs = checkNumber('eventLoopLag', 'saturatedMs', o.saturatedMs ?? 100, { min: 0, exclusiveMin: true });
  const percentile = checkNumber('eventLoopLag', 'percentile', o.percentile ?? 90, { min: 1, max: 100 });
  const windowMs = checkNumber('eventLoopLag', 'windowMs', o.windowMs ?? 500, { min: 1 });
  const resolutionMs = checkNumber('eventLoopLag', 'resolutionMs', o.resolutionMs ?? 10, { min: 1, integer: true });
  if (windowMs < 2 * resolutionMs) {
    throw new InvalidArgumentError('eventLoopLag', 'windowMs', `at least 2 × resolutionMs (${2 * resolutionMs})`, windowMs);
  }
  return new LagSignal(checkClock('eventLoopLag', o.clock) ?? systemClock, saturatedMs, percentile, windowMs, resolutionMs);
}

class LagSignal implements EventLoopLagSignal {
  value = 0;
  lagMs = 0;
  private histogram: IntervalHistogram | undefined;
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly saturatedMs: number,
    private readonly percentile: number,
    private readonly windowMs: number,
    private readonly resolutionMs: number,
  ) {
    this.histogram = monitorEventLoopDelay({ resolution: resolutionMs });
    this.histogram.enable();
    this.arm();
  }

  close(): void {
    if (this.histogram === undefined) return;
    this.histogram.disable();
    this.histogram = undefined;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.value = 0;
    this.lagMs = 0;
  }

  private arm(): void {
    this.timer = this.clock.setTimer(() => this.sample(), this.windowMs);
  }

  private sample(): void {
    const histogram = this.histogram;
    if (histogram === undefined) return;
    if (histogram.count > 0) {
      const lag = histogram.percentile(this.percentile) / 1e6 - this.resolutionMs;
      this.lagMs = lag > 0 ? lag : 0;
      const value = this.lagMs / this.saturatedMs;
      this.value = value > 1 ? 1 : value;
    }
    histogram.reset();
    this.arm();
  }
}
