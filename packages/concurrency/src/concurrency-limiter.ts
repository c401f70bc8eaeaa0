import {
  Emitter,
  GateBase,
  InvalidArgumentError,
  RunOutcome,
  checkName,
  checkOutcome,
  checkNumber,
  checkOptions,
  optionKeys,
  type Clock,
  type Disposer,
  type FairnessOptions,
  type Outcome,
  type Permit,
  type RunContext,
  type RunOptions,
} from '@sluice/core';
import { AdaptiveLimit, type AdaptiveLimitOptions, type LimitChange } from './adaptive.js';

/** Options of {@link ConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /**
   * Slots: the most requests (or units) in flight at once. Required: an integer ≥ 1. With
   * `adaptive`, the limit to start from.
   */
  readonly maxConcurrent: number;
  /**
   * Most units that may wait for a slot (a waiter of count 3 takes 3); beyond it `acquire` and
   * `run` are refused with a `QueueFullError`. Default 1,024. `0`: never wait.
   */
  readonly queueLimit?: number;
  /** Let the limit follow measured latency; see {@link AdaptiveLimitOptions}. Default: a fixed limit. */
  readonly adaptive?: AdaptiveLimitOptions;
  /** Anti-starvation age for priorities, in ms; default 10,000. */
  readonly maxStarvationMs?: number;
  /**
   * Fairness across tenants: waiting work is served round-robin across keys instead of FIFO, so
   * one noisy tenant cannot fill the queue and make the others wait behind its backlog. A
   * waiting request's key is `fairness.fairBy(options)` if given, else its `key` option (in
   * `acquire` and `run` options), else one key shared by all requests without one; within a
   * priority, the keys with waiters take turns, one admission each. `fairness.perKeyQueueLimit`
   * (slots, an integer from 1 to `queueLimit`; default `queueLimit`) caps what one key may have
   * waiting: beyond it that key is refused at once with a `QueueFullError` (reason
   * `queue-full`, `perKey` true) while other keys still queue. Default: off (FIFO within a
   * priority; keys ignored). See {@link FairnessOptions}.
   *
   * @example
   * ```ts
   * const limiter = new ConcurrencyLimiter({ maxConcurrent: 8, queueLimit: 1_000, fairness: { perKeyQueueLimit: 100 } });
   * await limiter.run(() => handle(request), { key: request.tenantId });
   * ```
   */
  readonly fairness?: FairnessOptions;
  /** Name used in refusals, errors and metrics; default `"concurrency"`. */
  readonly name?: string;
  /** Time source; default `systemClock`. */
  readonly clock?: Clock;
}

/** Default of {@link ConcurrencyLimiterOptions.queueLimit}. */
export const DEFAULT_QUEUE_LIMIT = 1_024;

/**
 * Weight of the newest measured hold time in {@link ConcurrencyLimiter.serviceTimeMs}, an
 * exponentially weighted moving average: each sample moves it a fifth of the way, so a change
 * in service time shows in the hint within a handful of releases while one outlier moves it
 * little.
 */
const SERVICE_TIME_WEIGHT = 0.2;

/** What a slot permit reports when it is released: its units, when it was granted (`NaN`: not measured), the outcome. */
type SlotRelease = (count: number, grantedAt: number, outcome: Outcome | undefined) => void;

/** A slot permit whose hold is measured: frees its units once, and carries the time it was granted. */
class SlotPermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly onRelease: SlotRelease,
    readonly count: number,
    private readonly grantedAt: number,
    private readonly gate: string,
  ) {}
  release(outcome?: Outcome): void {
    // a bad outcome throws before the once-guard, so the permit stays releasable
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.onRelease(this.count, this.grantedAt, outcome);
  }
}

/** A queued `run`: the work and the signal to hand it. */
interface Task {
  readonly fn: (context: RunContext) => unknown;
  readonly signal: AbortSignal | undefined;
}

const CONCURRENCY_LIMITER_KEYS = optionKeys<ConcurrencyLimiterOptions>()({
  maxConcurrent: true,
  queueLimit: true,
  adaptive: true,
  maxStarvationMs: true,
  fairness: true,
  name: true,
  clock: true,
});

