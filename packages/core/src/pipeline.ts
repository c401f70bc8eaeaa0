import { systemClock, type Clock } from './clock.js';
import { ClosedError, InvalidArgumentError, isSluiceError, refusalReasonOf } from './errors.js';
import { Emitter, type Disposer } from './events.js';
import {
  NOT_RUN,
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
import { runWithGate } from './run.js';
import { checkAcquireOptions, checkCount, checkName, checkTryAcquireOptions } from './validate.js';

/** Options of {@link Pipeline}. */
export interface PipelineOptions {
  /** Name used in refusals, errors and metrics; default `"pipeline"`. */
  readonly name?: string;
  /** Time source for `maxWaitMs` across stages and `run` durations; default `systemClock`. */
  readonly clock?: Clock;
}

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

class PipelinePermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(private readonly permits: readonly Permit[]) {}

  release(outcome?: Outcome): void {
    if (this.released) return;
    this.released = true;
    releaseInReverse(this.permits, outcome);
  }

  /** Adjusts every stage permit that is a reservation. */
  adjust(count: number): void {
    if (this.released) return;
    for (const permit of this.permits) permit.adjust?.(count);
  }
}

function isGate(value: unknown): value is Gate {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Gate).tryAcquire === 'function' &&
    typeof (value as Gate).acquire === 'function' &&
    typeof (value as Gate).name === 'string'
  );
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
  /** The smallest capacity of its stages (`Infinity` when empty). */
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
   * @param stages - the gates, in the order they are acquired; the same gate may not appear twice.
   * @throws InvalidArgumentError when a stage is not a gate or appears twice.
   */
  constructor(stages: readonly Gate[], options: PipelineOptions = {}) {
    this.name = checkName('Pipeline', options.name, 'pipeline');
    if (!Array.isArray(stages)) throw new InvalidArgumentError(this.name, 'stages', 'an array of gates', stages);
    stages.forEach((stage, index) => {
      if (!isGate(stage)) throw new InvalidArgumentError(this.name, `stages[${index}]`, 'a Gate', stage);
      if (stages.indexOf(stage) !== index) {
        throw new InvalidArgumentError(this.name, `stages[${index}]`, 'a gate not already in the pipeline', stage);
      }
    });
    this.stages = Object.freeze(stages.slice());
    this.clock = options.clock ?? systemClock;
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
    if (stages.length === 1) {
      // One stage: its own permit already does everything a pipeline permit would.
      const result = (stages[0] as Gate).tryAcquire(count, options);
      return result.granted ? this.admitted(result, count) : this.refused(result, count);
    }
    const permits: Permit[] = [];
    for (const stage of stages) {
      const result = stage.tryAcquire(count, options);
      if (!result.granted) {
        releaseInReverse(permits, NOT_RUN);
        return this.refused(result, count);
      }
      permits.push(result);
    }
    if (count === 0) {
      releaseInReverse(permits, NOT_RUN);
      return EMPTY_PERMIT;
    }
    return this.admitted(new PipelinePermit(permits), count);
  }

  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    try {
      checkCount(count, this.capacity, this.name);
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal !== undefined && signal.aborted) {
      this.cancelledCount++;
      return Promise.reject(signal.reason);
    }
    if (this.closed) {
      this.refused({ granted: false, reason: 'closed', gate: this.name, retryAfterMs: undefined }, 1);
      return Promise.reject(new ClosedError(this.name));
    }
    const start = this.admitEvents.listening ? this.clock.now() : 0;
    this.waitingCount++;
    this.queuedUnits += count;
    return this.acquireStages(count, options).then(
      (permit) => {
        this.settled(count);
        this.admittedCount++;
        if (this.admitEvents.listening) this.admitEvents.emit(count, this.clock.now() - start);
        return permit;
      },
      (error: unknown) => {
        this.settled(count);
        if (signal !== undefined && signal.aborted && error === signal.reason) {
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
      },
    );
  }

  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    return runWithGate(this, this.clock, fn, options);
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

  private async acquireStages(count: number, options: AcquireOptions | undefined): Promise<Permit> {
    const stages = this.stages;
    const permits: Permit[] = [];
    const maxWaitMs = options?.maxWaitMs;
    const deadline = maxWaitMs === undefined || maxWaitMs === Infinity ? Infinity : this.clock.now() + maxWaitMs;
    try {
      for (let i = 0; i < stages.length; i++) {
        let stageOptions = options;
        if (deadline !== Infinity && i > 0) {
          // Each stage gets what is left of the caller's wait budget.
          stageOptions = { ...options, maxWaitMs: Math.max(0, deadline - this.clock.now()) };
        }
        permits.push(await (stages[i] as Gate).acquire(count, stageOptions));
      }
    } catch (error) {
      releaseInReverse(permits, NOT_RUN);
      throw error;
    }
    if (count === 0) {
      releaseInReverse(permits, NOT_RUN);
      return EMPTY_PERMIT;
    }
    return permits.length === 1 ? (permits[0] as Permit) : new PipelinePermit(permits);
  }

  private settled(count: number): void {
    this.waitingCount--;
    this.queuedUnits -= count;
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
