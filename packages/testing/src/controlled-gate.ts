import { GateBase, checkName, checkNumber, checkOptions, optionKeys, type Clock, type Outcome, type RefusalReason } from '@sluice/core';

/** Options of {@link ControlledGate}. */
export interface ControlledGateOptions {
  /** Name used in refusals; default `"controlled"`. */
  readonly name?: string;
  /** Time source; pass the test's `VirtualClock`. Default `systemClock`. */
  readonly clock?: Clock;
  /** Units it holds when full, and the largest count one request may ask for. Required. */
  readonly capacity: number;
  /** Units available at creation; default `capacity`. */
  readonly initial?: number;
  /** Most units that may wait; default 1,000. */
  readonly queueLimit?: number;
  /** Continuous refill in units per second, up to `capacity` (rate-like); default 0. */
  readonly refillPerSecond?: number;
  /** Whether a released permit gives its units back (semaphore-like); default `true`. */
  readonly returnOnRelease?: boolean;
  /** Anti-starvation age for priorities, in ms; default 10,000. */
  readonly maxStarvationMs?: number;
}

/** A released permit as a {@link ControlledGate} saw it. */
export interface ReleaseRecord {
  /** Units the permit held. */
  readonly count: number;
  /** The outcome it was released with (`undefined` when released without one). */
  readonly outcome: Outcome | undefined;
}

const CONTROLLED_GATE_KEYS = optionKeys<ControlledGateOptions>()({
  name: true,
  clock: true,
  capacity: true,
  initial: true,
  queueLimit: true,
  refillPerSecond: true,
  returnOnRelease: true,
  maxStarvationMs: true,
});

/**
 * A gate whose budget a test controls: a semaphore by default (releases give units back), a
 * rate gate with `refillPerSecond`, and a gate that refuses with any reason on demand
 * ({@link ControlledGate.refuseWith}) — enough to stand in for a breaker, a shedder or a limiter
 * when testing a pipeline or your own composition. It records every release with its outcome.
 *
 * It passes the same contract suite as the real gates.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const upstream = new ControlledGate({ capacity: 2, clock, name: 'upstream' });
 * const gate = pipeline({ clock }, new ControlledGate({ capacity: 10, clock }), upstream);
 * upstream.refuseWith('circuit-open', 5_000);
 * gate.tryAcquire(); // { granted: false, reason: 'circuit-open', gate: 'upstream', retryAfterMs: 5000 }
 * ```
 */
export class ControlledGate extends GateBase {
  readonly capacity: number;
  /** Every release so far, in order. */
  readonly releases: ReleaseRecord[] = [];

  private units: number;
  private readonly refillPerMs: number;
  private readonly returnOnRelease: boolean;
  private lastRefill: number;
  private forced: { reason: RefusalReason; retryAfterMs: number | undefined } | undefined;

  constructor(options: ControlledGateOptions) {
    const o = checkOptions('ControlledGate', options, CONTROLLED_GATE_KEYS);
    const name = checkName('ControlledGate', o.name, 'controlled');
    super({
      name,
      clock: o.clock,
      queueLimit: o.queueLimit ?? 1_000,
      maxStarvationMs: o.maxStarvationMs,
    });
    this.capacity = checkNumber(name, 'capacity', o.capacity, { min: 1, integer: true });
    this.units = checkNumber(name, 'initial', o.initial ?? this.capacity, { min: 0, max: this.capacity });
    this.refillPerMs = checkNumber(name, 'refillPerSecond', o.refillPerSecond ?? 0, { min: 0 }) / 1000;
    this.returnOnRelease = o.returnOnRelease ?? true;
    this.lastRefill = this.clock.now();
  }

  /** Units available now (refilled up to the current time). */
  get available(): number {
    this.refill();
    return this.units;
  }

  /** Adds `count` units (up to capacity) and serves waiters. */
  give(count: number): void {
    checkNumber(this.name, 'count', count, { min: 0 });
    this.refill();
    this.units = Math.min(this.capacity, this.units + count);
    this.serve();
  }

  /**
   * From now on refuses every request with `reason` (and `retryAfterMs`), as a breaker or
   * shedder would; `exhausted` makes requests wait instead.
   */
  refuseWith(reason: RefusalReason, retryAfterMs?: number): void {
    this.forced = { reason, retryAfterMs };
  }

  /** Stops refusing (undoes {@link ControlledGate.refuseWith}) and serves waiters. */
  allow(): void {
    this.forced = undefined;
    this.serve();
  }

  protected tryTake(count: number): boolean {
    if (this.forced !== undefined) return false;
    this.refill();
    if (this.units < Math.max(count, 1)) return false;
    this.units -= count;
    return true;
  }

  protected availableUnits(): number {
    return this.available;
  }

  protected override refusalReason(): RefusalReason {
    return this.forced?.reason ?? 'exhausted';
  }

  protected override estimateWaitMs(count: number, unitsAhead: number): number | undefined {
    if (this.forced !== undefined) return this.forced.retryAfterMs;
    if (this.refillPerMs === 0) return undefined;
    this.refill();
    const deficit = count + unitsAhead - this.units;
    return deficit <= 0 ? 0 : deficit / this.refillPerMs;
  }

  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    this.releases.push({ count, outcome });
    if (this.returnOnRelease) {
      this.units = Math.min(this.capacity, this.units + count);
      this.serve();
    }
  }

  private refill(): void {
    const now = this.clock.now();
    if (this.refillPerMs > 0 && now > this.lastRefill) {
      this.units = Math.min(this.capacity, this.units + (now - this.lastRefill) * this.refillPerMs);
    }
    if (now > this.lastRefill) this.lastRefill = now;
  }
}