/**
 * A bulkhead: at most `limit` requests in flight, the rest wait in a bounded queue — FIFO, or
 * by priority with aging — or are refused. Each slot comes back when its permit is released;
 * `run(fn)` releases whether `fn` returns or throws, and reports how long it ran.
 *
 * - `setLimit(n)` changes the limit at runtime: growing admits waiters at once, shrinking never
 *   cancels running work (in-flight drains down to the new limit).
 * - `adaptive` lets the limit follow latency (gradient or AIMD, with slow start), so the pool
 *   settles near what the backend can do instead of a guessed constant.
 * - A queued `run` holds only its function and its place in line — no suspended async frame —
 *   and starts when admitted.
 * - `fairness` serves waiting work round-robin across tenants (the `key` of each request), with
 *   a cap on what one tenant may have waiting.
 * - Refusals carry `retryAfterMs` estimated from how long slots are held (see
 *   {@link ConcurrencyLimiter.serviceTimeMs}): about `serviceTimeMs × (units ahead + count) /
 *   limit`, at least 1 ms. It is a hint, not a prediction: an `acquire` with `maxWaitMs` still
 *   waits (a slot may come back sooner) and times out at its limit.
 *
 * @example
 * ```ts
 * const db = new ConcurrencyLimiter({ maxConcurrent: 16, queueLimit: 1_000 });
 * const rows = await db.run(() => pool.query(sql), { maxWaitMs: 2_000, priority: 1 });
 * ```
 */
