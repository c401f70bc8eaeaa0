import { GateBase, checkNumber, type Clock, type Outcome } from '@sluice/core';

/** Internal: what every limiter's constructor passes up. */
export interface RateLimiterInit {
  /** Name used in refusals, errors and metrics. */
  readonly name: string;
  /** Time source, or `undefined` for `systemClock`. */
  readonly clock: Clock | undefined;
  /** Largest count one request may ask for. */
  readonly capacity: number;
  /** Most units waiting, or `undefined` for the capacity. */
  readonly queueLimit: number | undefined;
  /** Anti-starvation age, or `undefined` for the default. */
  readonly maxStarvationMs: number | undefined;
}

/**
 * The base of the limiters in this package: a `GateBase` whose budget refills with time. A
 * subclass writes its arithmetic for a given instant (`canTakeAt`, `takeAt`, `waitMsAt`,
 * `availableAt`); this class reads the clock once per call, keeps time monotonic (a clock that
 * jumps backwards is treated as standing still), gives back the units of a permit released as
 * not run (`NOT_RUN`, `cost: 0`) or reconciles them to a released `cost` (units are otherwise
 * spent when granted, as providers count them), and exposes the member protocol `allOf`
 * composes.
 */
export abstract class RateLimiter extends GateBase {
  /** Largest count one request may ask for (`burst` or `limit`). */
  readonly capacity: number;
  /** The latest clock reading seen: time never runs backwards for the arithmetic. */
  protected lastNow: number;

  constructor(init: RateLimiterInit) {
    const queueLimit = checkNumber(init.name, 'queueLimit', init.queueLimit ?? init.capacity, { min: 0, integer: true });
    super({ name: init.name, clock: init.clock, queueLimit, maxStarvationMs: init.maxStarvationMs });
    this.capacity = init.capacity;
    this.lastNow = this.clock.now();
  }

  // ---- composition: what `allOf` uses to check all members before taking from any ----

  /**
   * True when `member` could grant `count` now without overtaking its own waiters.
   * @internal
   */
  static canTakeNow(member: RateLimiter, count: number, nowMs: number): boolean {
    return member.waiterCount === 0 && !member.isClosed && member.canTakeAt(count, member.monotonic(nowMs));
  }

  /**
   * Takes `count` from `member`; the caller checked {@link RateLimiter.canTakeNow}.
   * @internal
   */
  static takeNow(member: RateLimiter, count: number, nowMs: number): void {
    member.takeAt(count, member.monotonic(nowMs));
  }

  /**
   * The clock `member` reads.
   * @internal
   */
  static clockOf(member: RateLimiter): Clock {
    return member.clock;
  }

  /**
   * Milliseconds until `member` could grant `count`, behind its own waiters.
   * @internal
   */
  static waitMsFor(member: RateLimiter, count: number, nowMs: number): number {
    return member.waitMsAt(count + member.waitingUnits, member.monotonic(nowMs));
  }

  // ---- the arithmetic a subclass writes, at a given (monotonic) instant ----

  /** True when `count` units (with `count` 0: one unit) are available at `nowMs`. Mutates nothing but caches. */
  protected abstract canTakeAt(count: number, nowMs: number): boolean;
  /** Takes `count` units at `nowMs`; the caller checked `canTakeAt`. */
  protected abstract takeAt(count: number, nowMs: number): void;
  /** Milliseconds from `nowMs` until `units` units are available (0 when they are now). */
  protected abstract waitMsAt(units: number, nowMs: number): number;
  /** Whole units available at `nowMs`. */
  protected abstract availableAt(nowMs: number): number;
  /** Gives back up to `count` units at `nowMs`, never above capacity. */
  protected abstract refundAt(count: number, nowMs: number): void;

  // ---- GateBase ----

  protected tryTake(count: number): boolean {
    const now = this.monotonic(this.clock.now());
    if (!this.canTakeAt(count, now)) return false;
    if (count !== 0) this.takeAt(count, now);
    return true;
  }

  protected availableUnits(): number {
    return this.availableAt(this.monotonic(this.clock.now()));
  }

  protected override estimateWaitMs(count: number, unitsAhead: number): number {
    return this.waitMsAt(count + unitsAhead, this.monotonic(this.clock.now()));
  }

  /**
   * Whole ms until the request `tryTake` just refused would fit, set by the limiters' one-pass
   * `tryTake` when it refuses (nobody is queued then), so a refusal does its arithmetic once.
   */
  protected refusedWaitMs = 0;

  /** The wait the refusing `tryTake` recorded, or computed at its clock reading: one clock read per refusal. */
  protected override retryAfterRefusalMs(count: number, unitsAhead: number): number {
    return unitsAhead === 0 ? this.refusedWaitMs : this.waitMsAt(count + unitsAhead, this.lastNow);
  }

  /**
   * A permit released as not run (`NOT_RUN`, or any outcome with `cost: 0`: a later pipeline
   * stage refused, the caller gave up before the work started) gives its units back, once,
   * never above capacity, and serves the waiters that now fit. An outcome with a smaller `cost`
   * gives back the difference; a larger one takes the extra (a debt later requests wait out).
   * Any other outcome keeps the units spent, as providers count them.
   */
  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    const cost = outcome?.cost;
    if (cost === undefined || cost === count || this.isClosed) return;
    const used = Math.ceil(cost);
    const now = this.monotonic(this.clock.now());
    if (used < count) {
      this.refundAt(count - used, now);
      this.serve();
    } else if (used > count) {
      this.debitAt(used - count, now);
    }
  }

  // ---- public ----

  /** Whole units available now (the seed's `availableTokens`). */
  get available(): number {
    return this.availableUnits();
  }

  /**
   * Gives back units that were granted but not used (a reservation that turned out smaller, a
   * request that was cancelled downstream), never above capacity, and serves waiters that now
   * fit. Refunding what was used over-admits: only refund what did not happen.
   *
   * @param count - units to give back, an integer ≥ 0.
   */
  refund(count: number): void {
    checkNumber(this.name, 'count', count, { min: 0, integer: true });
    if (count === 0 || this.isClosed) return;
    this.refundAt(count, this.monotonic(this.clock.now()));
    this.serve();
  }

  /**
   * Takes `count` more units now whether or not they are available: work that turned out to
   * cost more than it reserved. The limiter may go into debt (a token bucket below zero, a GCRA
   * arrival time further ahead), which later requests wait out; it never refuses.
   *
   * @param count - units to take, an integer ≥ 0.
   */
  debit(count: number): void {
    checkNumber(this.name, 'count', count, { min: 0, integer: true });
    if (count === 0 || this.isClosed) return;
    this.debitAt(count, this.monotonic(this.clock.now()));
  }

  /** Takes `count` units at `nowMs` even past zero; default {@link RateLimiter.takeAt}, for limiters whose state has no floor. */
  protected debitAt(count: number, nowMs: number): void {
    this.takeAt(count, nowMs);
  }

  /** Clamps a clock reading so arithmetic time never runs backwards. */
  protected monotonic(nowMs: number): number {
    if (nowMs > this.lastNow) this.lastNow = nowMs;
    return this.lastNow;
  }
}
