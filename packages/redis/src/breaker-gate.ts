import {
  GateBase,
  StoreUnavailableError,
  checkAcquireOptions,
  checkCount,
  checkName,
  checkOptions,
  checkOutcome,
  optionKeys,
  type AcquireOptions,
  type Clock,
  type Outcome,
  type Permit,
  type Refusal,
  type RefusalReason,
  type TryAcquireOptions,
} from '@sluice/core';

/** @internal One admission of the shared circuit, as {@link SharedBreakerBackend.admit} gives it. */
export type BreakerAdmission =
  /** Admitted by Redis: `settle(failed)` records the outcome (a trial's, or a failure). */
  | { readonly kind: 'admit'; readonly settle: (failed: boolean | undefined) => void }
  /** Refused by Redis: open, or half-open with the trial held elsewhere. */
  | { readonly kind: 'open'; readonly retryAfterMs: number }
  /** Redis did not answer: the failure policy's permit or refusal. */
  | { readonly kind: 'fallback'; readonly result: Permit | Refusal | undefined };

/** @internal What a {@link SharedBreakerGate} needs from its `SharedCircuitBreaker`. */
export interface SharedBreakerBackend {
  /** The breaker's name. */
  readonly name: string;
  /** One admission round trip (or the failure policy). */
  admit(): Promise<BreakerAdmission>;
  /** Whether an outcome's error counts as a failure (`isFailure`). */
  judge(error: unknown): boolean;
  /** The last state seen in Redis. */
  readonly state: string;
  /** Probe interval of the failure policy, ms (the hint while the store is down under fail-closed). */
  readonly probeIntervalMs: number;
}

/** Options of a {@link SharedBreakerGate} (through `SharedCircuitBreaker.gate(options)`). */
export interface SharedBreakerGateOptions {
  /** Name in refusals, errors and metrics; default the breaker's name. */
  readonly name?: string;
}

/** A permit of the shared circuit: releasing it records the outcome once. */
class BreakerPermit implements Permit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly gate: string,
    private readonly settle: (outcome: Outcome | undefined) => void,
  ) {}
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.settle(outcome);
  }
}

/**
 * A {@link SharedCircuitBreaker} as a sluice `Gate`, to put in a `pipeline` (breaker → shedder →
 * limiter), `overloadProtection` or a stream's `throttle`, as an in-memory `CircuitBreaker` goes.
 *
 * It never queues (as the in-memory breaker): `acquire` and {@link SharedBreakerGate.tryAcquireNow}
 * make one round trip and admit (closed, or this caller claimed the single half-open trial) or
 * refuse with reason `circuit-open` and `retryAfterMs` until the trial (`acquire` rejects with a
 * `CircuitOpenError`). The permit records the outcome on release: `{ ok: false }` with an
 * error that `isFailure` counts is a failure, `{ ok: true }` a success (it matters for a trial);
 * an outcome without `ok` (`NOT_RUN`) records nothing — a trial that did not run keeps its claim
 * until `halfOpenTrialMs` passes. While Redis does not answer: `fail-closed` refuses (`acquire`
 * rejects with a `StoreUnavailableError`), `fail-open` admits, `insurance` asks the local breaker.
 *
 * Synchronous `tryAcquire` cannot ask Redis, so it only refuses (`circuit-open` while the last
 * state seen is not closed, else `exhausted` without a hint); use `tryAcquireNow` or `acquire`.
 * `capacity` is `Number.MAX_SAFE_INTEGER`: a breaker counts calls, not units.
 */
export class SharedBreakerGate extends GateBase {
  /** A breaker has no budget of its own. */
  readonly capacity = Number.MAX_SAFE_INTEGER;
  private arriving: Permit | undefined = undefined;
  private refusedWith: { reason: RefusalReason; retryAfterMs: number | undefined; error: Error | undefined } | undefined = undefined;

