import {
  checkOutcome,
  EMPTY_PERMIT,
  Emitter,
  GateBase,
  InvalidArgumentError,
  checkFunction,
  checkName,
  checkNumber,
  checkOptions,
  optionKeys,
  type AdmitListener,
  type Disposer,
  type Outcome,
  type Permit,
  type RefusalReason,
  type RunContext,
  type RunOptions,
  checkClock,
} from '@sluice/core';
import type { BreakerStats } from './breaker-stats.js';
import { DEFAULT_BREAKER_NAME, DEFAULT_HALF_OPEN_MAX_CALLS, type CircuitBreakerOptions } from './options.js';
import type { TripCounter, TripReason, TripStrategy } from './trip-strategy.js';
import type { BreakerState, CloseListener, CloseReason, HalfOpenListener, OpenListener, OpenReason } from './transitions.js';

// States as small integers: the hot path compares one Smi.
const CLOSED = 0;
const OPEN = 1;
const HALF_OPEN = 2;
const ISOLATED = 3;
type StateCode = typeof CLOSED | typeof OPEN | typeof HALF_OPEN | typeof ISOLATED;
const STATE_NAMES: readonly BreakerState[] = ['closed', 'open', 'half-open', 'isolated'];

// What `run` may skip, decided once per transition rather than per call.
const RUN_SLOW = 0; // through GateBase: a permit per call (not closed, closed gate, admit listeners)
const RUN_UNTIMED = 1; // closed, nothing needs the time: no clock read at all
const RUN_TIMED = 2; // closed, a time window needs the time when fn settles: one clock read
const RUN_MEASURED = 3; // closed, slowCallMs or isFailure needs fn's duration: two clock reads
type RunMode = typeof RUN_SLOW | typeof RUN_UNTIMED | typeof RUN_TIMED | typeof RUN_MEASURED;

/**
 * The context of `run`'s fast path: shared, so it allocates nothing. Its permit is the no-op
 * one (`run` records how `fn` settled). Why not a real permit only for an `fn` that declares the
 * parameter: reading `fn.length` costs ~40 ns per call in V8, half the time budget of the path.
 */
const SHARED_CONTEXT: RunContext = Object.freeze({ signal: undefined, permit: EMPTY_PERMIT });

const identity = (value: unknown): unknown => value;
const rethrow = (error: unknown): never => {
  throw error;
};

const CIRCUIT_BREAKER_KEYS = optionKeys<CircuitBreakerOptions>()({
  halfOpenAfterMs: true,
  trip: true,
  halfOpenMaxCalls: true,
  slowCallMs: true,
  isFailure: true,
  name: true,
  clock: true,
});

type Settle = (permit: BreakerPermit, outcome: Outcome | undefined) => void;

/**
 * A permit of the breaker: remembers the state it was granted in; releases once. A bad outcome
 * throws before the once-guard and counts nothing. (The guard of `ReleaseOncePermit`, written
 * out flat: one is allocated per grant through a pipeline.)
 */
class BreakerPermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly settle: Settle,
    /** The breaker's name, for a bad outcome's message. */
    private readonly gate: string,
    /** The breaker's epoch at the grant: an outcome from an earlier state is ignored. */
    readonly epoch: number,
    /** Granted as a half-open trial. */
    readonly trial: boolean,
    /** Clock reading at the grant, when `slowCallMs` needs it (else NaN). */
    readonly startedAt: number,
  ) {}
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.settle(this, outcome);
  }
}

