import { KEEP_ALIVE, systemClock, type Clock, type TimerHandle } from './clock.js';
import { ClosedError, InvalidArgumentError, LimitExceededError, QueueFullError, WaitTimeoutError, refusalError } from './errors.js';
import { Emitter, type Disposer } from './events.js';
import {
  ACQUIRE_NOW,
  type AcquireNow,
  type AcquireOptions,
  type AdmitListener,
  type FairnessKey,
  type Gate,
  type GateStats,
  type Outcome,
  type Permit,
  type RefusalReason,
  type RefuseListener,
  type Refusal,
  type RunContext,
  type RunOptions,
  type TryAcquireOptions,
} from './gate.js';
import { runWithGate } from './run.js';
import {
  checkAcquireOptions,
  checkClock,
  checkCount,
  checkFunction,
  checkKey,
  checkNumber,
  checkOptions,
  checkOutcome,
  checkTryAcquireOptions,
  optionKeys,
  optionalNumber,
} from './validate.js';
import { WaiterQueue, type LeaveReason, type QueuedWaiter } from './waiter-queue.js';

/** Options every {@link GateBase} subclass passes up. */
export interface GateBaseOptions {
  /** Name used in refusals, errors and metrics. */
  readonly name: string;
  /** Time source; default {@link systemClock}. */
  readonly clock?: Clock | undefined;
  /**
   * Most units that may wait at once, in the gate's unit (a waiter of count 3 takes 3).
   * `0` means `acquire` never waits. Must be finite: no queue in sluice is unbounded.
   */
  readonly queueLimit: number;
  /** Anti-starvation age for priorities, in ms; see `WaiterQueueOptions.maxStarvationMs`. */
  readonly maxStarvationMs?: number | undefined;
  /**
   * Serve waiting requests round-robin across keys (tenants), with a cap per key; see
   * {@link FairnessOptions}. Default: off — waiters are served FIFO within a priority and keys
   * are ignored.
   */
  readonly fairness?: FairnessOptions | undefined;
}

/**
 * Fairness across keys (tenants) among a gate's waiting requests. Each waiting request has a
 * key — `fairBy(options)` if given, else its `key` option, else one key shared by all requests
 * without one — and within each priority the keys with waiters take turns: the oldest waiter of
 * one key, then the oldest of the next key, and so on. One key with a thousand waiters then
 * delays another key's request by about one grant per waiting key, not by a thousand.
 * Priorities still come first, and aging (`maxStarvationMs`) works as without keys. Nothing is
 * kept for a key once its last waiter has left.
 *
 * Only waiting requests are affected: a request granted at once (nobody waiting, budget free)
 * never looks at its key.
 *
 * @example
 * ```ts
 * const fairness: FairnessOptions = { perKeyQueueLimit: 100, fairBy: (options) => options?.key ?? 'anonymous' };
 * ```
 */
export interface FairnessOptions {
  /**
   * Most units one key may have waiting at once, in the gate's unit (a waiter of count 3 takes
   * 3), over all priorities. A request that would take its key past it is refused at once with
   * reason `queue-full` (a `QueueFullError` with `perKey` and `key` set), while requests of other
   * keys still queue. An integer from 1 to the gate's `queueLimit`; default: `queueLimit` (no
   * cap but the whole queue's).
   */
  readonly perKeyQueueLimit?: number | undefined;
  /**
   * The key of a request that has to wait, derived from its options (`undefined` when it was
   * called without any): a string, a number (not NaN), or `undefined` for the key shared by
   * requests without one. Called once per waiting request, never for requests granted at once.
   * If it throws, or returns anything else, the request rejects with that error (an
   * `InvalidArgumentError` for a bad value) and is not counted. Default: the request's `key`
   * option.
   */
  readonly fairBy?: ((options: AcquireOptions | undefined) => FairnessKey | undefined) | undefined;
}

const GATE_BASE_KEYS = optionKeys<GateBaseOptions>()({ name: true, clock: true, queueLimit: true, maxStarvationMs: true, fairness: true });
const FAIRNESS_KEYS = optionKeys<FairnessOptions>()({ perKeyQueueLimit: true, fairBy: true });

