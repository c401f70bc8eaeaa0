import { systemClock, type Clock } from './clock.js';
import { ClosedError, InvalidArgumentError, isSluiceError, refusalReasonOf } from './errors.js';
import { Emitter, type Disposer } from './events.js';
import {
  NOT_RUN,
  hasAcquireNow,
  ACQUIRE_NOW,
  type AcquireOptions,
  type AdmitListener,
  type Gate,
  type GateStats,
  type Outcome,
  type Permit,
  type Refusal,
  type RefuseListener,
  type RunContext,
  type RunOptions,
  type TryAcquireOptions,
} from './gate.js';
import { EMPTY_PERMIT } from './gate-base.js';
import { runHolding } from './run.js';
import {
  checkAcquireOptions,
  checkClock,
  checkCount,
  checkGate,
  checkName,
  checkOptions,
  checkOutcome,
  checkTryAcquireOptions,
  isGate,
  optionKeys,
} from './validate.js';

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /** Name used in refusals, errors and metrics; default `"pipeline"`. */
  readonly name?: string;
  /** Time source for `maxWaitMs` across stages and `run` durations; default `systemClock`. */
  readonly clock?: Clock;
}

const PIPELINE_KEYS = optionKeys<PipelineOptions>()({ name: true, clock: true });

/** Releases `permits` back to front with `outcome`; every one is released even if one throws. */
function releaseInReverse(permits: readonly Permit[], outcome: Outcome | undefined): void {
  let failure: { error: unknown } | undefined;
  for (let i = permits.length - 1; i >= 0; i--) {
    try {
      (permits[i] as Permit).release(outcome);
    } catch (error) {
      failure ??= { error };
    }
  }
  if (failure !== undefined) throw failure.error;
}

/** A chain of stage permits; the once-guard of `ReleaseOncePermit`, written out flat (see there). */
class PipelinePermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly permits: readonly Permit[],
    private readonly gate: string,
  ) {}

  /** Checks the outcome first: a bad one throws before any stage is released. */
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    releaseInReverse(this.permits, outcome);
  }
}

/** The permit for what a pipeline took: nothing, one stage's permit as it is, or a chain. */
function combine(first: Permit | undefined, rest: Permit[] | undefined, gate: string): Permit {
  if (first === undefined) return EMPTY_PERMIT;
  if (rest === undefined) return first;
  rest.unshift(first);
  return new PipelinePermit(rest, gate);
}

/**
 * An ordered chain of gates that is itself a {@link Gate}, so pipelines nest. The usual front
 * door for overload protection is breaker → shedder → rate limiter → concurrency limit.
 *
 * - **Acquire** goes stage by stage, in order; each stage may make the request wait (sharing
 *   what is left of `maxWaitMs`, the same `signal` and `priority`).
 * - **On a refusal or a throw** at stage k, the permits of stages before k are released in
 *   reverse order with `NOT_RUN` (nothing used, so reserving stages refund), and the pipeline
 *   surfaces stage k's own refusal or error (its `gate` names the stage).
 * - **On release** the outcome (ok/failed, duration, actual cost) flows back through every stage,
 *   last to first, exactly once.
 * - **Close** closes every stage: the pipeline owns the gates it is built from.
 *
 * @example
 * ```ts
 * const frontDoor = pipeline(breaker, shedder, limiter);
 * const body = await frontDoor.run(() => fetchUpstream(), { priority: 1 });
 * ```
 */
export class Pipeline implements Gate {
  readonly name: string;
  /** The smallest capacity of its stages. */
  readonly capacity: number;
  /** The stages, in acquisition order. */
  readonly stages: readonly Gate[];

  private readonly clock: Clock;
  private closed = false;
  private admittedCount = 0;
  private refusedCount = 0;
  private cancelledCount = 0;
  private waitingCount = 0;
  private queuedUnits = 0;
  private readonly admitEvents = new Emitter<number, number>();
  private readonly refuseEvents = new Emitter<Refusal>();