/**
 * A circuit breaker as a sluice gate: it stops calling a dependency that keeps failing, gives
 * it `halfOpenAfterMs` to recover, then lets a few trial calls through to decide whether to
 * close again.
 *
 * - **closed**: everything passes; each outcome is counted by the `trip` strategy
 *   ({@link consecutiveFailures}, {@link countWindow}, {@link timeWindow}); when it trips, the
 *   breaker opens.
 * - **open**: everything is refused at once with reason `circuit-open` and `retryAfterMs` = the
 *   time until half-open (`acquire` and `run` reject with a `CircuitOpenError`). The first call
 *   at or after `openedAt + halfOpenAfterMs` moves it to half-open: lazily, with no timer, so a
 *   breaker holds nothing to clean up and never keeps a process alive.
 * - **half-open**: `halfOpenMaxCalls` trial calls pass (one per acquisition, whatever its
 *   count), the rest are refused with `circuit-open`. All trials succeeding closes the breaker
 *   (and resets the strategy); any trial failing reopens it for a fresh `halfOpenAfterMs`; a
 *   trial released without a usable outcome (`ok` absent) gives its slot back.
 * - **isolated**: {@link CircuitBreaker.isolate} opens it until {@link CircuitBreaker.reset}.
 *
 * Outcomes come from `permit.release(outcome)` (exactly once per permit), from `run` (which
 * records whether `fn` returned or threw, and its duration when needed), or from
 * {@link CircuitBreaker.record}. An outcome counts as a failure when `isFailure(outcome)` says so
 * (default `ok === false`) or when it took longer than `slowCallMs`; one with `ok` absent
 * (`NOT_RUN`, a release without outcome) is ignored. An outcome of a call granted in an earlier
 * state (before the breaker opened, was reset, …) is ignored too.
 *
 * As a gate: `capacity` is `Infinity`; `available` is `Infinity` closed, the trials left
 * half-open, 0 open or isolated; there is no queue (`acquire` grants at once or rejects).
 * Time comes only from the `clock` option, and is read only when needed: the closed success
 * path of `run` with {@link consecutiveFailures} or {@link countWindow} reads no clock and
 * allocates no permit.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({
 *   trip: countWindow({ size: 20, failureRate: 0.5, minimumCalls: 10 }),
 *   halfOpenAfterMs: 30_000,
 *   isFailure: ({ ok, error }) => ok === false && !(error instanceof NotFoundError),
 * });
 * breaker.onOpen((reason) => log.warn('upstream breaker opened', reason));
 * const body = await breaker.run(() => fetchUpstream()); // rejects with CircuitOpenError while open
 * ```
 */
export class CircuitBreaker extends GateBase {
  /** Always `Infinity`: a breaker limits nothing while closed. */
  readonly capacity = Infinity;
  /** Ms the breaker stays open before a call may move it to half-open. */
  readonly halfOpenAfterMs: number;
  /** Trial calls admitted while half-open. */
  readonly halfOpenMaxCalls: number;
  /** Calls slower than this (ms) count as failures; `undefined` when off. */
  readonly slowCallMs: number | undefined;
  /** The trip strategy, as given. */
  readonly trip: TripStrategy;

  private readonly counter: TripCounter;
  private readonly failureFilter: ((outcome: Outcome) => boolean) | undefined;
  /** `slowCallMs`, or `Infinity` when off (so `duration > slowAfterMs` is simply false). */
  private readonly slowAfterMs: number;
  /** The closed-state `run` mode when nothing forces the slow path. */
  private readonly closedRunMode: RunMode;
  private readonly settleHook: Settle;

  private stateCode: StateCode = CLOSED;
  /** Bumped by every transition and reset: outcomes of permits from an older epoch are ignored. */
  private epoch = 0;
  private runMode: RunMode = RUN_SLOW;
  private halfOpenAt = 0;
  private trialsLeft = 0;
  private trialsSucceeded = 0;
  private openedCount = 0;
  /** Admissions of the `run` fast path, which bypasses GateBase's counter. */
  private fastAdmitted = 0;
  private admitListeners = 0;
  private refusedRetryMs: number | undefined = undefined;
  private handlersEpoch = -1;
  private onRunValue: (value: unknown) => unknown = identity;
  private onRunError: (error: unknown) => never = rethrow;
  private openEvents: Emitter<OpenReason> | undefined = undefined;
  private halfOpenEvents: Emitter | undefined = undefined;
  private closeEvents: Emitter<CloseReason> | undefined = undefined;