/** The key of a waiting request when a gate has fairness without `fairBy`: its `key` option. */
function keyOption(options: AcquireOptions | undefined): FairnessKey | undefined {
  return options?.key;
}

/** The refusal value a gate hands out; one shape for every refusal. */
class GateRefusal implements Refusal {
  readonly granted = false as const;
  constructor(
    readonly reason: RefusalReason,
    readonly gate: string,
    readonly retryAfterMs: number | undefined,
  ) {}
}

/**
 * The permit of a gate that tracks what it handed out: settles once, through the gate's
 * `onRelease`. The same once-guard as `ReleaseOncePermit`, written out flat: the hottest
 * permit in the library, and a constructor without a `super` call is measurably cheaper on the
 * queued path.
 */
class GatePermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly onRelease: (count: number, outcome: Outcome | undefined) => void,
    readonly count: number,
    private readonly gate: string,
  ) {}
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.onRelease(this.count, outcome);
  }
}

/**
 * The permit of a probe (`count` 0) and of gates that hand out nothing to give back: releasing
 * it does nothing.
 */
export const EMPTY_PERMIT: Permit = /* @__PURE__ */ Object.freeze({
  granted: true as const,
  release(outcome?: Outcome): void {
    checkOutcome('Permit', outcome);
  },
});

/** Rounds a wait estimate to whole milliseconds, up. */
function ceilMs(ms: number | undefined): number | undefined {
  // a nanosecond of slack, so floating-point dust (3 / 0.1 = 30.000000000000004) does not add a ms
  return ms === undefined || ms === Infinity ? undefined : Math.max(0, Math.ceil(ms - 1e-6));
}

/** The `ACQUIRE_NOW` method of every {@link GateBase}: its `grantNow`, called on the gate. */
type AcquireNowMethod = (count: number, priority: number) => Permit | undefined;

function acquireNowOf(this: GateBase<unknown>, count: number, priority: number): Permit | undefined {
  return (this as unknown as { grantNow: AcquireNowMethod }).grantNow(count, priority);
}

/**
 * The shared machinery of a gate: boundary validation, the sync fast path, the waiter queue
 * (priorities, aging, abort, `maxWaitMs` on one timer, queue limit), one wake timer for gates
 * that refill over time, `run`, counters, events and `close`. A subclass writes only the core:
 *
 * - {@link GateBase.capacity}: the largest count one request may ask for;
 * - {@link GateBase.tryTake}: take `count` units now if it can (with `count` 0: report whether
 *   one unit is available, taking nothing);
 * - {@link GateBase.availableUnits}: units grantable now;
 * - optionally {@link GateBase.retryHintMs} (a hint for refusals when the wait cannot be
 *   predicted) and {@link GateBase.estimateWaitMs} (for `retryAfterMs`, the early `maxWaitMs`
 *   refusal and the wake timer), {@link GateBase.permitFor}, {@link GateBase.onRelease},
 *   {@link GateBase.refusalReason} and {@link GateBase.closeCore};
 * - and calls {@link GateBase.serve} whenever budget frees up outside a timer (a release).
 *
 * A request may carry a value of type `R` beside its count — what a richer gate needs to decide
 * (an LLM limiter's cost vector: requests, input and output tokens) or what it does on
 * admission (a concurrency limiter's queued task). The value travels with the request, and with
 * its waiter while it waits, and every hook that decides about the request receives it
 * (`tryTake`, `estimateWaitMs`, `permitFor`, `admit`); `undefined` for a plain count (the
 * public `tryAcquire(count)`/`acquire(count)`, a pipeline's fast path). A subclass sends one
 * through {@link GateBase.decide} and {@link GateBase.request}.
 *
 * @example
 * ```ts
 * // A gate that admits at most `slots` holders at once.
 * class Slots extends GateBase {
 *   readonly capacity: number;
 *   private free: number;
 *   constructor(slots: number) {
 *     super({ name: 'slots', queueLimit: 100 });
 *     this.capacity = this.free = slots;
 *   }
 *   protected tryTake(count: number): boolean {
 *     if (this.free < Math.max(count, 1)) return false;
 *     this.free -= count;
 *     return true;
 *   }
 *   protected availableUnits(): number { return this.free; }
 *   protected onRelease(count: number): void { this.free += count; this.serve(); }
 * }
 * ```
 */
