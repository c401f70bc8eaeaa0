import {
  checkOptions,
  ReleaseOncePermit,
  GateBase,
  optionKeys,
  StoreUnavailableError,
  checkCount,
  checkName,
  checkNumber,
  type Clock,
  type Gate,
  type Outcome,
  type Permit,
  type Refusal,
  type TimerHandle,
  type TryAcquireOptions,
} from '@sluice/core';
import { STORE_DOWN, type StoreGuard } from './guard.js';

/** What a {@link RedisGate} needs from the limiter it belongs to (a `RedisRateLimiter`). */
export interface RemoteBudget {
  /** Name of the limiter. */
  readonly name: string;
  /** Largest count one request can take. */
  readonly capacity: number;
  /** Whether `take` can reserve a wait (GCRA) or only answers now (sliding window). */
  readonly reserves: boolean;
  /** The failure policy. */
  readonly guard: StoreGuard;
  /** Takes `count` for `key`, accepting a wait up to `acceptWaitMs` (-1: any; 0: none). */
  take(key: string, count: number, acceptWaitMs: number): Promise<RemoteDecision>;
  /** Gives back `count` units taken and not used (best effort). */
  refund(key: string, count: number): Promise<void>;
  /** The local limiter of `key` under the `insurance` policy. */
  insurance(key: string): Pick<Gate, 'tryAcquire'>;
  /**
   * False when each `take` must be one request (an LLM quota counts requests too): the gate then
   * asks for the head waiter's count only, never for several waiters at once. Default true.
   */
  readonly batches?: boolean;
  /**
   * Settles a released permit of `count` units: gives back what was not used (`NOT_RUN`: all of
   * it, once) and reconciles a reported cost or usage. Default: a `cost` below `count` (0 for
   * `NOT_RUN`) refunds the difference through {@link RemoteBudget.refund}.
   */
  settle?(key: string, count: number, outcome: Outcome): void;
}

/** One answer of {@link RemoteBudget.take}. */
export interface RemoteDecision {
  /** True when the units were taken (now, or reserved for after `waitMs`). */
  readonly admitted: boolean;
  /** Ms until the units are due (admitted), or until they would pass (refused). */
  readonly waitMs: number;
}

/** Options of {@link RedisGate} (through `RedisRateLimiter.gate(key, options)`). */
export interface RedisGateOptions {
  /** Name in refusals, errors and metrics; default `<limiter>:<key>`. */
  readonly name?: string;
  /** Most units that may wait in this process at once; default 1,000. 0: `acquire` never waits. */
  readonly queueLimit?: number;
}

/**
 * One key of a Redis rate limiter as a sluice `Gate`, to put in a `pipeline`, a stream's
 * `throttle`, `overloadProtection` — anywhere a gate goes.
 *
 * This process's waiters queue locally (priorities, FIFO, `queueLimit`, `maxWaitMs`, abort, all
 * as in every gate); the units come from Redis. For the waiting units the gate asks Redis, one
 * request in flight at a time: GCRA reserves them in time (one round trip, then a timer), a
 * sliding window retries at the server's hint. Units that come due go to the local queue in its
 * order (so a late urgent waiter is served before an earlier ordinary one, as in memory); units
 * nobody is waiting for any more go back to Redis.
 *
 * `tryAcquire` is synchronous, so it can only spend units this process already holds (rarely
 * any); {@link RedisGate.tryAcquireNow} is its authoritative form: one round trip, never waits.
 * A permit released as not run (`NOT_RUN`, `cost: 0`: a later pipeline stage refused, the
 * caller gave up before starting) gives its units back to Redis, exactly once; a `cost` below
 * the count gives back the difference. Otherwise a rate is spent, not given back.
 */
export class RedisGate extends GateBase {
  /** Largest count one request can take. */
  readonly capacity: number;
  /** Units granted by Redis and come due, not yet handed to a waiter. */
  private credit = 0;
  /** Units reserved in Redis whose time has not come yet. */
  private reserved = 0;
  /**
   * Of `credit`, the units the failure policy granted while Redis was down (fail-open or
   * insurance): Redis never counted them, so they are never given back to it.
   */
  private unbacked = 0;
  /** The unbacked units the last `tryTake` handed out, for the permit made right after it. */
  private takenUnbacked = 0;
  private inFlight = false;
  private readonly timers = new Set<TimerHandle>();
  private lastHintMs: number | undefined = undefined;

