import {
  Emitter,
  GateBase,
  InvalidArgumentError,
  RunOutcome,
  checkName,
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
    this.inFlightCount -= count;
    if (this.adaptiveLimit !== undefined && outcome !== undefined && outcome.ok !== undefined) {
      this.learn(outcome.ok, outcome.durationMs ?? 0);
    }
    this.serve();
  }

  // ---- internals ----

  /** Runs admitted work: the slot is held until `fn` settles. */
  private async execute(fn: (context: RunContext) => unknown, signal: AbortSignal | undefined, count: number): Promise<unknown> {
    if (fn.length !== 0) return this.executeWithContext(fn, signal, count);
    const measure = this.adaptiveLimit !== undefined;
    const start = measure ? this.clock.now() : 0;
    let value: unknown;
    try {
      value = await fn(undefined as unknown as RunContext);
    } catch (error) {
      this.finish(count, false, measure ? this.clock.now() - start : 0);
      throw error;
    }
    this.finish(count, true, measure ? this.clock.now() - start : 0);
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
  private finish(count: number, ok: boolean, durationMs: number): void {
    this.inFlightCount -= count;
    if (this.adaptiveLimit !== undefined) this.learn(ok, durationMs);
    this.serve();
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