export abstract class GateBase<R = unknown> implements Gate, AcquireNow {
  /** Name used in refusals, errors and metrics. */
  readonly name: string;
  /** Largest count one request can ask for, in the gate's unit. */
  abstract readonly capacity: number;

  /** The time source. */
  protected readonly clock: Clock;
  /** Most units that may wait at once. */
  protected readonly queueLimit: number;

  // Everything a gate needs only once someone waits or listens is made then, not here: a
  // keyed limiter holds thousands of gates that never see a waiter or a listener.
  private waiters: WaiterQueue<unknown, unknown> | undefined = undefined;
  private readonly maxStarvationMs: number | undefined;
  /** With fairness: derives the key of a waiting request. `undefined` without fairness. */
  private readonly keyOf: ((options: AcquireOptions | undefined) => unknown) | undefined;
  /** With fairness: most units one key may have waiting. */
  private readonly perKeyQueueLimit: number;
  private closed = false;
  private admittedCount = 0;
  private refusedCount = 0;
  private cancelledEarly = 0;
  private serving = false;
  private wakeTimer: TimerHandle | undefined = undefined;
  private wakeAt = Infinity;
  private lastPermit: Permit | undefined = undefined;
  private lastResolved: Promise<Permit> | undefined = undefined;
  private lastRefusal: Refusal | undefined = undefined;
  private admitEvents: Emitter<number, number> | undefined = undefined;
  private waitEvents: Emitter<number, number> | undefined = undefined;
  private refuseEvents: Emitter<Refusal> | undefined = undefined;
  private releaseHook: ((count: number, outcome: Outcome | undefined) => void) | undefined = undefined;
  private wakeHook: (() => void) | undefined = undefined;

  constructor(options: GateBaseOptions) {
    // one shared function, not a closure per gate: a keyed limiter may hold many thousands of gates
    (this as { [ACQUIRE_NOW]: AcquireNowMethod })[ACQUIRE_NOW] = acquireNowOf;
    checkOptions(typeof options?.name === 'string' ? options.name : 'GateBase', options, GATE_BASE_KEYS);
    this.name = options.name;
    this.clock = checkClock(options.name, options.clock) ?? systemClock;
    this.queueLimit = checkNumber(options.name, 'queueLimit', options.queueLimit, { min: 0, integer: true });
    this.maxStarvationMs = options.maxStarvationMs;
    if (options.maxStarvationMs !== undefined) {
      checkNumber(options.name, 'maxStarvationMs', options.maxStarvationMs, { min: 0, allowInfinity: true });
    }
    const fairness = options.fairness;
    if (fairness === undefined) {
      this.keyOf = undefined;
      this.perKeyQueueLimit = this.queueLimit;
    } else {
      if (typeof fairness !== 'object' || fairness === null) {
        throw new InvalidArgumentError(options.name, 'fairness', 'an object or undefined', fairness);
      }
      checkOptions(options.name, fairness, FAIRNESS_KEYS, 'fairness.');
      const most = Math.max(1, this.queueLimit);
      this.perKeyQueueLimit = optionalNumber(options.name, 'fairness.perKeyQueueLimit', fairness.perKeyQueueLimit, most, {
        min: 1,
        max: most,
        integer: true,
      });
      checkFunction(options.name, 'fairness.fairBy', fairness.fairBy, true);
      this.keyOf = fairness.fairBy ?? keyOption;
    }
  }

