import {
  ReleaseOncePermit,
  ACQUIRE_NOW,
  hasAcquireNow,
  type AcquireNow,
  type AcquireOptions,
  type AdmitListener,
  type Disposer,
  type Gate,
  type GateStats,
  type Outcome,
  type Permit,
  type Refusal,
  type RefuseListener,
  type RunContext,
  type RunOptions,
  type TryAcquireOptions,
} from '@sluice/core';

/** What every stage wrapper forwards to the gate it wraps unchanged. */
abstract class StageWrapper<G extends Gate> implements Gate, AcquireNow {
  /** @param inner - the gate this stage wraps. */
  constructor(
    /** The wrapped gate. */
    readonly inner: G,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  get pressure(): number {
    return this.inner.pressure;
  }
  abstract readonly capacity: number;
  abstract tryAcquire(count?: number, options?: TryAcquireOptions): Permit | Refusal;
  abstract acquire(count?: number, options?: AcquireOptions): Promise<Permit>;
  abstract [ACQUIRE_NOW](count: number, priority: number): Permit | undefined;
  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    return this.inner.run(fn, options);
  }
  stats(): GateStats {
    return this.inner.stats();
  }
  close(): void {
    this.inner.close();
  }
  onAdmit(listener: AdmitListener): Disposer {
    return this.inner.onAdmit(listener);
  }
  onRefuse(listener: RefuseListener): Disposer {
    return this.inner.onRefuse(listener);
  }
}

/**
 * A stage that takes one unit of `inner` per request whatever the count asked for: the
 * pipeline's count is the rate limiter's cost (tokens, bytes), while a breaker, a shedder and a
 * concurrency limit count requests. A probe (count 0) stays a probe.
 */
export class PerRequestStage<G extends Gate> extends StageWrapper<G> {
  /** Any count: each request takes one unit of the wrapped gate. */
  readonly capacity = Infinity;

  /** `tryAcquire(1)` (or the probe `tryAcquire(0)`) on the wrapped gate, whatever `count` is. */
  tryAcquire(count = 1, options?: TryAcquireOptions): Permit | Refusal {
    return this.inner.tryAcquire(count === 0 ? 0 : 1, options);
  }

  /** `acquire(1)` (or `acquire(0)`) on the wrapped gate, whatever `count` is. */
  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    return this.inner.acquire(count === 0 ? 0 : 1, options);
  }

  /** The wrapped gate's fast path for one unit; see `ACQUIRE_NOW` in `@sluice/core`. */
  [ACQUIRE_NOW](count: number, priority: number): Permit | undefined {
    const inner = this.inner;
    return hasAcquireNow(inner) ? inner[ACQUIRE_NOW](count === 0 ? 0 : 1, priority) : undefined;
  }
}

/**
 * A rate limiter that can give back and take more after the fact (`RateLimiter`, `AllOf`).
 *
 * @deprecated See {@link ReconcilingStage}. Kept for one release.
 */
export interface ReconcilableLimiter extends Gate {
  /** Gives back units granted but not used. */
  refund(count: number): void;
  /** Takes more units than were granted, into debt if need be. */
  debit(count: number): void;
}

/**
 * True when `gate` can be reconciled after the fact.
 *
 * @deprecated Reconciliation travels with `permit.release({ cost })` on every budgeting gate;
 * no caller needs to test for `refund`/`debit`. Kept for one release.
 */
export function isReconcilable(gate: Gate): gate is ReconcilableLimiter {
  return (
    typeof (gate as Partial<ReconcilableLimiter>).refund === 'function' &&
    typeof (gate as Partial<ReconcilableLimiter>).debit === 'function'
  );
}

class ReconcilingPermit extends ReleaseOncePermit {
  constructor(
    private readonly limiter: ReconcilableLimiter,
    private readonly permit: Permit,
    private readonly count: number,
  ) {
    super(limiter.name);
  }

  protected settle(outcome: Outcome | undefined): void {
    const actual = outcome?.cost;
    if (actual !== undefined && Number.isInteger(actual) && actual >= 0 && actual !== this.count) {
      if (actual < this.count) this.limiter.refund(this.count - actual);
      else this.limiter.debit(actual - this.count);
    }
    // the difference is settled above: a limiter that reconciles its own permits must not
    // settle it again, so the inner permit is released as costing what it was granted
    this.permit.release(actual === undefined ? outcome : { ...outcome, cost: this.count });
  }
}

/**
 * A rate-limit stage whose permit settles the actual cost: released with `outcome.cost` below
 * what was taken it refunds the difference (`NOT_RUN`, cost 0, refunds everything: a request a
 * later stage refused costs nothing), above it debits the extra.
 *
 * @deprecated Every budgeting gate now reconciles its own permits on release (the `Permit`
 * contract), so this wrapper adds nothing; `overloadProtection` no longer uses it. Pass the
 * limiter itself. Kept for one release.
 */
export class ReconcilingStage<G extends ReconcilableLimiter> extends StageWrapper<G> {
  /** The wrapped limiter's capacity. */
  get capacity(): number {
    return this.inner.capacity;
  }

  /** `tryAcquire(count)` on the limiter; a grant comes back as a reconciling permit. */
  tryAcquire(count = 1, options?: TryAcquireOptions): Permit | Refusal {
    const result = this.inner.tryAcquire(count, options);
    return result.granted && count !== 0 ? new ReconcilingPermit(this.inner, result, count) : result;
  }

  /** `acquire(count)` on the limiter; a grant comes back as a reconciling permit. */
  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    const granted = this.inner.acquire(count, options);
    return count === 0 ? granted : granted.then((permit) => new ReconcilingPermit(this.inner, permit, count));
  }

  /** The limiter's fast path, its grant wrapped in a reconciling permit. */
  [ACQUIRE_NOW](count: number, priority: number): Permit | undefined {
    const inner = this.inner;
    if (!hasAcquireNow(inner)) return undefined;
    const permit = inner[ACQUIRE_NOW](count, priority);
    return permit === undefined || count === 0 ? permit : new ReconcilingPermit(inner, permit, count);
  }
}