  /**
   * @param stages - the gates, in the order they are acquired (at least one); the same gate may
   *   not appear twice.
   * @throws InvalidArgumentError when there is no stage, a stage is not a gate (naming its index)
   *   or appears twice, or for an unknown option.
   */
  constructor(stages: readonly Gate[], options: PipelineOptions = {}) {
    const o = checkOptions('Pipeline', options, PIPELINE_KEYS);
    this.name = checkName('Pipeline', o.name, 'pipeline');
    if (!Array.isArray(stages)) throw new InvalidArgumentError(this.name, 'stages', 'an array of gates', stages);
    if (stages.length === 0) throw new InvalidArgumentError(this.name, 'stages', 'at least one gate', stages);
    stages.forEach((stage, index) => {
      checkGate(this.name, stage, `stages[${index}]`);
      if (stages.indexOf(stage) !== index) {
        throw new InvalidArgumentError(this.name, `stages[${index}]`, 'a gate not already in the pipeline', stage);
      }
    });
    this.stages = Object.freeze(stages.slice());
    this.clock = checkClock(this.name, o.clock) ?? systemClock;
    this.capacity = stages.reduce((min, stage) => Math.min(min, stage.capacity), Infinity);
  }

  /** The largest pressure of its stages. */
  get pressure(): number {
    let pressure = 0;
    for (const stage of this.stages) pressure = Math.max(pressure, stage.pressure);
    return pressure;
  }