  /** The waiters, in service order (made on first use; keyed when the gate has fairness). */
  protected get queue(): WaiterQueue<unknown, unknown> {
    return (this.waiters ??= new WaiterQueue<unknown, unknown>({
      clock: this.clock,
      maxStarvationMs: this.maxStarvationMs,
      timeoutReason: (waiter) => this.timeoutReason(waiter),
      onLeave: (reason) => this.onLeave(reason),
      keyed: this.keyOf !== undefined,
    }));
  }

  /** Requests waiting now. */
  protected get waiterCount(): number {
    return this.waiters === undefined ? 0 : this.waiters.size;
  }

  /** Units the waiting requests ask for. */
  protected get waitingUnits(): number {
    return this.waiters === undefined ? 0 : this.waiters.units;
  }

  /** Units queued ahead of a new request of `priority`. */
  private unitsAhead(priority: number): number {
    return this.waiters === undefined ? 0 : this.waiters.unitsAhead(priority);
  }

  // ---- the core a subclass writes ----

  /**
   * Takes `count` units now if they are available and returns true; otherwise takes nothing and
   * returns false. With `count` 0 (a probe) it reports whether one unit is available and takes
   * nothing. Called only when no waiter is queued ahead, or for the head waiter. `request` is
   * the value the request carries (`undefined` for a plain count).
   */
  protected abstract tryTake(count: number, priority: number, request: R | undefined): boolean;

  /** Units that could be granted right now, ignoring the queue. */
  protected abstract availableUnits(): number;

  /**
   * Milliseconds until `count` units could be granted to a request with `unitsAhead` units
   * queued before it, if nothing else happens; `undefined` when it depends on a release (a slot
   * frees only when a holder is done) or cannot be known. For gates that refuse for another
   * reason (an open breaker), the time until that reason passes. `priority` is the request's
   * (a shedder's thresholds depend on it), `request` the value it carries. Default: `undefined`.
   */
  protected estimateWaitMs(count: number, unitsAhead: number, priority: number, request?: R): number | undefined {
    void count;
    void unitsAhead;
    void priority;
    void request;
    return undefined;
  }

  /**
   * `retryAfterMs` for a `tryAcquire` that `tryTake` just refused. Default:
   * {@link GateBase.estimateWaitMs}. A gate that read the clock in `tryTake` may override it to
   * reuse that reading instead of reading the clock again.
   */
  protected retryAfterRefusalMs(count: number, unitsAhead: number, priority: number, request?: R): number | undefined {
    return this.hintMs(count, unitsAhead, priority, request);
  }

  /**
   * A retry hint, in ms, for a refusal when {@link GateBase.estimateWaitMs} cannot know the wait
   * (it returned `undefined`): a guess from what the gate has observed, such as a concurrency
   * limiter's measured hold time. Unlike an estimate it never refuses a `maxWaitMs` wait early
   * and never arms the wake timer — it only tells a refused caller when to come back. Default:
   * `undefined` (no hint).
   */
  protected retryHintMs(count: number, unitsAhead: number, priority: number, request?: R): number | undefined {
    void count;
    void unitsAhead;
    void priority;
    void request;
    return undefined;
  }

  /** The `retryAfterMs` of a refusal: the estimate when the gate has one, else its hint. */
  private hintMs(count: number, unitsAhead: number, priority: number, request: R | undefined): number | undefined {
    return this.estimateWaitMs(count, unitsAhead, priority, request) ?? this.retryHintMs(count, unitsAhead, priority, request);
  }

  /**
   * The permit for `count` units just taken for a request carrying `request`. Default: a permit
   * that calls {@link GateBase.onRelease} once. Gates with nothing to give back may return one
   * shared frozen permit (the resolved promise is then shared too); a gate whose release needs
   * the request's value (an LLM reservation reconciling its cost) returns its own
   * `ReleaseOncePermit`.
   */
  protected permitFor(count: number, request?: R): Permit {
    void request;
    return new GatePermit((this.releaseHook ??= (n, outcome) => this.onRelease(n, outcome)), count, this.name);
  }

  /** Called once per released permit from {@link GateBase.permitFor}. Default: nothing. */
  protected onRelease(count: number, outcome: Outcome | undefined): void {
    void count;
    void outcome;
  }

