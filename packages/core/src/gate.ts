import type { Disposer } from './events.js';

/**
 * Why a gate said no. Each reason maps to one error class when an `acquire` rejects
 * (see `refusalError`).
 *
 * - `exhausted`: no budget now (tokens, slots, quota); waiting may help.
 * - `queue-full`: the waiting queue is at its limit.
 * - `timeout`: the wait would exceed, or did exceed, `maxWaitMs`.
 * - `circuit-open`: a breaker is open.
 * - `shed`: a load shedder protects the work already admitted.
 * - `paused`: the downstream asked to back off (a provider's 429 with retry-after).
 * - `closed`: the gate was closed.
 */
export type RefusalReason = 'exhausted' | 'queue-full' | 'timeout' | 'circuit-open' | 'shed' | 'paused' | 'closed';

/**
 * A synchronous "no" from {@link Gate.tryAcquire}: a value, never a thrown error, so refusing
 * costs no promise and no stack trace.
 */
export interface Refusal {
  /** Always `false`: discriminates a refusal from a {@link Permit}. */
  readonly granted: false;
  /** Why the gate refused. */
  readonly reason: RefusalReason;
  /** Name of the gate that refused (the stage's name inside a pipeline). */
  readonly gate: string;
  /**
   * Milliseconds after which the same request can succeed, counting the work already queued
   * ahead of it; `undefined` when no retry can succeed or the gate cannot know (a slot frees
   * only when some holder releases).
   */
  readonly retryAfterMs: number | undefined;
}

/** Actual token usage of an LLM call, reported back so a limiter can reconcile its estimate. */
export interface TokenUsage {
  /** Input (prompt) tokens, cached ones included. */
  readonly inputTokens?: number;
  /** Output (completion) tokens, reasoning tokens included. */
  readonly outputTokens?: number;
  /** Total tokens; defaults to input + output when absent. */
  readonly totalTokens?: number;
}

/**
 * What happened to the work a permit admitted. Passed to {@link Permit.release} so gates can
 * learn: breakers count failures, adaptive limits learn latency, limiters reconcile estimates.
 */
export interface Outcome {
  /**
   * `true` when the work succeeded, `false` when it failed, absent when it did not run or its
   * result should be ignored (breakers and adaptive limits skip such outcomes).
   */
  readonly ok?: boolean;
  /** How long the work ran, in milliseconds. */
  readonly durationMs?: number;
  /**
   * Actual cost in the gate's own unit, when it differs from the count acquired. `0` means
   * nothing was used: a reserving gate may refund the whole reservation.
   */
  readonly cost?: number;
  /** Actual LLM token usage, for limiters that reserved an estimate. */
  readonly usage?: TokenUsage;
  /** The error the work failed with, for breakers' failure filters. */
  readonly error?: unknown;
}

/**
 * The outcome a permit is released with when the work never ran (a later pipeline stage
 * refused, or the caller gave up): nothing was used, nothing succeeded or failed.
 */
export const NOT_RUN: Outcome = /* @__PURE__ */ Object.freeze({ cost: 0 });

/**
 * The right to go ahead, handed out by a gate. Release it exactly once when the work is done;
 * a second release is a no-op and never refunds twice.
 */
export interface Permit {
  /** Always `true`: discriminates a permit from a {@link Refusal}. */
  readonly granted: true;
  /**
   * Hands the permit back with what happened. Without an outcome the gate learns nothing (the
   * work's result is ignored) and a reservation is kept as taken.
   *
   * The outcome also settles what the work really cost: a budgeting gate reconciles the units it
   * took to `outcome.cost` (refunding the difference, or debiting the extra), an LLM limiter to
   * `outcome.usage`, and {@link NOT_RUN} (cost 0) gives everything back, once. There is no
   * separate "adjust" step: the actual cost is known when the work ends, and it travels here.
   */
  release(outcome?: Outcome): void;
}

/** Options of {@link Gate.tryAcquire}. */
export interface TryAcquireOptions {
  /**
   * Priority of the request; larger is more urgent. Any finite number; default 0. Gates without
   * priorities ignore it; shedders use it to decide who is refused first.
   */
  readonly priority?: number;
}

/** Options of every wait: {@link Gate.acquire}, and `put`/`take` on buffers. */
export interface WaitOptions {
  /** Aborting it removes the waiter, returns what it held, and rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Longest wait in milliseconds before rejecting with a `WaitTimeoutError`; `0` means "now or
   * never". Default: no limit (`Infinity`). A gate that can predict the wait refuses at once when
   * the prediction exceeds it.
   */
  readonly maxWaitMs?: number | undefined;
}

/**
 * The fairness key of a request: which tenant, user or client it is for. A string or a number
 * (not NaN); keys compare with `SameValueZero`, so `1` and `"1"` are different keys.
 */
export type FairnessKey = string | number;

/** Options of {@link Gate.acquire}. */
export interface AcquireOptions extends WaitOptions, TryAcquireOptions {
  /**
   * The fairness key (tenant) of this request. Gates that serve keys fairly (a
   * `ConcurrencyLimiter` with `fairness`) queue it with the other requests of its key and take
   * turns between keys, so one busy key cannot keep the others waiting; other gates ignore it.
   * Pipelines pass it on to every stage. Default: no key (every such request shares one key).
   */
  readonly key?: FairnessKey | undefined;
}

/** Options of {@link Gate.run}. */
export interface RunOptions extends AcquireOptions {
  /** Count to acquire, in the gate's unit; default 1. */
  readonly count?: number;
}