  /** Use `RedisRateLimiter.gate(key)`. @throws InvalidArgumentError for a bad option. */
  constructor(
    private readonly budget: RemoteBudget,
    private readonly key: string,
    clock: Clock,
    options: RedisGateOptions = {},
  ) {
    const name = checkName('RedisGate', options.name, `${budget.name}:${key}`);
    super({ name, clock, queueLimit: checkNumber(name, 'queueLimit', options.queueLimit ?? 1_000, { min: 0, integer: true }) });
    this.capacity = budget.capacity;
  }

  /**
   * The authoritative now-or-never: one round trip to Redis (unless this process already holds
   * the units). Resolves with a permit, or a refusal carrying the server's `retryAfterMs`. Never
   * overtakes this process's waiters. Counted in `stats()` like `tryAcquire`.
   *
   * @throws InvalidArgumentError / TooLargeError as `tryAcquire`.
   */
  async tryAcquireNow(count = 1, options?: TryAcquireOptions): Promise<Permit | Refusal> {
    checkCount(count, this.capacity, this.name);
    if (this.isClosed || this.waiterCount > 0 || count === 0 || this.credit >= count) return this.tryAcquire(count, options);
    const decision = await this.budget.guard.attempt(() => this.budget.take(this.key, count, 0));
    if (decision === STORE_DOWN) {
      this.fallbackUnits(count);
    } else if (decision.admitted) {
      this.credit += count;
    } else {
      this.lastHintMs = decision.waitMs;
    }
    const result = this.tryAcquire(count, options);
    this.lastHintMs = undefined;
    if (!result.granted) this.pump();
    return result;
  }

  protected tryTake(count: number): boolean {
    const need = count === 0 ? 1 : count;
    if (this.credit < need) return false;
    if (count > 0) {
      this.credit -= count;
      // unbacked units go first: they are the ones a NOT_RUN release must not hand to Redis
      const unbacked = this.unbacked < count ? this.unbacked : count;
      this.unbacked -= unbacked;
      this.takenUnbacked = unbacked;
    }
    return true;
  }

  /** A permit that remembers how many of its units Redis never counted. */
  protected override permitFor(count: number): Permit {
    const unbacked = this.takenUnbacked;
    this.takenUnbacked = 0;
    return unbacked === 0 ? super.permitFor(count) : new UnbackedPermit(this, count, unbacked);
  }

  /**
   * Settles a permit some of whose units came from the failure policy: only the units Redis
   * counted are reconciled with it; the others are simply dropped.
   * @internal
   */
  settleUnbacked(count: number, unbacked: number, outcome: Outcome | undefined): void {
    const backed = count - unbacked;
    if (backed > 0 && outcome !== undefined) {
      const cost = outcome.cost;
      this.onRelease(backed, cost === undefined ? outcome : { ...outcome, cost: Math.max(0, cost - unbacked) });
    }
  }