  /**
   * @throws InvalidArgumentError naming a bad option: `halfOpenAfterMs` missing, ≤ 0, NaN or
   *   Infinity; `trip` missing or not a strategy; `halfOpenMaxCalls` not an integer ≥ 1;
   *   `slowCallMs` ≤ 0 or NaN; `isFailure` not a function; an empty `name`; a `clock` without
   *   `now()`.
   */
  constructor(options: CircuitBreakerOptions) {
    const o = checkOptions('CircuitBreaker', options, CIRCUIT_BREAKER_KEYS);
    const name = checkName('CircuitBreaker', o.name, DEFAULT_BREAKER_NAME);
    const halfOpenAfterMs = checkNumber(name, 'halfOpenAfterMs', o.halfOpenAfterMs, { min: 0, exclusiveMin: true });
    const trip = o.trip;
    if (typeof trip !== 'object' || trip === null || typeof trip.create !== 'function') {
      throw new InvalidArgumentError(
        name,
        'trip',
        'a trip strategy: consecutiveFailures(n), countWindow({...}), timeWindow({...}) or an object with create()',
        trip,
      );
    }
    const halfOpenMaxCalls =
      o.halfOpenMaxCalls === undefined
        ? DEFAULT_HALF_OPEN_MAX_CALLS
        : checkNumber(name, 'halfOpenMaxCalls', o.halfOpenMaxCalls, { min: 1, integer: true });
    const slowCallMs =
      o.slowCallMs === undefined
        ? undefined
        : checkNumber(name, 'slowCallMs', o.slowCallMs, { min: 0, exclusiveMin: true, allowInfinity: true });
    checkFunction(name, 'isFailure', o.isFailure, true);
    const clock = checkClock(name, o.clock);
    const counter = trip.create();
    if (
      typeof counter !== 'object' ||
      counter === null ||
      typeof counter.record !== 'function' ||
      typeof counter.reset !== 'function' ||
      typeof counter.snapshot !== 'function' ||
      typeof counter.needsTime !== 'boolean'
    ) {
      throw new InvalidArgumentError(name, 'trip', 'a strategy whose create() returns a TripCounter', trip);
    }
    super({ name, clock, queueLimit: 0 });
    this.halfOpenAfterMs = halfOpenAfterMs;
    this.halfOpenMaxCalls = halfOpenMaxCalls;
    this.slowCallMs = slowCallMs;
    this.trip = trip;
    this.counter = counter;
    this.failureFilter = o.isFailure;
    this.slowAfterMs = slowCallMs ?? Infinity;
    // `run` measures how long `fn` took only for slowCallMs, or a custom isFailure that may look.
    const measureDuration = this.slowAfterMs !== Infinity || o.isFailure !== undefined;
    this.closedRunMode = measureDuration ? RUN_MEASURED : counter.needsTime ? RUN_TIMED : RUN_UNTIMED;
    this.settleHook = (permit, outcome) => this.settle(permit, outcome);
    counter.reset(counter.needsTime ? this.clock.now() : 0);
    this.updateRunMode();
  }

  // ---- state ----

  /**
   * The state now. The move from `open` to `half-open` is lazy: the state stays `open` past
   * `halfOpenAfterMs` until the next `tryAcquire`, `acquire` or `run` moves it.
   */
  get state(): BreakerState {
    return STATE_NAMES[this.stateCode] as BreakerState;
  }

  /** 0 closed; 1 open or isolated; half-open: the share of trial slots taken. */
  override get pressure(): number {
    switch (this.stateCode) {
      case CLOSED:
        return 0;
      case HALF_OPEN:
        return 1 - this.trialsLeft / this.halfOpenMaxCalls;
      default:
        return 1;
    }
  }

  /**
   * Opens the breaker by hand until {@link CircuitBreaker.reset}: everything is refused with
   * `circuit-open` and no `retryAfterMs`. Use it to take a dependency out of service
   * (maintenance, a kill switch). Emits `onOpen` with cause `isolated`; does nothing when
   * already isolated.
   */
  isolate(): void {
    if (this.stateCode === ISOLATED) return;
    this.moveTo(ISOLATED);
    this.openedCount++;
    if (this.openEvents?.listening === true) this.openEvents.emit({ cause: 'isolated' });
  }

