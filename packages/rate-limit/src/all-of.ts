import { checkOptions, GateBase, InvalidArgumentError, checkName, checkNumber, optionKeys, type Clock, type Outcome } from '@sluice/core';
import { RateLimiter } from './rate-limiter.js';

/** Options of {@link AllOf}. */
export interface AllOfOptions {
  /** Name used in refusals and errors; default `"all-of"`. */
  readonly name?: string;
  /**
   * Time source of the composite. Default: the members' clock (they must share one; members on
   * different clocks need this set explicitly).
   */
  readonly clock?: Clock;
  /** Most units that may wait; default the smallest member capacity. */
  readonly queueLimit?: number;
  /** Anti-starvation age for priorities, in ms; default 10,000. */
  readonly maxStarvationMs?: number;
}

const ALL_OF_KEYS = optionKeys<AllOfOptions>()({ name: true, clock: true, queueLimit: true, maxStarvationMs: true });

/**
 * Several rate limits at once — say 4 per second **and** 60 per minute **and** 10,000 per day —
 * as one gate. A request passes only when every member can grant it, and then takes from all of
 * them at once; while it waits it holds nothing (chaining the limiters instead would take the
 * per-second token and then sit on it while the per-minute limit makes it wait, over-spending one
 * budget or wasting another). Its waiters queue here, FIFO by priority; its `retryAfterMs` is
 * the longest any member needs.
 *
 * Members are limiters from this package (`TokenBucket`, `Gcra`, `SlidingWindow`), on the same
 * clock as the composite. They may also be used on their own: the composite never overtakes a
 * member's own waiters. `close()` closes the members too.
 *
 * @example
 * ```ts
 * const api = allOf(
 *   new TokenBucket({ ratePerSecond: 4, burst: 4 }),
 *   new SlidingWindow({ limit: 60, windowMs: 60_000 }),
 *   new SlidingWindow({ limit: 10_000, windowMs: 86_400_000 }),
 * );
 * await api.acquire(1, { maxWaitMs: 5_000 });
 * ```
 */
export class AllOf extends GateBase {
  /** The smallest member capacity. */
  readonly capacity: number;
  /** The member limiters. */
  readonly members: readonly RateLimiter[];

  /** @throws InvalidArgumentError when a member is not a limiter of this package or appears twice, or for bad options. */
  constructor(members: readonly RateLimiter[], options: AllOfOptions = {}) {
    checkOptions('AllOf', options, ALL_OF_KEYS);
    const name = checkName('AllOf', options.name, 'all-of');
    if (!Array.isArray(members) || members.length === 0) {
      throw new InvalidArgumentError(name, 'members', 'a non-empty array of limiters', members);
    }
    members.forEach((member, index) => {
      if (!(member instanceof RateLimiter)) {
        throw new InvalidArgumentError(name, `members[${index}]`, 'a TokenBucket, Gcra or SlidingWindow', member);
      }
      if (members.indexOf(member) !== index) {
        throw new InvalidArgumentError(name, `members[${index}]`, 'a limiter not already in the composite', member);
      }
    });
    const capacity = members.reduce((min, member) => Math.min(min, member.capacity), Infinity);
    const queueLimit = checkNumber(name, 'queueLimit', options.queueLimit ?? capacity, { min: 0, integer: true });
    const clocks = new Set(members.map((member) => RateLimiter.clockOf(member)));
    if (options.clock === undefined && clocks.size > 1) {
      throw new InvalidArgumentError(name, 'clock', 'given when the members read different clocks', undefined);
    }
    super({ name, clock: options.clock ?? [...clocks][0], queueLimit, maxStarvationMs: options.maxStarvationMs });
    this.capacity = capacity;
    this.members = Object.freeze(members.slice());
  }

  /** Gives `count` back to every member (see `RateLimiter.refund`). */
  refund(count: number): void {
    for (const member of this.members) member.refund(count);
    this.serve();
  }

  /** Takes `count` more from every member, into debt if need be (see `RateLimiter.debit`). */
  debit(count: number): void {
    for (const member of this.members) member.debit(count);
  }

  protected tryTake(count: number): boolean {
    const now = this.clock.now();
    const members = this.members;
    for (let i = 0; i < members.length; i++) {
      if (!RateLimiter.canTakeNow(members[i] as RateLimiter, count, now)) return false;
    }
    if (count !== 0) for (let i = 0; i < members.length; i++) RateLimiter.takeNow(members[i] as RateLimiter, count, now);
    return true;
  }

  protected availableUnits(): number {
    let available = Infinity;
    for (const member of this.members) available = Math.min(available, member.available);
    return available;
  }

  protected override estimateWaitMs(count: number, unitsAhead: number): number {
    const now = this.clock.now();
    let wait = 0;
    for (const member of this.members) wait = Math.max(wait, RateLimiter.waitMsFor(member, count + unitsAhead, now));
    return wait;
  }

  /**
   * As each member's own permit: released as not run (`NOT_RUN`, `cost: 0`) it gives its units
   * back to every member, once, never above capacity, and serves the waiters that now fit; a
   * smaller `cost` gives back the difference, a larger one takes the extra from every member.
   */
  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    const cost = outcome?.cost;
    if (cost === undefined || cost === count || this.isClosed) return;
    const used = Math.ceil(cost);
    if (used < count) this.refund(count - used);
    else if (used > count) this.debit(used - count);
  }

  protected override closeCore(): void {
    for (const member of this.members) member.close();
  }
}

/** Composes limiters into an {@link AllOf}: `allOf(a, b, c)` or `allOf({ name, clock }, a, b, c)`. */
export function allOf(...members: RateLimiter[]): AllOf;
export function allOf(options: AllOfOptions, ...members: RateLimiter[]): AllOf;
export function allOf(...args: (RateLimiter | AllOfOptions)[]): AllOf {
  const first = args[0];
  if (first !== undefined && !(first instanceof RateLimiter)) return new AllOf(args.slice(1) as RateLimiter[], first);
  return new AllOf(args as RateLimiter[]);
}