  protected availableUnits(): number {
    return this.credit;
  }

  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    if (outcome === undefined) return;
    if (this.budget.settle !== undefined) {
      this.budget.settle(this.key, count, outcome);
      return;
    }
    const cost = outcome.cost;
    if (cost === undefined || !(cost < count)) return;
    const back = count - Math.max(0, Math.ceil(cost));
    if (back > 0) void this.budget.refund(this.key, back).catch(() => {});
  }

  protected override retryAfterRefusalMs(): number | undefined {
    return this.lastHintMs;
  }

  protected override serve(): void {
    super.serve();
    this.pump();
  }

  protected override closeCore(): void {
    for (const timer of this.timers) this.clock.clearTimer(timer);
    this.timers.clear();
    const back = this.credit - this.unbacked + this.reserved;
    this.credit = 0;
    this.unbacked = 0;
    this.reserved = 0;
    if (back > 0) void this.budget.refund(this.key, back).catch(() => {});
  }

  /** Asks Redis for the units the queue waits for beyond what is held or reserved. */
  private pump(): void {
    if (this.isClosed || this.inFlight) return;
    const need = this.waitingUnits - this.credit - this.reserved;
    if (need <= 0) {
      if (this.waiterCount === 0 && this.credit > 0) {
        const back = this.credit - this.unbacked;
        this.credit = 0;
        this.unbacked = 0;
        if (back > 0) void this.budget.refund(this.key, back).catch(() => {});
      }
      return;
    }
    const head = this.queue.peek();
    if (head === undefined) return;
    // one request per take when the budget counts requests: never several waiters in one call
    const units = Math.min(need, this.budget.batches === false ? head.count : this.capacity);
    let accept = 0;
    if (this.budget.reserves) accept = head.deadline === Infinity ? -1 : Math.max(0, head.deadline - this.clock.now());
    this.inFlight = true;
    this.budget.guard
      .attempt(() => this.budget.take(this.key, units, accept))
      .then(
        (decision) => {
          this.inFlight = false;
          if (this.isClosed) {
            if (decision !== STORE_DOWN && decision.admitted) void this.budget.refund(this.key, units).catch(() => {});
            return;
          }
          if (decision === STORE_DOWN) {
            this.onStoreDown(units);
            return;
          }
          if (decision.admitted) {
            this.reserved += units;
            this.after(decision.waitMs, () => {
              this.reserved -= units;
              this.credit += units;
              this.serve();
            });
            this.pump();
            return;
          }
          if (this.budget.reserves) {
            // the head cannot be served within its maxWaitMs: refused now, as in memory
            const current = this.queue.peek();
            if (current !== undefined) this.dropWaiter(current, 'timeout', Math.ceil(decision.waitMs));
            this.pump();
            return;
          }
          this.after(decision.waitMs, () => this.pump());
        },
        (error: unknown) => {
          this.inFlight = false;
          const current = this.queue.peek();
          if (current !== undefined && !this.isClosed) this.dropWaiter(current, 'exhausted', undefined, error);
          this.pump();
        },
      );
  }

  private onStoreDown(units: number): void {
    const policy = this.budget.guard.policy;
    if (policy === 'fail-closed') {
      const head = this.queue.peek();
      const retryAfterMs = this.budget.guard.probeIntervalMs;
      if (head !== undefined)
        this.dropWaiter(head, 'exhausted', retryAfterMs, new StoreUnavailableError(this.name, 'the store did not answer', retryAfterMs));
      this.pump();
      return;
    }
    if (!this.fallbackUnits(units)) {
      this.after(this.budget.guard.probeIntervalMs, () => this.pump());
      return;
    }
    this.serve();
  }

  /** Units from the failure policy while Redis is down; false when insurance refused them. */
  private fallbackUnits(units: number): boolean {
    if (
      this.budget.guard.policy === 'fail-open' ||
      (this.budget.guard.policy === 'insurance' && this.budget.insurance(this.key).tryAcquire(units).granted)
    ) {
      this.credit += units;
      this.unbacked += units;
      return true;
    }
    return false;
  }

  private after(ms: number, action: () => void): void {
    if (!(ms > 0)) {
      action();
      return;
    }
    const timer = this.clock.setTimer(
      () => {
        this.timers.delete(timer);
        if (!this.isClosed) action();
      },
      ms,
      { keepAlive: this.waiterCount > 0 },
    );
    this.timers.add(timer);
  }
}

const REDIS_GATE_KEYS = optionKeys<RedisGateOptions>()({ name: true, queueLimit: true });

/** @internal Checks `gate()` options before a gate is made. */
export function checkGateOptions(where: string, options: unknown): RedisGateOptions {
  if (options === undefined) return {};
  return checkOptions(where, options as RedisGateOptions, REDIS_GATE_KEYS);
}

/** The permit of units the failure policy granted in part or whole; see {@link RedisGate.settleUnbacked}. */
class UnbackedPermit extends ReleaseOncePermit {
  constructor(
    private readonly owner: RedisGate,
    private readonly count: number,
    private readonly unbacked: number,
  ) {
    super(owner.name);
  }
  protected settle(outcome: Outcome | undefined): void {
    this.owner.settleUnbacked(this.count, this.unbacked, outcome);
  }
}