  /**
   * A refusal decided on arrival, before the queue is looked at: a reason (never `exhausted`)
   * refuses the request at once, even while others wait; `undefined` lets it through to
   * {@link GateBase.tryTake} or the queue. A shedder sheds here. Default: `undefined`.
   */
  protected arrivalRefusal(count: number, priority: number): RefusalReason | undefined {
    void count;
    void priority;
    return undefined;
  }

  /**
   * Why {@link GateBase.tryTake} just said no. Only `exhausted` may wait in the queue; any other
   * reason rejects an `acquire` at once. Default `exhausted`.
   */
  protected refusalReason(count: number, priority: number): RefusalReason {
    void count;
    void priority;
    return 'exhausted';
  }

  /**
   * The waiter to serve next; default the queue's order (priority, FIFO, aging). A gate may
   * serve differently (a shedder serves the newest first while overloaded), or drop waiters it
   * no longer wants with `queue.drop` before returning the one to serve.
   */
  protected nextWaiter(queue: WaiterQueue<unknown, unknown>): QueuedWaiter<unknown> | undefined {
    return queue.peek();
  }

  /**
   * Drops a queued waiter the gate no longer wants to serve (from {@link GateBase.nextWaiter}),
   * rejecting it with the error of `reason` (and `retryAfterMs`) — or with `error` when given (a
   * store-backed gate rejects with a `StoreUnavailableError`); counted as a refusal.
   */
  protected dropWaiter(waiter: QueuedWaiter<unknown>, reason: RefusalReason, retryAfterMs: number | undefined, error?: unknown): void {
    const refusal = this.refuse(reason, retryAfterMs, true);
    this.queue.drop(waiter, error ?? refusalError(refusal));
  }

  /**
   * Called once by {@link GateBase.close} after every waiter was rejected: release what the gate
   * holds (close members, stop monitors). Default: nothing. (Not `onClose`, which gates such as
   * a breaker use for their public "closed" event.)
   */
  protected closeCore(): void {}

  // ---- the public contract ----

  /** True once {@link GateBase.close} was called. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** 1 with requests queued, else the used share of the capacity (0 when idle). */
  get pressure(): number {
    if (this.waiterCount > 0) return 1;
    const capacity = this.capacity;
    if (!(capacity > 0) || capacity === Infinity) return 0;
    const used = 1 - this.availableUnits() / capacity;
    return used <= 0 ? 0 : used >= 1 ? 1 : used;
  }

  tryAcquire(count = 1, options?: TryAcquireOptions): Permit | Refusal {
    return this.decide(count, options, undefined);
  }

