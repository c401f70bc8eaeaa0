import { checkNumber, checkOneOf, checkOptions, optionKeys } from '@sluice/core';

/** Which rule moves an adaptive limit. */
export type AdaptiveAlgorithm = 'gradient' | 'aimd';

/**
 * Options of an adaptive limit: instead of a guessed constant, the concurrency limit follows
 * measured latency, so the pool settles near Little's law (concurrency ≈ throughput × latency)
 * for whatever the backend can currently do.
 */
export interface AdaptiveLimitOptions {
  /**
   * `gradient` (default): compares each window's mean latency with the no-load latency (the
   * fastest request seen, re-measured at low concurrency every `probeWindows` windows) and shrinks the limit in
   * proportion to the queueing that reveals, after Envoy's and Netflix's gradient limiters:
   * `gradient = clamp(tolerance × noLoadLatency / windowLatency, 0.5, 1)`,
   * `next = limit × gradient + headroom`, smoothed by `smoothing`. It settles where
   * `limit = tolerance × noLoadLatency / latency × limit + headroom`, a little above the
   * concurrency the backend can serve without queueing (Little's law: throughput × latency).
   * `aimd`: additive increase, multiplicative decrease: a window with a failure or a latency
   * above `timeoutMs` multiplies the limit by `backoffRatio`; a window that used at least half
   * the limit adds one.
   */
  readonly algorithm?: AdaptiveAlgorithm;
  /** Lowest limit; default 1. */
  readonly minLimit?: number;
  /** Highest limit (and the largest count one request may ask for); default 10 × the initial limit. */
  readonly maxLimit?: number;
  /** Samples are aggregated per window of this many ms; default 1,000. */
  readonly windowMs?: number;
  /** A window needs at least this many samples before it moves the limit; default 10. */
  readonly minSamples?: number;
  /**
   * Start by doubling the limit every window while latency shows no queueing, until the first
   * decrease (like TCP slow start); default `true`. Reaches a large right size in a few windows
   * instead of one step per window.
   */
  readonly slowStart?: boolean;
  /** gradient: latency may reach this multiple of the long-term average before the limit shrinks; default 1.5. */
  readonly tolerance?: number;
  /** gradient: weight of a new estimate against the current limit, (0, 1]; default 0.2. */
  readonly smoothing?: number;
  /** gradient: slots added on top of `limit × gradient`, so the limit can probe upwards; default 4. */
  readonly headroom?: number;
  /**
   * gradient: every this many windows, one window runs at `minLimit` to re-measure the no-load
   * latency (its fastest request), so a backend that became slower for good is not mistaken for
   * a queue, and a queue is not mistaken for a slower backend (as Envoy does). Costs one window
   * of reduced concurrency per probe; default 120. `Infinity`: never re-probe.
   */
  readonly probeWindows?: number;
  /** aimd: multiplier on a bad window, [0.5, 1); default 0.9. */
  readonly backoffRatio?: number;
  /** aimd: a latency above this (ms) counts as a failure; default `Infinity`. */
  readonly timeoutMs?: number;
}

/** One window's aggregate, what the algorithms look at. */
interface WindowSample {
  readonly meanLatencyMs: number;
  readonly minLatencyMs: number;
  readonly maxInFlight: number;
  readonly dropped: boolean;
}

/** Why the limit moved, for `onLimitChange` listeners. */
export interface LimitChange {
  /** The limit before. */
  readonly from: number;
  /** The limit after. */
  readonly to: number;
  /** Mean latency of the window that moved it, ms. */
  readonly windowLatencyMs: number;
  /** The no-load latency the window was compared with, ms (gradient). */
  readonly noLoadLatencyMs: number;
}

const ADAPTIVE_KEYS = optionKeys<AdaptiveLimitOptions>()({
  algorithm: true,
  minLimit: true,
  maxLimit: true,
  windowMs: true,
  minSamples: true,
  slowStart: true,
  tolerance: true,
  smoothing: true,
  headroom: true,
  probeWindows: true,
  backoffRatio: true,
  timeoutMs: true,
});

/**
 * The adaptive limit's state machine: feed it outcomes (latency, failure, in-flight at release)
 * and the clock; it answers with a new limit at the end of each window. Pure bookkeeping: no
 * timers, no clock of its own.
 */
export class AdaptiveLimit {
  /** The rule in use. */
  readonly algorithm: AdaptiveAlgorithm;
  /** Lowest limit. */
  readonly minLimit: number;
  /** Highest limit. */
  readonly maxLimit: number;
  private readonly windowMs: number;
  private readonly minSamples: number;
  private readonly tolerance: number;
  private readonly smoothing: number;
  private readonly headroom: number;
  private readonly probeWindows: number;
  private readonly backoffRatio: number;
  private readonly timeoutMs: number;
  private slowStart: boolean;

  private windowStart = Number.NEGATIVE_INFINITY;
  private sum = 0;
  private samples = 0;
  private min = Infinity;
  private maxInFlight = 0;
  private dropped = false;
  private noLoad = Infinity;
  private windowsSinceProbe = 0;
  private probing = false;
  private limitBeforeProbe = 0;