  /**
   * Closes the breaker and forgets every counted outcome (outcomes of calls still in flight are
   * ignored). From any other state it emits `onClose` with cause `reset`; on a closed breaker
   * it only clears the counts.
   */
  reset(): void {
    const from = this.stateCode;
    this.moveTo(CLOSED);
    this.counter.reset(this.counter.needsTime ? this.clock.now() : 0);
    if (from !== CLOSED && this.closeEvents?.listening === true) {
      this.closeEvents.emit({ cause: 'reset', from: STATE_NAMES[from] as BreakerState });
    }
  }

  /**
   * Counts the outcome of a call made without a permit of this breaker (a health check, a call
   * through another path), as if it had been granted now. Counted only while closed: half-open
   * trials are decided by the trial calls alone. An outcome with `ok` absent is ignored; its
   * `durationMs`, if any, is compared with `slowCallMs`.
   *
   * @throws InvalidArgumentError when `outcome` is not an object.
   */
  record(outcome: Outcome): void {
    if (typeof outcome !== 'object' || outcome === null) {
      throw new InvalidArgumentError(this.name, 'outcome', 'an Outcome object ({ ok, durationMs?, error? })', outcome);
    }
    if (outcome.ok === undefined || this.stateCode !== CLOSED) return;
    this.count(this.isFailed(outcome, Number.NaN));
  }

  /** Gate counters plus the breaker's state, the strategy's counts and the trials in flight. */
  override stats(): BreakerStats {
    const base = super.stats();
    const snapshot = this.counter.snapshot(this.counter.needsTime ? this.clock.now() : 0);
    return {
      ...base,
      admitted: base.admitted + this.fastAdmitted,
      state: this.state,
      calls: snapshot.calls,
      failures: snapshot.failures,
      failureRate: snapshot.failureRate,
      trialsInFlight: this.stateCode === HALF_OPEN ? this.halfOpenMaxCalls - this.trialsLeft - this.trialsSucceeded : 0,
      retryAfterMs: this.stateCode === OPEN ? Math.max(0, Math.ceil(this.halfOpenAt - this.clock.now())) : undefined,
      opened: this.openedCount,
    };
  }

  // ---- events ----

  /**
   * Subscribes to moves into `open` and `isolated`: the listener gets why (`tripped` with the
   * strategy's reason, `trial-failed` with the outcome, or `isolated`). Once per transition;
   * free when nobody listens. Returns an unsubscriber.
   */
  onOpen(listener: OpenListener): Disposer {
    return (this.openEvents ??= new Emitter<OpenReason>()).on(listener);
  }

  /** Subscribes to moves into `half-open` (lazy: on the first call after `halfOpenAfterMs`). */
  onHalfOpen(listener: HalfOpenListener): Disposer {
    return (this.halfOpenEvents ??= new Emitter()).on(listener);
  }

  /**
   * Subscribes to moves into `closed`: the listener gets why (`trials-succeeded`, or `reset`
   * with the state it left). Once per transition; returns an unsubscriber.
   */
  onClose(listener: CloseListener): Disposer {
    return (this.closeEvents ??= new Emitter<CloseReason>()).on(listener);
  }

  /** `close()`'s clean-up: no timers to clear, only the fast path to stop. */
  protected override closeCore(): void {
    this.updateRunMode();
  }

  /** Subscribes to grants (see `Gate.onAdmit`); while anyone listens, `run` takes the counted path. */
  override onAdmit(listener: AdmitListener): Disposer {
    const off = super.onAdmit(listener);
    this.admitListeners++;
    this.updateRunMode();
    let subscribed = true;
    return () => {
      if (!subscribed) return;
      subscribed = false;
      this.admitListeners--;
      this.updateRunMode();
      off();
    };
  }

  // ---- run: the hot path ----