  /**
   * Use `SharedCircuitBreaker.gate()`.
   * @throws InvalidArgumentError for a bad option.
   * @hidden
   */
  constructor(
    private readonly backend: SharedBreakerBackend,
    clock: Clock,
    options: SharedBreakerGateOptions = {},
  ) {
    super({ name: checkName('SharedBreakerGate', options.name, backend.name), clock, queueLimit: 0 });
  }

  /**
   * The authoritative now-or-never: one round trip. Resolves with a permit (closed, or the
   * trial), or a refusal (`circuit-open` with `retryAfterMs`; `closed` after `close()`).
   *
   * @throws InvalidArgumentError for a bad count or option.
   */
  async tryAcquireNow(count = 1, options?: TryAcquireOptions): Promise<Permit | Refusal> {
    checkCount(count, this.capacity, this.name);
    if (this.isClosed) return this.tryAcquire(count, options);
    await this.askStore();
    try {
      return this.tryAcquire(count, options);
    } finally {
      this.settleLeftover();
    }
  }

  /**
   * One round trip, then as in memory: a permit (closed, or the trial), or a rejection with the
   * error of the refusal (`CircuitOpenError` with `retryAfterMs` while open; `ClosedError` after
   * `close()`). A breaker never queues.
   */
  override acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    try {
      checkCount(count, this.capacity, this.name);
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.isClosed || options?.signal?.aborted === true) return super.acquire(count, options);
    return this.askStore().then(() => {
      const error = this.arriving === undefined ? this.refusedWith?.error : undefined;
      const result = error === undefined ? super.acquire(count, options) : Promise.reject(error);
      this.settleLeftover();
      return result;
    });
  }

  protected tryTake(): boolean {
    return this.arriving !== undefined;
  }

  protected override permitFor(): Permit {
    const permit = this.arriving as Permit;
    this.arriving = undefined;
    return permit;
  }

  protected availableUnits(): number {
    return this.arriving === undefined ? 0 : 1;
  }

  protected override refusalReason(): RefusalReason {
    return this.refusedWith?.reason ?? (this.backend.state === 'closed' ? 'exhausted' : 'circuit-open');
  }

  protected override estimateWaitMs(): number | undefined {
    return this.refusedWith?.retryAfterMs;
  }

  /** One admission round trip: leaves a permit in `arriving`, or the refusal in `refusedWith`. */
  private async askStore(): Promise<void> {
    this.arriving = undefined;
    this.refusedWith = undefined;
    const admission = await this.backend.admit();
    if (admission.kind === 'admit') {
      this.arriving = new BreakerPermit(this.name, (outcome) => {
        if (outcome?.ok === undefined) admission.settle(undefined);
        else admission.settle(outcome.ok === false && this.backend.judge(outcome.error));
      });
    } else if (admission.kind === 'open') {
      this.refusedWith = { reason: 'circuit-open', retryAfterMs: Math.max(0, Math.ceil(admission.retryAfterMs)), error: undefined };
    } else if (admission.result === undefined) {
      const retryAfterMs = this.backend.probeIntervalMs;
      this.refusedWith = {
        reason: 'exhausted',
        retryAfterMs,
        error: new StoreUnavailableError(this.name, 'the store did not answer', retryAfterMs),
      };
    } else if (admission.result.granted) {
      this.arriving = admission.result;
    } else {
      this.refusedWith = { reason: admission.result.reason, retryAfterMs: admission.result.retryAfterMs, error: undefined };
    }
  }

  /** An admission nobody took (aborted meanwhile, closed): recorded as not run. */
  private settleLeftover(): void {
    const left = this.arriving;
    this.arriving = undefined;
    this.refusedWith = undefined;
    left?.release();
  }
}

const BREAKER_GATE_KEYS = optionKeys<SharedBreakerGateOptions>()({ name: true });

/** @internal Checks `gate()` options before a gate is made. */
export function checkBreakerGateOptions(where: string, options: unknown): SharedBreakerGateOptions {
  if (options === undefined) return {};
  return checkOptions(where, options as SharedBreakerGateOptions, BREAKER_GATE_KEYS);
}
