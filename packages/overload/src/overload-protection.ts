import { CircuitBreaker, type CircuitBreakerOptions } from '@sluice/breaker';
import { ConcurrencyLimiter, type ConcurrencyLimiterOptions } from '@sluice/concurrency';
import {
  InvalidArgumentError,
  optionKeys,
  Pipeline,
  checkName,
  checkNumber,
  checkOptions,
  systemClock,
  type AcquireOptions,
  type AdmitListener,
  type Clock,
  type Disposer,
  type Gate,
  type GateStats,
  type Permit,
  type Refusal,
  type RefuseListener,
  type RunContext,
  type TryAcquireOptions,
  checkClock,
  isGate,
} from '@sluice/core';
import { TokenBucket, type TokenBucketOptions } from '@sluice/rate-limit';
import { LoadShedder, type LoadShedderOptions } from '@sluice/shedder';
import { PerRequestStage } from './stages.js';

/** Options of {@link overloadProtection}: each layer is optional, given as a gate or as its options. */
export interface OverloadProtectionOptions {
  /** First layer: fail fast while the backend is failing. A `CircuitBreaker` or its options. */
  readonly breaker?: CircuitBreaker | CircuitBreakerOptions;
  /** Second layer: refuse low-priority work early under load. A `LoadShedder` or its options. */
  readonly shedder?: LoadShedder | LoadShedderOptions;
  /**
   * Third layer: a rate in the request's cost unit (requests, tokens, bytes). Any gate — a
   * `TokenBucket`, `Gcra`, `SlidingWindow`, `AllOf`… — or `TokenBucket` options. A request's
   * permit is reconciled to the actual cost released with it (`outcome.cost`), and a request a
   * later layer refused costs nothing.
   */
  readonly limiter?: Gate | TokenBucketOptions;
  /** Last layer: at most this many at once, the rest queued. A `ConcurrencyLimiter` or its options. */
  readonly concurrency?: ConcurrencyLimiter | ConcurrencyLimiterOptions;
  /** Name used in refusals, errors and metrics; default `"overload-protection"`. */
  readonly name?: string;
  /**
   * Time source for run durations, for `maxWaitMs` across layers, and for layers built here from
   * options that name no clock; default `systemClock`.
   */
  readonly clock?: Clock;
}

/** Options of {@link OverloadProtection.run}. */
export interface ProtectedRunOptions<T> extends AcquireOptions {
  /**
   * What the request costs in the rate limiter's unit (tokens, bytes); default 1. With a
   * limiter, the breaker, shedder and concurrency layers count it as one request whatever its
   * cost; without one, every layer takes it as is.
   */
  readonly cost?: number;
  /**
   * The actual cost, read from the result, when it differs from the estimate in `cost`: the
   * limiter refunds the difference or debits the extra. Default: the estimate stands.
   */
  readonly actualCost?: (result: T) => number;
}

const OVERLOAD_PROTECTION_KEYS = optionKeys<OverloadProtectionOptions>()({
  breaker: true,
  shedder: true,
  limiter: true,
  concurrency: true,
  name: true,
  clock: true,
});

/**
 * The front door of a service under load: circuit breaker → load shedder → rate limiter →
 * concurrency limit, each optional, composed with the core `pipeline` and itself a `Gate`.
 *
 * A request passes the layers in that order, so the cheapest refusal comes first: an open
 * circuit refuses before anything is counted, a shed request never takes a rate-limit token,
 * and a request refused by a later layer gives back what the earlier ones granted (its limiter
 * tokens are refunded). When the work ends its outcome flows back through every layer: a
 * failure reaches the breaker, the duration reaches the adaptive concurrency limit and the
 * shedder, and the actual cost reaches the limiter.
 *
 * With a limiter, the gate's count is the request's cost in the limiter's unit and the other
 * layers take one unit per request; without one, every layer takes the count as it is. Refusals name the layer that refused (`gate`) with its reason and `retryAfterMs`.
 *
 * @example
 * ```ts
 * const door = overloadProtection({
 *   breaker: { trip: consecutiveFailures(5), halfOpenAfterMs: 5_000 },
 *   shedder: { capacity: 200 },
 *   limiter: { ratePerSecond: 100, burst: 20 },
 *   concurrency: { maxConcurrent: 50, queueLimit: 100 },
 * });
 * const body = await door.run(() => callBackend(), { priority: 1, maxWaitMs: 500 });
 * ```
 */
export class OverloadProtection implements Gate {
  readonly name: string;
  /** The breaker layer, if any. */
  readonly breaker: CircuitBreaker | undefined;
  /** The shedder layer, if any. */
  readonly shedder: LoadShedder | undefined;
  /** The rate-limit layer, if any. */
  readonly limiter: Gate | undefined;
  /** The concurrency layer, if any. */
  readonly concurrency: ConcurrencyLimiter | undefined;
  /** The pipeline the layers form. */
  readonly pipeline: Pipeline;
  private readonly clock: Clock;