  /**
   * Runs `fn` if the breaker admits it, and records how it settled: returned → `{ ok: true }`,
   * threw → `{ ok: false, error }` (with `durationMs` when `slowCallMs` or `isFailure` needs
   * it). Rejects at once with a `CircuitOpenError` (carrying `retryAfterMs`) when open,
   * half-open without a free trial, or isolated.
   *
   * Closed and without options it takes a fast path: no permit and no timer; with
   * {@link consecutiveFailures} or {@link countWindow} no clock read and no closure per call
   * either (a {@link timeWindow} reads the clock once when `fn` settles; `slowCallMs` or
   * `isFailure` time `fn` with two reads and two closures). `fn` then gets a shared
   * context (`signal` undefined) whose `permit` is a no-op: `run` records how `fn` settled, so
   * do not release the context's permit yourself; use `tryAcquire` to report outcomes by hand.
   */
  override run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    const mode = this.runMode;
    if (mode !== RUN_SLOW && options === undefined && typeof fn === 'function') {
      this.fastAdmitted++;
      if (mode === RUN_MEASURED) return this.runMeasured(fn, this.epoch);
      let result: T | PromiseLike<T>;
      try {
        result = fn(SHARED_CONTEXT);
      } catch (error) {
        result = Promise.reject(error);
      }
      // The handlers belong to this closed epoch (made once per transition), so a call that
      // settles after the breaker moved on is not counted, without a closure per call.
      return Promise.resolve(result).then(this.onRunValue, this.onRunError) as Promise<T>;
    }
    return super.run(fn, options);
  }

  /** Closed, with `slowCallMs` or `isFailure`: times `fn` (two clock reads, two closures). */
  private runMeasured<T>(fn: (context: RunContext) => T | PromiseLike<T>, epoch: number): Promise<T> {
    const start = this.clock.now();
    let result: T | PromiseLike<T>;
    try {
      result = fn(SHARED_CONTEXT);
    } catch (error) {
      result = Promise.reject(error);
    }
    return Promise.resolve(result).then(
      (value) => {
        this.settleRun(epoch, true, start, undefined);
        return value;
      },
      (error: unknown) => {
        this.settleRun(epoch, false, start, error);
        throw error;
      },
    );
  }

  /** Makes the fast path's settle handlers for the current (closed) epoch. */
  private makeRunHandlers(): void {
    const epoch = this.epoch;
    this.handlersEpoch = epoch;
    if (this.closedRunMode === RUN_UNTIMED) {
      // Nothing needs the time: the success path is one comparison and `counter.record`.
      this.onRunValue = (value) => {
        if (epoch === this.epoch) {
          const reason = this.counter.record(false, 0);
          if (reason !== undefined) this.open(reason, undefined);
        }
        return value;
      };
      this.onRunError = (error) => {
        if (epoch === this.epoch) this.count(true);
        throw error;
      };
    } else {
      this.onRunValue = (value) => {
        this.settleRun(epoch, true, Number.NaN, undefined);
        return value;
      };
      this.onRunError = (error) => {
        this.settleRun(epoch, false, Number.NaN, error);
        throw error;
      };
    }
  }

  /** Counts how a fast-path `fn` settled; `start` is NaN when the duration is not measured. */
  private settleRun(epoch: number, ok: boolean, start: number, error: unknown): void {
    if (epoch !== this.epoch) return;
    const now = this.clock.now();
    const durationMs = now - start; // NaN when not measured: never slow
    let failed: boolean;
    if (this.failureFilter === undefined) failed = !ok || durationMs > this.slowAfterMs;
    else {
      const outcome: Outcome = ok ? { ok, durationMs } : { ok, durationMs, error };
      failed = this.failureFilter(outcome) || durationMs > this.slowAfterMs;
    }
    const reason = this.counter.record(failed, now);
    if (reason !== undefined) this.open(reason, undefined);
  }

  // ---- the GateBase core ----

  protected tryTake(count: number): boolean {
    switch (this.stateCode) {
      case CLOSED:
        return true;
      case OPEN: {
        const now = this.clock.now();
        if (now < this.halfOpenAt) {
          this.refusedRetryMs = this.halfOpenAt - now;
          return false;
        }
        this.enterHalfOpen();
        return this.takeTrial(count);
      }
      case HALF_OPEN:
        return this.takeTrial(count);
      default:
        this.refusedRetryMs = undefined;
        return false;
    }
  }

  protected availableUnits(): number {
    switch (this.stateCode) {
      case CLOSED:
        return Infinity;
      case HALF_OPEN:
        return this.trialsLeft;
      default:
        return 0;
    }
  }

  /** While open: ms until half-open. Half-open without trials, or isolated: unknown. */
  protected override estimateWaitMs(): number | undefined {
    return this.stateCode === OPEN ? Math.max(0, this.halfOpenAt - this.clock.now()) : undefined;
  }

  /** The wait `tryTake` computed from its own clock reading (no second read). */
  protected override retryAfterRefusalMs(): number | undefined {
    return this.refusedRetryMs;
  }

  protected override refusalReason(): RefusalReason {
    return 'circuit-open';
  }

  protected override permitFor(): Permit {
    const startedAt = this.slowAfterMs === Infinity ? Number.NaN : this.clock.now();
    return new BreakerPermit(this.settleHook, this.name, this.epoch, this.stateCode === HALF_OPEN, startedAt);
  }

  // ---- transitions ----

  private takeTrial(count: number): boolean {
    if (this.trialsLeft === 0) {
      this.refusedRetryMs = undefined;
      return false;
    }
    if (count !== 0) this.trialsLeft--; // a probe only looks
    return true;
  }

  /** Settles a released permit (once per permit). */
  private settle(permit: BreakerPermit, outcome: Outcome | undefined): void {
    if (permit.epoch !== this.epoch) return; // granted in a state that has since ended
    const usable = outcome !== undefined && outcome.ok !== undefined;
    if (permit.trial) {
      if (this.stateCode !== HALF_OPEN) return;
      if (!usable) {
        this.trialsLeft++; // no verdict: the slot goes to another trial
        return;
      }
      if (this.isFailed(outcome, permit.startedAt)) this.open(undefined, outcome);
      else if (++this.trialsSucceeded >= this.halfOpenMaxCalls) this.closeAfterTrials();
      return;
    }
    if (usable && this.stateCode === CLOSED) this.count(this.isFailed(outcome, permit.startedAt));
  }

  /** The verdict on a usable outcome: `isFailure`, or slower than `slowCallMs`. */
  private isFailed(outcome: Outcome, startedAt: number): boolean {
    const failed = this.failureFilter === undefined ? outcome.ok === false : this.failureFilter(outcome);
    if (failed || this.slowAfterMs === Infinity) return failed;
    const durationMs = outcome.durationMs ?? this.clock.now() - startedAt;
    return durationMs > this.slowAfterMs;
  }

  /** Counts a closed-state verdict; opens when the strategy trips. */
  private count(failed: boolean): void {
    const reason = this.counter.record(failed, this.counter.needsTime ? this.clock.now() : 0);
    if (reason !== undefined) this.open(reason, undefined);
  }

  /** closed → open (tripped, with `trip`) or half-open → open (trial failed, with `trialOutcome`). */
  private open(trip: TripReason | undefined, trialOutcome: Outcome | undefined): void {
    const now = this.clock.now();
    this.moveTo(OPEN);
    this.halfOpenAt = now + this.halfOpenAfterMs;
    this.openedCount++;
    if (this.openEvents?.listening === true) {
      this.openEvents.emit(trip !== undefined ? { cause: 'tripped', trip } : { cause: 'trial-failed', outcome: trialOutcome as Outcome });
    }
  }

  private enterHalfOpen(): void {
    this.moveTo(HALF_OPEN);
    this.trialsLeft = this.halfOpenMaxCalls;
    this.trialsSucceeded = 0;
    if (this.halfOpenEvents?.listening === true) this.halfOpenEvents.emit();
  }

  private closeAfterTrials(): void {
    this.moveTo(CLOSED);
    this.counter.reset(this.counter.needsTime ? this.clock.now() : 0);
    if (this.closeEvents?.listening === true) {
      this.closeEvents.emit({ cause: 'trials-succeeded', trials: this.trialsSucceeded });
    }
  }

  private moveTo(state: StateCode): void {
    this.stateCode = state;
    this.epoch++;
    this.updateRunMode();
  }

  private updateRunMode(): void {
    this.runMode = this.stateCode === CLOSED && !this.isClosed && this.admitListeners === 0 ? this.closedRunMode : RUN_SLOW;
    if (this.runMode !== RUN_SLOW && this.runMode !== RUN_MEASURED && this.handlersEpoch !== this.epoch) {
      this.makeRunHandlers();
    }
  }
}

/** Creates a {@link CircuitBreaker}. */
export function circuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  return new CircuitBreaker(options);
}