  constructor(where: string, initialLimit: number, options: AdaptiveLimitOptions) {
    const o = checkOptions(where, options, ADAPTIVE_KEYS, 'adaptive.');
    this.algorithm = checkOneOf(where, 'adaptive.algorithm', o.algorithm ?? 'gradient', ['gradient', 'aimd']);
    this.minLimit = checkNumber(where, 'adaptive.minLimit', o.minLimit ?? 1, { min: 1, integer: true });
    this.maxLimit = checkNumber(where, 'adaptive.maxLimit', o.maxLimit ?? Math.max(initialLimit * 10, this.minLimit), {
      min: Math.max(this.minLimit, initialLimit),
      integer: true,
    });
    if (initialLimit < this.minLimit) {
      checkNumber(where, 'maxConcurrent', initialLimit, { min: this.minLimit, max: this.maxLimit, integer: true });
    }
    this.windowMs = checkNumber(where, 'adaptive.windowMs', o.windowMs ?? 1_000, { min: 0, exclusiveMin: true });
    this.minSamples = checkNumber(where, 'adaptive.minSamples', o.minSamples ?? 10, { min: 1, integer: true });
    this.slowStart = o.slowStart ?? true;
    this.tolerance = checkNumber(where, 'adaptive.tolerance', o.tolerance ?? 1.5, { min: 1 });
    this.smoothing = checkNumber(where, 'adaptive.smoothing', o.smoothing ?? 0.2, { min: 0, exclusiveMin: true, max: 1 });
    this.headroom = checkNumber(where, 'adaptive.headroom', o.headroom ?? 4, { min: 0 });
    this.probeWindows = checkNumber(where, 'adaptive.probeWindows', o.probeWindows ?? 120, { min: 2, integer: true, allowInfinity: true });
    this.backoffRatio = checkNumber(where, 'adaptive.backoffRatio', o.backoffRatio ?? 0.9, { min: 0.5, max: 0.999 });
    this.timeoutMs = checkNumber(where, 'adaptive.timeoutMs', o.timeoutMs ?? Infinity, { min: 0, exclusiveMin: true, allowInfinity: true });
  }

  /** The no-load latency the gradient compares with, ms (`Infinity` before the first window). */
  get noLoadLatencyMs(): number {
    return this.noLoad;
  }

  /** Mean latency of the last closed window, ms (NaN before the first). */
  lastWindowLatencyMs = Number.NaN;

  /**
   * Records one outcome; returns the new limit when this sample closed a window that moves it,
   * else `undefined`. `ok` false is a drop (a failure); latency is ignored for it.
   */
  record(nowMs: number, latencyMs: number, ok: boolean, inFlight: number, limit: number): number | undefined {
    if (nowMs - this.windowStart >= this.windowMs && this.samples >= this.minSamples) {
      const closing: WindowSample = {
        meanLatencyMs: this.sum / this.samples,
        minLatencyMs: this.min,
        maxInFlight: this.maxInFlight,
        dropped: this.dropped,
      };
      this.startWindow(nowMs);
      this.note(latencyMs, ok, inFlight);
      return this.update(closing, limit);
    }
    if (this.windowStart === Number.NEGATIVE_INFINITY) this.startWindow(nowMs);
    this.note(latencyMs, ok, inFlight);
    return undefined;
  }

  private startWindow(nowMs: number): void {
    this.windowStart = nowMs;
    this.sum = 0;
    this.samples = 0;
    this.min = Infinity;
    this.maxInFlight = 0;
    this.dropped = false;
  }

  private note(latencyMs: number, ok: boolean, inFlight: number): void {
    if (inFlight > this.maxInFlight) this.maxInFlight = inFlight;
    if (!ok || latencyMs > this.timeoutMs) {
      this.dropped = true;
      if (!ok) return;
    }
    this.sum += latencyMs;
    this.samples++;
    if (latencyMs < this.min) this.min = latencyMs;
  }

  private update(window: WindowSample, limit: number): number | undefined {
    this.lastWindowLatencyMs = window.meanLatencyMs;
    const next = this.algorithm === 'aimd' ? this.aimd(window, limit) : this.gradient(window, limit);
    const clamped = Math.min(this.maxLimit, Math.max(this.minLimit, Math.round(next)));
    return clamped === limit ? undefined : clamped;
  }

  private aimd(window: WindowSample, limit: number): number {
    if (window.dropped) {
      this.slowStart = false;
      return Math.floor(limit * this.backoffRatio);
    }
    if (window.maxInFlight * 2 < limit) return limit; // the pool was not the bottleneck
    return this.slowStart ? limit * 2 : limit + 1;
  }

  /** True while a probe window runs at `minLimit`. */
  get isProbing(): boolean {
    return this.probing;
  }

  private gradient(window: WindowSample, limit: number): number {
    if (this.probing) {
      // a window at minimum concurrency: its fastest request is the no-load latency
      this.probing = false;
      this.noLoad = window.minLatencyMs;
      return this.limitBeforeProbe;
    }
    if (window.minLatencyMs < this.noLoad) this.noLoad = window.minLatencyMs;
    const next = this.gradientStep(window, limit);
    if (++this.windowsSinceProbe >= this.probeWindows && !this.slowStart) {
      this.windowsSinceProbe = 0;
      this.probing = true;
      this.limitBeforeProbe = next;
      return this.minLimit;
    }
    return next;
  }

  private gradientStep(window: WindowSample, limit: number): number {
    if (window.maxInFlight * 2 < limit) return limit; // the pool was not the bottleneck: no signal
    const gradient = Math.min(1, Math.max(0.5, (this.tolerance * this.noLoad) / window.meanLatencyMs));
    if (this.slowStart) {
      if (gradient >= 1) return limit * 2;
      this.slowStart = false;
    }
    const estimate = limit * gradient + this.headroom;
    return limit * (1 - this.smoothing) + estimate * this.smoothing;
  }
}