  /** @throws InvalidArgumentError for a bad layer or option, or when no layer is given. */
  constructor(options: OverloadProtectionOptions) {
    const o = checkOptions('OverloadProtection', options, OVERLOAD_PROTECTION_KEYS);
    const name = checkName('OverloadProtection', o.name, 'overload-protection');
    const clock = checkClock(name, o.clock) ?? systemClock;
    this.name = name;
    this.clock = clock;
    const withClock = <T extends { readonly clock?: Clock | undefined }>(layerOptions: T): T =>
      layerOptions.clock === undefined ? { ...layerOptions, clock } : layerOptions;
    this.breaker = layer<CircuitBreaker, CircuitBreakerOptions>(
      name,
      'breaker',
      o.breaker,
      CircuitBreaker,
      (opts) => new CircuitBreaker(withClock(opts)),
    );
    this.shedder = layer<LoadShedder, LoadShedderOptions>(
      name,
      'shedder',
      o.shedder,
      LoadShedder,
      (opts) => new LoadShedder(withClock(opts)),
    );
    this.limiter =
      o.limiter === undefined
        ? undefined
        : isGate(o.limiter)
          ? o.limiter
          : layerFromOptions(name, 'limiter', o.limiter, (opts) => new TokenBucket(withClock(opts)));
    this.concurrency = layer<ConcurrencyLimiter, ConcurrencyLimiterOptions>(
      name,
      'concurrency',
      o.concurrency,
      ConcurrencyLimiter,
      (opts) => new ConcurrencyLimiter(withClock(opts)),
    );
    // With a limiter the count is its cost unit and the other layers count requests; without
    // one, every layer takes the count as it is (a plain pipeline).
    const perRequest = (gate: Gate): Gate => (this.limiter === undefined ? gate : new PerRequestStage(gate));
    const stages: Gate[] = [];
    if (this.breaker !== undefined) stages.push(perRequest(this.breaker));
    if (this.shedder !== undefined) stages.push(perRequest(this.shedder));
    // a budgeting gate reconciles its own permit to `outcome.cost` (a refusal by the
    // concurrency layer releases it as NOT_RUN: the request costs nothing)
    if (this.limiter !== undefined) stages.push(this.limiter);
    if (this.concurrency !== undefined) stages.push(perRequest(this.concurrency));
    if (stages.length === 0) {
      throw new InvalidArgumentError(name, 'options', 'at least one of breaker, shedder, limiter, concurrency', options);
    }
    this.pipeline = new Pipeline(stages, { name, clock });
  }

  /** The largest cost one request may have: the limiter's capacity (`Infinity` without one). */
  get capacity(): number {
    return this.pipeline.capacity;
  }

  /** The largest pressure of the layers. */
  get pressure(): number {
    return this.pipeline.pressure;
  }

  /** Takes `cost` (default 1) now through every layer, or refuses naming the layer that said no. */
  tryAcquire(cost = 1, options?: TryAcquireOptions): Permit | Refusal {
    return this.pipeline.tryAcquire(cost, options);
  }

  /** Takes `cost` (default 1) through every layer, waiting where a layer queues. */
  acquire(cost = 1, options?: AcquireOptions): Promise<Permit> {
    return this.pipeline.acquire(cost, options);
  }

  /**
   * Acquires `options.cost` (or `options.count`, default 1), runs `fn`, and releases through
   * every layer with `{ ok, durationMs, error, cost }` whether `fn` returns or throws.
   */
  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: ProtectedRunOptions<T> & { readonly count?: number }): Promise<T> {
    let cost: number;
    const actualCost = options?.actualCost;
    try {
      if (typeof fn !== 'function') throw new InvalidArgumentError(this.name, 'fn', 'a function', fn);
      cost = checkNumber(this.name, 'cost', options?.cost ?? options?.count ?? 1, { min: 0, integer: true });
      if (actualCost !== undefined && typeof actualCost !== 'function') {
        throw new InvalidArgumentError(this.name, 'actualCost', 'a function of the result', actualCost);
      }
    } catch (error) {
      return Promise.reject(error);
    }
    const runOptions = options === undefined || (options.count ?? 1) === cost ? options : { ...options, count: cost };
    if (actualCost === undefined) return this.pipeline.run(fn, runOptions);
    const clock = this.clock;
    return this.pipeline.run(async (context) => {
      const start = clock.now();
      const value = await fn(context);
      let actual: number | undefined;
      try {
        actual = actualCost(value);
      } catch {
        actual = undefined; // a failing cost reader leaves the estimate standing
      }
      // settled here with the actual cost; the pipeline's own release after this is a no-op
      if (actual !== undefined && Number.isInteger(actual) && actual >= 0) {
        context.permit.release({ ok: true, durationMs: clock.now() - start, cost: actual });
      }
      return value;
    }, runOptions);
  }

  /** The pipeline's counters: requests admitted, refused (by any layer), cancelled, waiting. */
  stats(): GateStats {
    return this.pipeline.stats();
  }

  /** Closes every layer; waiters in any layer are rejected with a `ClosedError`. */
  close(): void {
    this.pipeline.close();
  }

  onAdmit(listener: AdmitListener): Disposer {
    return this.pipeline.onAdmit(listener);
  }

  onRefuse(listener: RefuseListener): Disposer {
    return this.pipeline.onRefuse(listener);
  }
}

function layerFromOptions<O extends object, G>(name: string, option: string, value: O, build: (options: O) => G): G {
  if (typeof value !== 'object' || value === null) throw new InvalidArgumentError(name, option, 'a gate or its options', value);
  return build(value);
}

function layer<G extends Gate, O extends object>(
  name: string,
  option: string,
  value: G | O | undefined,
  type: abstract new (...args: never[]) => G,
  build: (options: O) => G,
): G | undefined {
  if (value === undefined) return undefined;
  if (value instanceof type) return value;
  if (isGate(value)) throw new InvalidArgumentError(name, option, `a ${type.name} or its options`, value);
  return layerFromOptions(name, option, value as O, build);
}

/** Creates an {@link OverloadProtection}. */
export function overloadProtection(options: OverloadProtectionOptions): OverloadProtection {
  return new OverloadProtection(options);
}