/** What {@link Gate.run} passes to the function it runs. */
export interface RunContext {
  /** The signal given in the run options, if any; pass it on to the work so it can stop. */
  readonly signal: AbortSignal | undefined;
  /** The permit the work runs under; `run` releases it with the outcome when `fn` settles. */
  readonly permit: Permit;
}

/** A snapshot of a gate's state and counters. The counters only grow. */
export interface GateStats {
  /** Largest count one request can ask for, in the gate's unit (`Infinity` if unbounded). */
  readonly capacity: number;
  /** Units a request could be granted right now, ignoring the queue. */
  readonly available: number;
  /** Requests waiting in `acquire` now. */
  readonly waiting: number;
  /** Units those waiting requests ask for. */
  readonly queued: number;
  /** Requests granted so far (`tryAcquire(0)` probes are not counted; `acquire(0)` is). */
  readonly admitted: number;
  /** Requests that ended without a permit for any reason but the caller's abort. */
  readonly refused: number;
  /** Requests that ended because the caller's signal aborted. */
  readonly cancelled: number;
}

/** Listener of {@link Gate.onAdmit}: the count granted and how long it waited, in ms. */
export type AdmitListener = (count: number, waitedMs: number) => void;

/** Listener of {@link Gate.onRefuse}. */
export type RefuseListener = (refusal: Refusal) => void;

/**
 * The admission contract every sluice gate implements: token buckets, LLM limiters,
 * concurrency limiters, load shedders, circuit breakers, and pipelines of them.
 *
 * Invariant: every request ends exactly once as admitted, refused or cancelled, so at any time
 * `requests = admitted + refused + cancelled + waiting`.
 *
 * @example
 * ```ts
 * const result = gate.tryAcquire();
 * if (result.granted) {
 *   try { await work(); result.release({ ok: true }); }
 *   catch (error) { result.release({ ok: false, error }); throw error; }
 * } else {
 *   console.log(`${result.gate} refused (${result.reason}); retry in ${result.retryAfterMs} ms`);
 * }
 * ```
 */
export interface Gate {
  /** Name used in refusals, errors and metrics. */
  readonly name: string;
  /** Largest count one request can ask for (`Infinity` when unbounded). */
  readonly capacity: number;
  /** 0 when idle, 1 at the configured limit (or with requests queued). */
  readonly pressure: number;
  /**
   * Grants now or refuses now: never waits, never allocates a promise. Does not overtake
   * requests already queued. A `count` of 0 probes: it reports whether one unit is available
   * and takes nothing.
   *
   * @param count - units to take, an integer from 0 to {@link Gate.capacity}; default 1.
   * @throws InvalidArgumentError for a negative, fractional or NaN count.
   * @throws TooLargeError for a count above the capacity (it could never be granted).
   */
  tryAcquire(count?: number, options?: TryAcquireOptions): Permit | Refusal;
  /**
   * Grants now or after a wait; rejects with a `SluiceError` subclass (or the signal's reason
   * when aborted). Waiters are served in order of priority, FIFO within a priority (in gates
   * with fairness, taking turns between keys within a priority).
   *
   * @param count - units to take, an integer from 0 to {@link Gate.capacity}; default 1.
   */
  acquire(count?: number, options?: AcquireOptions): Promise<Permit>;
  /**
   * Acquires, runs `fn`, and releases with the outcome (`ok`, `durationMs`, `error`) whether
   * `fn` returns or throws.
   */
  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T>;
  /** A snapshot of state and counters. */
  stats(): GateStats;
  /**
   * Refuses everything from now on, rejects every waiter with a `ClosedError` and clears every
   * timer. Permits already granted may still be released. Idempotent.
   */
  close(): void;
  /** Subscribes to grants; returns a function that unsubscribes. Free when nobody listens. */
  onAdmit(listener: AdmitListener): Disposer;
  /** Subscribes to refusals (sync refusals and rejected waits); returns an unsubscriber. */
  onRefuse(listener: RefuseListener): Disposer;
}

/**
 * Key of an optional fast path for gates that compose other gates (a pipeline): a gate may
 * implement `[ACQUIRE_NOW](count, priority)`, returning the permit that `acquire(count,
 * { priority })` would grant without waiting (counted as an admission), or `undefined` —
 * counting nothing, changing nothing — when `acquire` would wait or refuse. A pipeline uses it to
 * grant without a promise hop per stage, and falls back to `acquire` for the first stage that
 * returns `undefined`, so that stage's refusal is counted once, by `acquire`.
 *
 * `Symbol.for`, so every copy of sluice agrees on it. `GateBase` implements it.
 */
export const ACQUIRE_NOW: unique symbol = Symbol.for('sluice.acquireNow');

/** A gate offering the {@link ACQUIRE_NOW} fast path. */
export interface AcquireNow {
  /** See {@link ACQUIRE_NOW}. The caller validated `count`. */
  [ACQUIRE_NOW](count: number, priority: number): Permit | undefined;
}

/** True when `gate` offers the {@link ACQUIRE_NOW} fast path. */
export function hasAcquireNow(gate: object): gate is AcquireNow {
  return typeof (gate as Partial<AcquireNow>)[ACQUIRE_NOW] === 'function';
}

/** True when `result` is a permit (narrows `Permit | Refusal`). */
export function isPermit(result: Permit | Refusal): result is Permit {
  return result.granted;
}