export class ConcurrencyLimiter extends GateBase {
  private currentLimit: number;
  private inFlightCount = 0;
  private readonly adaptiveLimit: AdaptiveLimit | undefined;
  private limitEvents: Emitter<LimitChange> | undefined = undefined;
  /** EWMA of measured hold times, ms; `NaN` until the first one. */
  private serviceMs = Number.NaN;
  private slotRelease: SlotRelease | undefined = undefined;
  /** Grants made while busy, for sampling their holds (see `isBusy`). */
  private busyGrants = 0;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: ConcurrencyLimiterOptions) {
    const o = checkOptions('ConcurrencyLimiter', options, CONCURRENCY_LIMITER_KEYS);
    const name = checkName('ConcurrencyLimiter', o.name, 'concurrency');
    const maxConcurrent = checkNumber(name, 'maxConcurrent', o.maxConcurrent, { min: 1, integer: true });
    super({
      name,
      clock: o.clock,
      queueLimit: o.queueLimit ?? DEFAULT_QUEUE_LIMIT,
      maxStarvationMs: o.maxStarvationMs,
      fairness: o.fairness,
    });
    this.adaptiveLimit = o.adaptive === undefined ? undefined : new AdaptiveLimit(name, maxConcurrent, o.adaptive);
    this.currentLimit = maxConcurrent;
  }

  /**
   * Largest count one request may ask for: the current limit, or `adaptive.maxLimit` when the
   * limit adapts (a request above the current limit then waits for it to grow).
   */
  get capacity(): number {
    return this.adaptiveLimit === undefined ? this.currentLimit : this.adaptiveLimit.maxLimit;
  }

  /** The current limit (slots). */
  get limit(): number {
    return this.currentLimit;
  }

  /**
   * How long a slot is held, in ms: an exponentially weighted moving average of the time between
   * grant and release (on the limiter's clock) of the permits and `run`s admitted while at least
   * half the limit was in use — an idle limiter reads no clock, and a refusal only happens near
   * full — the first 16 of them, then one in eight. Each sample weighs 0.2. A permit released as not run (`cost: 0`, e.g. `NOT_RUN`) is
   * not a sample.
   *
   * It drives the `retryAfterMs` of every refusal (exhausted, queue full, `maxWaitMs`):
   * `max(1, serviceTimeMs × (inFlight − limit + units ahead + count) / limit)` ms, rounded up —
   * the units that must come back first, in waves of `limit` per `serviceTimeMs`. With one slot
   * and work of 50 ms, the next in line is told 50 ms; with 16 slots, a request behind 15 others
   * waits for one wave: 50 ms.
   *
   * `undefined` until the first sample: before any slot came back the limiter cannot know how
   * long work takes, and a guessed hint would also refuse `maxWaitMs` waits that could succeed,
   * so those refusals carry no `retryAfterMs` (the `Refusal` contract's "cannot know").
   */
  get serviceTimeMs(): number | undefined {
    const ms = this.serviceMs;
    return ms >= 0 ? ms : undefined;
  }

  /** Units in flight now. May exceed the limit for a while after it was lowered. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /**
   * Sets the limit. Growing admits waiters at once; shrinking cancels nothing: work in flight
   * finishes, and new work waits until in-flight is below the new limit. In adaptive mode the
   * limit keeps moving from here, within `minLimit`…`maxLimit`.
   *
   * @param limit - an integer ≥ 1 (from `adaptive.minLimit` to `adaptive.maxLimit` when adaptive).
   */
  setLimit(limit: number): void {
    const adaptive = this.adaptiveLimit;
    checkNumber(
      this.name,
      'limit',
      limit,
      adaptive === undefined ? { min: 1, integer: true } : { min: adaptive.minLimit, max: adaptive.maxLimit, integer: true },
    );
    this.changeLimit(limit, Number.NaN, Number.NaN);
  }

  /** Fires when the limit changes (by `setLimit` or the adaptive rule). Returns an unsubscriber. */
  onLimitChange(listener: (change: LimitChange) => void): Disposer {
    return (this.limitEvents ??= new Emitter<LimitChange>()).on(listener);
  }

  /**
   * Acquires a slot, runs `fn`, and releases it with `{ ok, durationMs, error }` whether `fn`
   * returns or throws. While queued it holds only `fn`; it starts as soon as it is admitted.
   * `fn` receives `{ signal, permit }` when it declares a parameter (`fn.length > 0`); a function
   * declared without one is called without arguments, which saves an allocation per task.
   */
  override run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidArgumentError(this.name, 'fn', 'a function', fn));
    const signal = options?.signal;
    const task: Task | ((context: RunContext) => unknown) = signal === undefined ? fn : { fn, signal };
    return this.request(options?.count ?? 1, options, task) as Promise<T>;
  }

  // ---- GateBase ----

  protected tryTake(count: number): boolean {
    const inFlight = this.inFlightCount;
    if (inFlight + (count === 0 ? 1 : count) > this.currentLimit) return false;
    this.inFlightCount = inFlight + count;
    return true;
  }

  protected availableUnits(): number {
    const free = this.currentLimit - this.inFlightCount;
    return free > 0 ? free : 0;
  }

  /** The share of the limit in flight (1 with requests queued). */
  override get pressure(): number {
    if (this.waiterCount > 0) return 1;
    const used = this.inFlightCount / this.currentLimit;
    return used >= 1 ? 1 : used;
  }

  protected override admit(count: number, payload: unknown): unknown {
    if (payload === undefined) return super.admit(count, payload);
    return typeof payload === 'function'
      ? this.execute(payload as (context: RunContext) => unknown, undefined, count)
      : this.execute((payload as Task).fn, (payload as Task).signal, count);
  }

  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    this.releaseSlot(count, Number.NaN, outcome);
  }

  /**
   * A permit that records when it was granted, for a hold that is measured; else the kernel's
   * plain permit (no time field: a number field that may hold a fraction makes V8 box it on every
   * permit, measurable on the uncontended path).
   */
  protected override permitFor(count: number): Permit {
    if (!this.isBusy()) return super.permitFor(count);
    this.slotRelease ??= (n, at, outcome) => this.releaseSlot(n, at, outcome);
    return new SlotPermit(this.slotRelease, count, this.clock.now(), this.name);
  }

  /**
   * The retry hint of a refusal, from the measured hold time: the units that must come back
   * before `count` units behind `unitsAhead` fit, in waves of `limit` per `serviceTimeMs`; at
   * least 1 ms, so a hint is never 0. `undefined` before the first measured hold. A hint, not a
   * prediction: a slot frees only when its holder is done, so a `maxWaitMs` wait is never
   * refused on it — it waits and times out at its limit.
   */
  protected override retryHintMs(count: number, unitsAhead: number): number | undefined {
    const serviceMs = this.serviceMs;
    if (!(serviceMs >= 0)) return undefined;
    const limit = this.currentLimit;
    // the units that must come back first; none when it fits already (it waits only behind others)
    const units = this.inFlightCount - limit + unitsAhead + count;
    const ms = (serviceMs * units) / limit;
    return ms > 1 ? ms : 1;
  }

  // ---- internals ----

  /** Runs admitted work: the slot is held until `fn` settles. */
  private async execute(fn: (context: RunContext) => unknown, signal: AbortSignal | undefined, count: number): Promise<unknown> {
    if (fn.length !== 0) return this.executeWithContext(fn, signal, count);
    const sample = this.isBusy();
    const measure = sample || this.adaptiveLimit !== undefined;
    const start = measure ? this.clock.now() : 0;
    let value: unknown;
    try {
      value = await fn(undefined as unknown as RunContext);
    } catch (error) {
      this.finish(count, false, measure ? this.clock.now() - start : 0, sample);
      throw error;
    }
    this.finish(count, true, measure ? this.clock.now() - start : 0, sample);
    return value;
  }

  /** Runs work that wants its context: the permit it gets is the one that frees the slot. */
  private async executeWithContext(fn: (context: RunContext) => unknown, signal: AbortSignal | undefined, count: number): Promise<unknown> {
    const permit: Permit = this.permitFor(count);
    const start = this.clock.now();
    let value: unknown;
    try {
      value = await fn({ signal, permit });
    } catch (error) {
      permit.release(new RunOutcome(false, this.clock.now() - start, error));
      throw error;
    }
    permit.release(new RunOutcome(true, this.clock.now() - start));
    return value;
  }

  /** A run's slot comes back: the same as a permit's release, without a permit. */
  private finish(count: number, ok: boolean, durationMs: number, sample: boolean): void {
    this.inFlightCount -= count;
    if (sample) this.observe(durationMs);
    if (this.adaptiveLimit !== undefined) this.learn(ok, durationMs);
    this.serve();
  }

  /** A permit's slot comes back; `grantedAt` is `NaN` when its hold was not measured. */
  private releaseSlot(count: number, grantedAt: number, outcome: Outcome | undefined): void {
    this.inFlightCount -= count;
    // a permit released as not run held its slot for no work: not a service time
    if (!Number.isNaN(grantedAt) && outcome?.cost !== 0) this.observe(this.clock.now() - grantedAt);
    if (this.adaptiveLimit !== undefined && outcome !== undefined && outcome.ok !== undefined) {
      this.learn(outcome.ok, outcome.durationMs ?? 0);
    }
    this.serve();
  }

  /**
   * Whether to measure the hold of the grant being made: only while at least half the limit is
   * in use (after the grant), and then the first 16 such grants and every 8th after them — two
   * clock reads per measured hold are a third of a queued grant's cost, and a sample in eight
   * follows a change of service time within a few dozen grants.
   */
  private isBusy(): boolean {
    if (this.inFlightCount * 2 < this.currentLimit) return false;
    const n = ++this.busyGrants;
    return n <= 16 || (n & 7) === 0;
  }

  /** Folds one measured hold time into the service-time average. */
  private observe(heldMs: number): void {
    // a clock that stepped back (a virtual clock's setTime) must not make the average negative
    const ms = heldMs > 0 ? heldMs : 0;
    const previous = this.serviceMs;
    this.serviceMs = previous >= 0 ? previous + SERVICE_TIME_WEIGHT * (ms - previous) : ms;
  }

  private learn(ok: boolean, durationMs: number): void {
    const adaptive = this.adaptiveLimit as AdaptiveLimit;
    const next = adaptive.record(this.clock.now(), durationMs, ok, this.inFlightCount + 1, this.currentLimit);
    if (next !== undefined) this.changeLimit(next, adaptive.lastWindowLatencyMs, adaptive.noLoadLatencyMs);
  }

  private changeLimit(limit: number, windowLatencyMs: number, noLoadLatencyMs: number): void {
    const from = this.currentLimit;
    if (limit === from) return;
    this.currentLimit = limit;
    if (this.limitEvents?.listening === true) this.limitEvents.emit({ from, to: limit, windowLatencyMs, noLoadLatencyMs });
    if (limit > from) this.serve();
  }
}

/** Creates a {@link ConcurrencyLimiter}. */
export function concurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  return new ConcurrencyLimiter(options);
}