  /**
   * The body of `tryAcquire`, for a request carrying `request`: validation, the arrival
   * refusal, then {@link GateBase.tryTake} unless someone waits. Grants or refuses now.
   */
  protected decide(count: number, options: TryAcquireOptions | undefined, request: R | undefined): Permit | Refusal {
    checkCount(count, this.capacity, this.name);
    if (options !== undefined) checkTryAcquireOptions(this.name, options);
    const priority = options?.priority ?? 0;
    if (this.closed) return this.refuse('closed', undefined, count !== 0);
    const early = this.arrivalRefusal(count, priority);
    if (early !== undefined) {
      return this.refuse(early, ceilMs(this.hintMs(Math.max(count, 1), 0, priority, request)), count !== 0);
    }
    const waiting = this.waiterCount;
    if (waiting === 0 && this.tryTake(count, priority, request)) {
      if (count === 0) return EMPTY_PERMIT;
      this.admittedCount++;
      if (this.admitEvents?.listening === true) this.admitEvents.emit(count, 0);
      return this.permitFor(count, request);
    }
    const reason = waiting === 0 ? this.refusalReason(count, priority) : 'exhausted';
    const retryAfterMs = ceilMs(this.retryAfterRefusalMs(Math.max(count, 1), this.unitsAhead(priority), priority, request));
    return this.refuse(reason, retryAfterMs, count !== 0);
  }

  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    return this.request(count, options, undefined) as Promise<Permit>;
  }

  /**
   * The body of `acquire`, for a request carrying `request`: validation, the sync fast path,
   * the early refusals (queue full, `maxWaitMs`), then the queue, where the waiter keeps the
   * value. What the request resolves with when admitted is {@link GateBase.admit}'s: a permit,
   * unless a subclass queues work itself (a concurrency limiter's `run` queues the function as
   * the request's value and starts it on admission, so a queued task holds no suspended async
   * frame).
   */
  protected request(count: number, options: AcquireOptions | undefined, request: R | undefined): Promise<unknown> {
    const payload = request;
    try {
      checkCount(count, this.capacity, this.name);
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      this.cancelledEarly++;
      return Promise.reject(signal.reason);
    }
    if (this.closed) return this.reject(new ClosedError(this.name), 'closed', undefined);
    const priority = options?.priority ?? 0;
    const early = this.arrivalRefusal(count, priority);
    if (early !== undefined) {
      return Promise.reject(refusalError(this.refuse(early, ceilMs(this.hintMs(count, 0, priority, payload)), true)));
    }
    if (this.waiterCount === 0) {
      if (this.tryTake(count, priority, payload)) {
        this.admittedCount++;
        if (this.admitEvents?.listening === true) this.admitEvents.emit(count, 0);
        return this.resolved(this.admit(count, payload));
      }
      const reason = this.refusalReason(count, priority);
      if (reason !== 'exhausted') {
        const refusal = this.refuse(reason, ceilMs(this.hintMs(count, 0, priority, payload)), true);
        return Promise.reject(refusalError(refusal));
      }
    }
    const unitsAhead = this.unitsAhead(priority);
    const maxWaitMs = options?.maxWaitMs ?? Infinity;
    if (maxWaitMs !== Infinity) {
      const estimate = this.estimateWaitMs(count, unitsAhead, priority, payload);
      if (maxWaitMs === 0 || (estimate !== undefined && estimate > maxWaitMs)) {
        const retryAfterMs = ceilMs(estimate ?? this.retryHintMs(count, unitsAhead, priority, payload));
        return this.reject(new WaitTimeoutError(this.name, maxWaitMs, retryAfterMs), 'timeout', retryAfterMs);
      }
    }
    if (this.waitingUnits + count > this.queueLimit) {
      if (this.queueLimit === 0) {
        // A gate without a queue: the request was simply over the limit.
        const retryAfterMs = ceilMs(this.hintMs(count, unitsAhead, priority, payload));
        return this.reject(new LimitExceededError(this.name, retryAfterMs), 'exhausted', retryAfterMs);
      }
      return this.queueFull(count, unitsAhead, priority, this.queueLimit, undefined, payload);
    }
    // Fairness is decided once, at construction; this is its only test on the waiting path.
    if (this.keyOf !== undefined) return this.enqueueByKey(count, priority, signal, maxWaitMs, payload, options, unitsAhead);
    const promise = this.queue.enqueue(count, priority, signal, maxWaitMs, payload);
    this.serve();
    return promise;
  }

  /** The waiting path of a gate with fairness: the request's key, its key's share, then the queue. */
  private enqueueByKey(
    count: number,
    priority: number,
    signal: AbortSignal | undefined,
    maxWaitMs: number,
    payload: R | undefined,
    options: AcquireOptions | undefined,
    unitsAhead: number,
  ): Promise<unknown> {
    let key: FairnessKey | undefined;
    try {
      const derived = (this.keyOf as (options: AcquireOptions | undefined) => unknown)(options);
      key = derived === undefined ? undefined : checkKey(this.name, 'fairness.fairBy() result', derived);
    } catch (error) {
      return Promise.reject(error);
    }
    const queue = this.queue;
    if (queue.keyUnits(key) + count > this.perKeyQueueLimit) {
      return this.queueFull(count, unitsAhead, priority, this.perKeyQueueLimit, { key }, payload);
    }
    const promise = queue.enqueue(count, priority, signal, maxWaitMs, payload, key);
    this.serve();
    return promise;
  }

  /** Refuses a request with `queue-full`: the whole queue's `limit` was reached, or its key's. */
  private queueFull(
    count: number,
    unitsAhead: number,
    priority: number,
    limit: number,
    perKey: { readonly key: FairnessKey | undefined } | undefined,
    request: R | undefined,
  ): Promise<never> {
    const retryAfterMs = ceilMs(this.hintMs(count, unitsAhead, priority, request));
    return this.reject(new QueueFullError(this.name, limit, retryAfterMs, perKey), 'queue-full', retryAfterMs);
  }

  /**
   * What an admitted request of `count` carrying `request` resolves with (a promise adopts).
   * Default: the permit — `EMPTY_PERMIT` for a count of 0, else {@link GateBase.permitFor}.
   */
  protected admit(count: number, request: R | undefined): unknown {
    return count === 0 ? EMPTY_PERMIT : this.permitFor(count, request);
  }

  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    return runWithGate(this, this.clock, fn, options);
  }

  /**
   * The pipeline fast path; see {@link ACQUIRE_NOW}. An own property set by the constructor
   * rather than a symbol-keyed method: a computed method key would make bundlers keep this class
   * (and the queue, the clock…) in every bundle that merely imports the package.
   */
  declare readonly [ACQUIRE_NOW]: AcquireNowMethod;

  /** The body of {@link ACQUIRE_NOW}: grants now, counted, or `undefined` without counting anything. */
  protected grantNow(count: number, priority: number): Permit | undefined {
    if (
      this.closed ||
      this.waiterCount !== 0 ||
      this.arrivalRefusal(count, priority) !== undefined ||
      !this.tryTake(count, priority, undefined)
    ) {
      return undefined;
    }
    this.admittedCount++;
    if (this.admitEvents?.listening === true) this.admitEvents.emit(count, 0);
    return count === 0 ? EMPTY_PERMIT : this.permitFor(count);
  }

  stats(): GateStats {
    return {
      capacity: this.capacity,
      available: this.availableUnits(),
      waiting: this.waiterCount,
      queued: this.waitingUnits,
      admitted: this.admittedCount,
      refused: this.refusedCount + (this.waiters?.timedOut ?? 0),
      cancelled: this.cancelledEarly + (this.waiters?.aborted ?? 0),
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cancelWake();
    const closedRefusal = new GateRefusal('closed', this.name, undefined);
    const rejected = this.waiters?.rejectAll(() => new ClosedError(this.name)) ?? 0;
    this.refusedCount += rejected;
    if (this.refuseEvents?.listening === true) for (let i = 0; i < rejected; i++) this.refuseEvents.emit(closedRefusal);
    this.closeCore();
  }

  onAdmit(listener: AdmitListener): Disposer {
    return (this.admitEvents ??= new Emitter<number, number>()).on(listener);
  }

  /**
   * Subscribes to the admissions that waited in the queue, with how long (ms) — the ones
   * granted at once are not reported, so listening costs the fast path nothing. A monitor
   * counts the rest (admitted − waited) as waits of 0. Returns an unsubscriber.
   */
  onWait(listener: AdmitListener): Disposer {
    return (this.waitEvents ??= new Emitter<number, number>()).on(listener);
  }

  onRefuse(listener: RefuseListener): Disposer {
    return (this.refuseEvents ??= new Emitter<Refusal>()).on(listener);
  }

  // ---- machinery for subclasses ----

  /**
   * Grants queued waiters, head first, while {@link GateBase.tryTake} accepts the head; then
   * arms the one wake timer for the head's estimated wait, if the gate can estimate it. Call it
   * whenever budget frees up outside a timer (a permit released, a limit raised).
   * Never overtakes: when the head does not fit, the waiters behind it wait too.
   */
  protected serve(): void {
    if (this.serving) return; // the running loop re-reads the head, so it sees the new budget
    if (this.waiters === undefined) return;
    this.serving = true;
    try {
      const queue = this.waiters;
      for (;;) {
        const head = this.nextWaiter(queue);
        if (head === undefined) {
          this.cancelWake();
          return;
        }
        const request = head.payload as R | undefined;
        if (!this.tryTake(head.count, head.priority, request)) {
          this.armWake(head.count, head.priority, request);
          return;
        }
        this.admittedCount++;
        if (this.admitEvents?.listening === true || this.waitEvents?.listening === true) {
          const waitedMs = this.clock.now() - head.enqueuedAt;
          if (this.admitEvents?.listening === true) this.admitEvents.emit(head.count, waitedMs);
          if (this.waitEvents?.listening === true) this.waitEvents.emit(head.count, waitedMs);
        }
        queue.grant(head, this.admit(head.count, request));
      }
    } finally {
      this.serving = false;
    }
  }

  /** A promise of `value`; a stateless permit's resolved promise is made once and shared. */
  private resolved(value: unknown): Promise<unknown> {
    if (value !== this.lastPermit) {
      if (typeof value !== 'object' || value === null || (value as Permit).granted !== true) return Promise.resolve(value);
      this.lastPermit = value as Permit;
      this.lastResolved = Promise.resolve(value as Permit);
    }
    return this.lastResolved as Promise<Permit>;
  }

  /**
   * The refusal value for `reason` and `retryAfterMs`. Refusals are frozen, so the last one is
   * handed out again while nothing changed (a burst of refusals within the same millisecond
   * allocates nothing); callers may keep them.
   */
  private refuse(reason: RefusalReason, retryAfterMs: number | undefined, counted: boolean): Refusal {
    let refusal = this.lastRefusal;
    if (refusal === undefined || refusal.reason !== reason || refusal.retryAfterMs !== retryAfterMs) {
      refusal = Object.freeze(new GateRefusal(reason, this.name, retryAfterMs));
      this.lastRefusal = refusal;
    }
    if (counted) {
      this.refusedCount++;
      if (this.refuseEvents?.listening === true) this.refuseEvents.emit(refusal);
    }
    return refusal;
  }

  private reject(error: Error, reason: RefusalReason, retryAfterMs: number | undefined): Promise<never> {
    this.refuse(reason, retryAfterMs, true);
    return Promise.reject(error);
  }

  private timeoutReason(waiter: QueuedWaiter<unknown>): unknown {
    const retryAfterMs = ceilMs(
      this.hintMs(waiter.count, this.unitsAhead(waiter.priority), waiter.priority, waiter.payload as R | undefined),
    );
    if (this.refuseEvents?.listening === true) this.refuseEvents.emit(new GateRefusal('timeout', this.name, retryAfterMs));
    return new WaitTimeoutError(this.name, waiter.deadline - waiter.enqueuedAt, retryAfterMs);
  }

  private onLeave(reason: LeaveReason): void {
    void reason;
    this.serve();
  }

  private armWake(count: number, priority: number, request: R | undefined): void {
    const estimate = this.estimateWaitMs(count, 0, priority, request);
    if (estimate === undefined || estimate === Infinity) {
      this.cancelWake();
      return;
    }
    // Why ceil and at least 1 ms: a timer that fires at the estimate must find the budget there;
    // rounding up guarantees it despite floating-point refill arithmetic, so it never spins.
    const delay = Math.max(1, Math.ceil(estimate));
    const at = this.clock.now() + delay;
    if (this.wakeTimer !== undefined) {
      if (this.wakeAt <= at) return;
      this.clock.clearTimer(this.wakeTimer);
    }
    this.wakeAt = at;
    // Why keep-alive: the timer exists only while a caller awaits the head waiter.
    this.wakeHook ??= () => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.serve();
    };
    this.wakeTimer = this.clock.setTimer(this.wakeHook, delay, KEEP_ALIVE);
  }

  private cancelWake(): void {
    if (this.wakeTimer === undefined) return;
    this.clock.clearTimer(this.wakeTimer);
    this.wakeTimer = undefined;
    this.wakeAt = Infinity;
  }
}