  tryAcquire(count = 1, options?: TryAcquireOptions): Permit | Refusal {
    checkCount(count, this.capacity, this.name);
    if (options !== undefined) checkTryAcquireOptions(this.name, options);
    if (this.closed) return this.refused({ granted: false, reason: 'closed', gate: this.name, retryAfterMs: undefined }, count);
    const stages = this.stages;
    // Only permits that do something on release are kept: pass-through stages hand out
    // EMPTY_PERMIT, and a pipeline whose stages all did needs no permit of its own.
    let first: Permit | undefined;
    let rest: Permit[] | undefined;
    for (let i = 0; i < stages.length; i++) {
      const result = (stages[i] as Gate).tryAcquire(count, options);
      if (!result.granted) {
        if (rest !== undefined) releaseInReverse(rest, NOT_RUN);
        first?.release(NOT_RUN);
        return this.refused(result, count);
      }
      if (result === EMPTY_PERMIT) continue;
      if (first === undefined) first = result;
      else (rest ??= []).push(result);
    }
    if (count === 0) {
      if (rest !== undefined) releaseInReverse(rest, NOT_RUN);
      first?.release(NOT_RUN);
      return EMPTY_PERMIT;
    }
    return this.admitted(combine(first, rest, this.name), count);
  }

  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    const result = this.acquireOrWait(count, options);
    return result instanceof Promise ? result : Promise.resolve(result);
  }

  /**
   * `acquire` without a promise when every stage grants at once: the permit itself, else the
   * promise of the wait (or the rejection).
   */
  private acquireOrWait(count: number, options: AcquireOptions | undefined): Permit | Promise<Permit> {
    try {
      checkCount(count, this.capacity, this.name);
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) {
      this.cancelledCount++;
      return Promise.reject(signal.reason);
    }
    if (this.closed) {
      this.refused({ granted: false, reason: 'closed', gate: this.name, retryAfterMs: undefined }, 1);
      return Promise.reject(new ClosedError(this.name));
    }
    // Fast path: every stage that can grant at once does, synchronously (no promise hop per
    // stage). The first stage that cannot is handed to the async path, which calls its
    // `acquire`: that is where a wait or a refusal happens, and is counted, once.
    const stages = this.stages;
    const priority = options?.priority ?? 0;
    let first: Permit | undefined;
    let rest: Permit[] | undefined;
    let index = 0;
    for (; index < stages.length; index++) {
      const stage = stages[index] as Gate;
      const permit = hasAcquireNow(stage) ? stage[ACQUIRE_NOW](count, priority) : undefined;
      if (permit === undefined) break;
      if (permit === EMPTY_PERMIT) continue;
      if (first === undefined) first = permit;
      else (rest ??= []).push(permit);
    }
    if (index === stages.length) {
      this.admittedCount++;
      if (this.admitEvents.listening) this.admitEvents.emit(count, 0);
      if (count !== 0) return combine(first, rest, this.name);
      // acquire(0) waits for availability and takes nothing
      if (rest !== undefined) releaseInReverse(rest, NOT_RUN);
      first?.release(NOT_RUN);
      return EMPTY_PERMIT;
    }
    const taken: Permit[] = first === undefined ? [] : rest === undefined ? [first] : [first, ...rest];
    return this.acquireFrom(index, taken, count, options);
  }

  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidArgumentError(this.name, 'fn', 'a function', fn));
    const signal = options?.signal;
    const result = this.acquireOrWait(options?.count ?? 1, options);
    if (result instanceof Promise) return result.then((permit) => runHolding(permit, this.clock, fn, signal));
    return runHolding(result, this.clock, fn, signal);
  }

  stats(): GateStats {
    let available = Infinity;
    for (const stage of this.stages) available = Math.min(available, stage.stats().available);
    return {
      capacity: this.capacity,
      available,
      waiting: this.waitingCount,
      queued: this.queuedUnits,
      admitted: this.admittedCount,
      refused: this.refusedCount,
      cancelled: this.cancelledCount,
    };
  }

  /** Closes the pipeline and every stage, last to first; waiters in any stage are rejected. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (let i = this.stages.length - 1; i >= 0; i--) (this.stages[i] as Gate).close();
  }

  onAdmit(listener: AdmitListener): Disposer {
    return this.admitEvents.on(listener);
  }

  onRefuse(listener: RefuseListener): Disposer {
    return this.refuseEvents.on(listener);
  }

  /** The async path: acquires stages `index…` one after another, holding `taken`. */
  private async acquireFrom(index: number, taken: Permit[], count: number, options: AcquireOptions | undefined): Promise<Permit> {
    const stages = this.stages;
    const signal = options?.signal;
    const maxWaitMs = options?.maxWaitMs;
    const start = this.clock.now();
    const deadline = maxWaitMs === undefined || maxWaitMs === Infinity ? Infinity : start + maxWaitMs;
    this.waitingCount++;
    this.queuedUnits += count;
    try {
      for (let i = index; i < stages.length; i++) {
        let stageOptions = options;
        if (deadline !== Infinity && i > index) {
          // Each later stage gets what is left of the caller's wait budget.
          stageOptions = { ...options, maxWaitMs: Math.max(0, deadline - this.clock.now()) };
        }
        const permit = await (stages[i] as Gate).acquire(count, stageOptions);
        if (permit !== EMPTY_PERMIT) taken.push(permit);
      }
    } catch (error) {
      this.waitingCount--;
      this.queuedUnits -= count;
      releaseInReverse(taken, NOT_RUN);
      if (signal?.aborted && error === signal.reason) {
        this.cancelledCount++;
      } else {
        this.refusedCount++;
        const reason = refusalReasonOf(error);
        if (reason !== undefined && this.refuseEvents.listening) {
          this.refuseEvents.emit({
            granted: false,
            reason,
            gate: (isSluiceError(error) && error.gate) || this.name,
            retryAfterMs: isSluiceError(error) ? error.retryAfterMs : undefined,
          });
        }
      }
      throw error;
    }
    this.waitingCount--;
    this.queuedUnits -= count;
    this.admittedCount++;
    if (this.admitEvents.listening) this.admitEvents.emit(count, this.clock.now() - start);
    if (count === 0) {
      releaseInReverse(taken, NOT_RUN);
      return EMPTY_PERMIT;
    }
    return taken.length === 0 ? EMPTY_PERMIT : taken.length === 1 ? (taken[0] as Permit) : new PipelinePermit(taken, this.name);
  }

  private admitted(permit: Permit, count: number): Permit {
    if (count === 0) return permit;
    this.admittedCount++;
    if (this.admitEvents.listening) this.admitEvents.emit(count, 0);
    return permit;
  }

  private refused(refusal: Refusal, count: number): Refusal {
    if (count === 0) return refusal;
    this.refusedCount++;
    if (this.refuseEvents.listening) this.refuseEvents.emit(refusal);
    return refusal;
  }
}

/**
 * Composes gates into a {@link Pipeline}: `pipeline(a, b, c)`, or `pipeline({ name, clock }, a, b, c)`.
 * At least one gate is required: `pipeline()` and `pipeline(options)` throw an `InvalidArgumentError`.
 *
 * @example
 * ```ts
 * const gate = pipeline({ name: 'api' }, breaker, limiter, bulkhead);
 * const permit = await gate.acquire();
 * try { await callApi(); permit.release({ ok: true }); }
 * catch (error) { permit.release({ ok: false, error }); throw error; }
 * ```
 */
export function pipeline(...stages: Gate[]): Pipeline;
export function pipeline(options: PipelineOptions, ...stages: Gate[]): Pipeline;
export function pipeline(...args: (Gate | PipelineOptions)[]): Pipeline {
  const first = args[0];
  if (first !== undefined && !isGate(first)) {
    return new Pipeline(args.slice(1) as Gate[], first);
  }
  return new Pipeline(args as Gate[]);
}
