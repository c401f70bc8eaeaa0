import {
  Emitter,
  GateBase,
  InvalidArgumentError,
  ReleaseOncePermit,
  optionKeys,
  TooLargeError,
  checkName,
  checkNumber,
  checkOptions,
  type AcquireOptions,
  type Clock,
  type Disposer,
  type Outcome,
  type Permit,
  type Refusal,
  type TimerHandle,
  type TryAcquireOptions,
} from '@sluice/core';
import { Buckets, DIMENSIONS, Dim, WINDOW_MS, costVector } from './buckets.js';
import { classify } from './classify.js';
import { limiterFetch, type FetchFunction } from './fetch.js';
import { parseRateLimitHeaders, wallClockFromDateHeader } from './headers.js';
import type { Dimension, HeadersLike, RateLimitSnapshot, Triage } from './types.js';

/** Options of {@link LlmLimiter}. At least one limit is required; all are per the provider's quota. */
export interface LlmLimiterOptions {
  /** Requests per minute (RPM). */
  readonly requestsPerMinute?: number;
  /** Tokens per minute (TPM), input and output together. */
  readonly tokensPerMinute?: number;
  /** Input tokens per minute (Anthropic ITPM). */
  readonly inputTokensPerMinute?: number;
  /** Output tokens per minute (Anthropic OTPM). */
  readonly outputTokensPerMinute?: number;
  /** Requests per day (RPD). */
  readonly requestsPerDay?: number;
  /** Tokens per day (TPD). */
  readonly tokensPerDay?: number;
  /**
   * Share of every limit kept unused, [0, 0.9]: 0.1 plans for 90 % of each quota, leaving room
   * for other clients of the same key and for estimates that come out low. Default 0.
   */
  readonly headroom?: number;
  /**
   * Most tokens (total reservations) that may wait; beyond it `acquire` is refused with
   * `queue-full`. Default: ten minutes of the tightest per-minute token limit, or 10,000
   * requests' worth without a token limit.
   */
  readonly queueLimit?: number;
  /** A waiter of lower priority that has waited this long (ms) is served next; default 10,000. */
  readonly maxStarvationMs?: number;
  /** Name used in refusals, errors and metrics; default `"llm"`. */
  readonly name?: string;
  /** Monotonic time source; default `systemClock`. */
  readonly clock?: Clock;
  /**
   * Wall-clock ms since the epoch, used only to turn absolute reset times (RFC 3339, epoch) in
   * provider headers into monotonic ones when a response has no `Date` header. Default
   * `Date.now`.
   */
  readonly wallClock?: () => number;
}

/** What one call will use: its input tokens (estimated) and the most output it may produce. */
export interface LlmRequest {
  /** Input (prompt) tokens, estimated; an integer ≥ 0. Default 0. */
  readonly inputTokens?: number;
  /** The request's output cap (`max_tokens`), reserved in full as providers do; an integer ≥ 0. Default 0. */
  readonly maxOutputTokens?: number;
}

/** A reservation of an {@link LlmLimiter}. */
export interface LlmPermit extends Permit {
  /** Input tokens reserved. */
  readonly inputTokens: number;
  /** Output tokens reserved. */
  readonly maxOutputTokens: number;
  /**
   * Settles the reservation. With `{ usage }` it is reconciled to the actual usage: unused
   * tokens are refunded, extra ones debited. With `NOT_RUN` (or `cost: 0`) everything is
   * refunded, the request included. With no usage (a stream cut off before it reported) the
   * reservation is kept as taken, as the provider will have charged it. Only the first release
   * counts.
   */
  release(outcome?: Outcome): void;
}

/** Why intake paused: the provider answered 429/529/503 with a wait, or `pause()` was called. */
export interface PauseEvent {
  /** Pause length from now, ms. */
  readonly durationMs: number;
  /** The triage that caused it, when it came from a response. */
  readonly triage: Triage | undefined;
}

/** What {@link LlmLimiter.observe} read from a response. */
export interface LlmObservation {
  /** The rate-limit headers, parsed. */
  readonly snapshot: RateLimitSnapshot;
  /** The response's triage, when a status was given. */
  readonly triage: Triage | undefined;
  /** Dimensions whose local bucket was lowered to the provider's view. */
  readonly corrected: readonly Dimension[];
}

/** A response as `observe` accepts it: a Fetch `Response`, or any `{ status, headers }`. */
export interface ResponseLike {
  /** HTTP status. */
  readonly status: number;
  /** Its headers. */
  readonly headers: HeadersLike;
}

const DEFAULT_PAUSE_LIMIT_MS = 10 * 60_000;

/** The keys of an {@link LlmRequest}, also checked by the router. */
export const LLM_REQUEST_KEYS = optionKeys<LlmRequest>()({ inputTokens: true, maxOutputTokens: true });

const LLM_LIMITER_KEYS = optionKeys<LlmLimiterOptions>()({
  requestsPerMinute: true,
  tokensPerMinute: true,
  inputTokensPerMinute: true,
  outputTokensPerMinute: true,
  requestsPerDay: true,
  tokensPerDay: true,
  headroom: true,
  queueLimit: true,
  maxStarvationMs: true,
  name: true,
  clock: true,
  wallClock: true,
});

/**
 * An LLM provider quota as a gate: one continuously refilling bucket per dimension (RPM, TPM,
 * input/output TPM, per-day limits — the providers' own model, not fixed minute windows).
 *
 * - **Atomic admission**: a request is admitted only when every dimension has room, and then
 *   debited in all of them at once; nothing is held while it waits, so a large request does not
 *   sit on RPM while it waits for TPM. Waiters are served FIFO (by priority first), with
 *   `signal` and `maxWaitMs`.
 * - **Reservations**: `acquire({ inputTokens, maxOutputTokens })` reserves input + the whole
 *   output cap, as providers charge up front; `permit.release({ usage })` reconciles to what was
 *   used. A request that could never fit a bucket is refused at once with a `TooLargeError`
 *   (shrink it), never queued.
 * - **Provider sync**: `observe(response)` reads the provider's rate-limit headers (OpenAI,
 *   Anthropic, Azure, Gemini, OpenAI-compatible) and lowers local buckets to what the provider
 *   says is left; a retryable 429/529/503 pauses intake for the whole limiter until the hinted
 *   time (`onPause`/`onResume`), so waiters do not all hammer the provider.
 *
 * `count` in the plain `Gate` methods is in the limiter's unit: tokens (with one request) when a
 * token limit is set, else requests; `capacity`, `queueLimit` and stats use the same unit.
 *
 * @example
 * ```ts
 * const limiter = new LlmLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000, headroom: 0.05 });
 * const permit = await limiter.acquire({ inputTokens: 1_200, maxOutputTokens: 800 });
 * const response = await callModel();
 * limiter.observe(response);
 * permit.release({ ok: true, usage: { inputTokens: 1_180, outputTokens: 312 } });
 * ```
 */
export class LlmLimiter extends GateBase<Float64Array> {
  /**
   * Largest count one request may ask for, in the limiter's unit: tokens (input + output) when
   * it has a token limit, else requests.
   */
  readonly capacity: number;
  /** True when the plain-count unit is tokens (some token limit is set), false when it is requests. */
  readonly countsTokens: boolean;
  /** Share of every limit kept unused. */
  readonly headroom: number;

  private readonly buckets: Buckets;
  private readonly wallClock: () => number;
  private pausedUntilMs = Number.NEGATIVE_INFINITY;
  private pauseTimer: TimerHandle | undefined;
  private pauseEvents: Emitter<PauseEvent> | undefined;
  private resumeEvents: Emitter<void> | undefined;
  private boundFetch: FetchFunction | undefined;

  /** @throws InvalidArgumentError naming a bad option, or when no limit is given. */
  constructor(options: LlmLimiterOptions) {
    const o = checkOptions('LlmLimiter', options, LLM_LIMITER_KEYS);
    const name = checkName('LlmLimiter', o.name, 'llm');
    const limitOf = (option: string, value: unknown): number | undefined =>
      value === undefined ? undefined : checkNumber(name, option, value, { min: 0, exclusiveMin: true });
    const limits = [
      limitOf('requestsPerMinute', o.requestsPerMinute),
      limitOf('tokensPerMinute', o.tokensPerMinute),
      limitOf('inputTokensPerMinute', o.inputTokensPerMinute),
      limitOf('outputTokensPerMinute', o.outputTokensPerMinute),
      limitOf('requestsPerDay', o.requestsPerDay),
      limitOf('tokensPerDay', o.tokensPerDay),
    ];
    if (limits.every((limit) => limit === undefined)) {
      throw new InvalidArgumentError(
        name,
        'options',
        'at least one of requestsPerMinute, tokensPerMinute, inputTokensPerMinute, outputTokensPerMinute, requestsPerDay, tokensPerDay',
        options,
      );
    }
    const headroom = checkNumber(name, 'headroom', o.headroom ?? 0, { min: 0, max: 0.9 });
    const tokenCapacity = Math.min(
      ...[Dim.Tokens, Dim.TokensPerDay].map((i) => (limits[i] === undefined ? Infinity : (limits[i] as number) * (1 - headroom))),
    );
    const minuteTokens = limits[Dim.Tokens] ?? limits[Dim.Input] ?? limits[Dim.Output];
    const defaultQueue = minuteTokens === undefined ? 10_000 : Math.ceil(minuteTokens * 10);
    const queueLimit = checkNumber(name, 'queueLimit', o.queueLimit ?? defaultQueue, { min: 0, integer: true });
    super({ name, clock: o.clock, queueLimit, maxStarvationMs: o.maxStarvationMs });
    if (o.wallClock !== undefined && typeof o.wallClock !== 'function') {
      throw new InvalidArgumentError(name, 'wallClock', 'a function returning ms since the epoch', o.wallClock);
    }
    this.wallClock = o.wallClock ?? (() => Date.now());
    this.headroom = headroom;
    this.buckets = new Buckets(limits, headroom, this.clock.now());
    this.countsTokens = tokenCapacity !== Infinity || limits[Dim.Input] !== undefined || limits[Dim.Output] !== undefined;
    const requestCapacity = Math.min(this.buckets.capacity[Dim.Requests] as number, this.buckets.capacity[Dim.RequestsPerDay] as number);
    this.capacity = Math.floor(this.countsTokens ? tokenCapacity : requestCapacity);
  }

  /** The dimensions this limiter enforces. */
  get dimensions(): readonly Dimension[] {
    return this.buckets.active.map((i) => DIMENSIONS[i] as Dimension);
  }

  /** Units left now in `dimension` (may be negative while a debit is paid off); `Infinity` if not enforced. */
  remaining(dimension: Dimension): number {
    const i = DIMENSIONS.indexOf(dimension);
    if (i < 0) throw new InvalidArgumentError(this.name, 'dimension', `one of ${DIMENSIONS.join(', ')}`, dimension);
    this.buckets.refill(this.clock.now());
    return this.buckets.levelOf(i);
  }

  /**
   * A `fetch` that goes through this limiter (`globalThis.fetch`, looked up at each call): pass
   * it as the `fetch` option of the `openai` or `@anthropic-ai/sdk` client. It estimates the
   * request's tokens, reserves, forwards, observes the response and reconciles from its usage,
   * streamed responses included. For options (estimator, priorities, another fetch) use
   * `wrapFetch`.
   *
   * @deprecated Use `limiterFetch(limiter)` (same behaviour, a new function per call). This
   * getter is the one reference from the limiter to the fetch wrapper and its SSE usage parser
   * (about 9 KB minified, 3 KB gzipped, of the 19 KB gzipped an `LlmLimiter` import costs): once
   * it is removed in the next minor release, a bundle that uses the limiter without `fetch`
   * leaves them out.
   */
  get fetch(): FetchFunction {
    return (this.boundFetch ??= limiterFetch(this));
  }

  /**
   * The most `dimension` can hold: its limit × (1 − headroom), in requests or tokens; `Infinity`
   * when the dimension is not enforced.
   */
  capacityOf(dimension: Dimension): number {
    const i = DIMENSIONS.indexOf(dimension);
    if (i < 0) throw new InvalidArgumentError(this.name, 'dimension', `one of ${DIMENSIONS.join(', ')}`, dimension);
    return this.buckets.capacity[i] as number;
  }

  /**
   * Ms until a request of this cost could be admitted, if nothing else arrives (0 when it fits
   * now; the queue ahead and a pause count). For choosing among limiters, not a promise.
   */
  waitEstimateMs(request: LlmRequest): number {
    const { count, cost } = this.costOf(request);
    return this.estimateWaitMs(count, this.waitingUnits, 0, cost);
  }

  /** True while intake is paused after a retryable 429/529/503 (or a `pause()` call). */
  get isPaused(): boolean {
    return this.clock.now() < this.pausedUntilMs;
  }

  // ---- acquiring ----

  /**
   * Reserves now or refuses now. A number is that many tokens (and one request); an
   * {@link LlmRequest} reserves its input plus its whole output cap.
   *
   * @throws TooLargeError when the request could never fit one of the buckets.
   */
  override tryAcquire(request: number | LlmRequest = 1, options?: TryAcquireOptions): LlmPermit | Refusal {
    const { count, cost } = this.costOf(request);
    return this.decide(count, options, cost) as LlmPermit | Refusal;
  }

  /**
   * Reserves now or after a wait (FIFO, by priority first); rejects at once with a
   * `TooLargeError` when the request could never fit one of the buckets.
   */
  override acquire(request: number | LlmRequest = 1, options?: AcquireOptions): Promise<LlmPermit> {
    let count: number;
    let cost: Float64Array;
    try {
      ({ count, cost } = this.costOf(request));
    } catch (error) {
      return Promise.reject(error);
    }
    return this.request(count, options, cost) as Promise<LlmPermit>;
  }

  // ---- provider feedback ----

  /**
   * Reads a response (or just its headers): lowers local buckets to what the provider says is
   * left, and — for a retryable 429/529/503 — pauses intake until the hinted time. Unknown
   * headers are ignored; malformed ones never throw.
   *
   * @param input - a Fetch `Response`, any `{ status, headers }`, or headers alone.
   * @param body - the parsed (or raw text) error body, for the triage of an error status.
   */
  observe(input: ResponseLike | HeadersLike, body?: unknown): LlmObservation {
    const response = isResponseLike(input) ? input : undefined;
    const headers = response === undefined ? (input as HeadersLike) : response.headers;
    const now = this.clock.now();
    const ref = { now, wallNow: wallClockFromDateHeader(headers) ?? this.wallClock() };
    const snapshot = parseRateLimitHeaders(headers, ref);
    const corrected = this.applySnapshot(snapshot, now);
    let triage: Triage | undefined;
    if (response !== undefined) {
      triage = classify(response.status, headers, body, ref);
      if (triage.action === 'retry-after' && triage.reason !== 'server-error') this.pauseFor(triage.retryAfterMs, triage);
    }
    if (corrected.length > 0) this.serve();
    return { snapshot, triage, corrected };
  }

  /**
   * Pauses intake for `ms` (nothing is admitted; waiters keep their place and callers feel the
   * backpressure), or extends a pause in progress. `0` does nothing.
   */
  pause(ms: number): void {
    this.pauseFor(checkNumber(this.name, 'ms', ms, { min: 0, max: DEFAULT_PAUSE_LIMIT_MS * 6 }), undefined);
  }

  /** Subscribes to the start of a pause; returns an unsubscriber. */
  onPause(listener: (event: PauseEvent) => void): Disposer {
    return (this.pauseEvents ??= new Emitter<PauseEvent>()).on(listener);
  }

  /** Subscribes to the end of a pause; returns an unsubscriber. */
  onResume(listener: () => void): Disposer {
    return (this.resumeEvents ??= new Emitter<void>()).on(listener);
  }

  // ---- GateBase ----

  protected tryTake(count: number, priority: number, request: Float64Array | undefined): boolean {
    void priority;
    const now = this.clock.now();
    if (now < this.pausedUntilMs) return false;
    const buckets = this.buckets;
    buckets.refill(now);
    if (count === 0) return buckets.fits(PROBE);
    const cost = request ?? this.plainCost(count);
    if (!buckets.fits(cost)) return false;
    buckets.take(cost);
    return true;
  }

  protected availableUnits(): number {
    const buckets = this.buckets;
    buckets.refill(this.clock.now());
    let available = Infinity;
    for (const i of buckets.active) {
      if (i === Dim.Tokens || i === Dim.TokensPerDay) available = Math.min(available, buckets.levelOf(i));
      else if ((i === Dim.Requests || i === Dim.RequestsPerDay) && buckets.levelOf(i) < 1 - 1e-9) available = 0;
    }
    return available === Infinity ? (buckets.active.length > 0 ? Number.MAX_SAFE_INTEGER : 0) : Math.max(0, Math.floor(available + 1e-9));
  }

  protected override estimateWaitMs(count: number, unitsAhead: number, priority: number, request?: Float64Array): number {
    void priority;
    const now = this.clock.now();
    this.buckets.refill(now);
    const cost = request ?? this.plainCost(Math.max(count, 1));
    const ahead =
      unitsAhead > 0 ? (this.countsTokens ? costVector(this.waiterCount, unitsAhead, 0) : costVector(unitsAhead, 0, 0)) : undefined;
    const wait = this.buckets.waitMs(cost, ahead);
    const paused = this.pausedUntilMs - now;
    return paused > wait ? paused : wait;
  }

  protected override permitFor(count: number, request?: Float64Array): Permit {
    return new ReservationPermit(this, request ?? this.plainCost(count));
  }

  protected override closeCore(): void {
    if (this.pauseTimer !== undefined) this.clock.clearTimer(this.pauseTimer);
    this.pauseTimer = undefined;
  }

  // ---- internals ----

  /**
   * Settles a reservation: refund, debit, or keep (see {@link LlmPermit.release}).
   * @internal
   */
  settle(cost: Float64Array, outcome: Outcome | undefined): void {
    if (outcome === undefined || this.isClosed) return;
    const buckets = this.buckets;
    buckets.refill(this.clock.now());
    if (outcome.cost === 0) {
      buckets.take(cost, -1); // nothing used: every unit back, the request too
      this.serve();
      return;
    }
    const usage = outcome.usage;
    let total: number | undefined;
    let input: number | undefined;
    let output: number | undefined;
    if (usage !== undefined && usage !== null) {
      input = wholeTokens(usage.inputTokens);
      output = wholeTokens(usage.outputTokens);
      total = wholeTokens(usage.totalTokens) ?? (input === undefined && output === undefined ? undefined : (input ?? 0) + (output ?? 0));
    } else if (outcome.cost !== undefined) {
      total = wholeTokens(outcome.cost);
    }
    if (total === undefined) return; // usage never arrived: the reservation stands
    let refunded = false;
    const adjust = (i: number, reserved: number, actual: number | undefined): void => {
      if (actual === undefined || actual === reserved) return;
      buckets.add(i, reserved - actual);
      if (reserved > actual) refunded = true;
    };
    adjust(Dim.Tokens, cost[Dim.Tokens] as number, total);
    adjust(Dim.TokensPerDay, cost[Dim.TokensPerDay] as number, total);
    adjust(Dim.Input, cost[Dim.Input] as number, input);
    adjust(Dim.Output, cost[Dim.Output] as number, output);
    if (refunded) this.serve();
  }

  private costOf(request: number | LlmRequest): { count: number; cost: Float64Array } {
    let cost: Float64Array;
    if (typeof request === 'number') {
      // a plain count in the limiter's unit (validated as a count by the base)
      if (!(Number.isInteger(request) && request > 0)) return { count: request, cost: PROBE };
      cost = this.plainCost(request);
    } else {
      const r = checkOptions(this.name, request, LLM_REQUEST_KEYS, 'request.');
      const input = checkNumber(this.name, 'inputTokens', r.inputTokens ?? 0, { min: 0, integer: true });
      const output = checkNumber(this.name, 'maxOutputTokens', r.maxOutputTokens ?? 0, { min: 0, integer: true });
      cost = costVector(1, input, output);
    }
    const over = this.buckets.tooLargeIn(cost);
    if (over >= 0) {
      const capacity = Math.floor(this.buckets.capacity[over] as number);
      const error = new TooLargeError(this.name, cost[over] as number, capacity);
      error.message =
        `${this.name}: the request needs ${cost[over] as number} ${DIMENSIONS[over] as string} but the limit allows at most ` +
        `${capacity}; it can never be granted: shrink it (fewer input tokens, a smaller max_tokens)`;
      throw error;
    }
    if (!this.countsTokens) return { count: Math.max(1, cost[Dim.Requests] as number), cost };
    return { count: Math.max(1, Math.ceil(cost[Dim.Tokens] as number)), cost };
  }

  /** The cost of a plain `count`: that many tokens and one request, or that many requests. */
  private plainCost(count: number): Float64Array {
    return this.countsTokens ? costVector(1, count, 0) : costVector(count, 0, 0);
  }

  private applySnapshot(snapshot: RateLimitSnapshot, now: number): Dimension[] {
    const corrected: Dimension[] = [];
    const buckets = this.buckets;
    buckets.refill(now);
    for (const observation of snapshot.observations) {
      const i = DIMENSIONS.indexOf(observation.dimension);
      if (i < 0 || !buckets.active.includes(i)) continue;
      const capacity = buckets.capacity[i] as number;
      const providerLimit = observation.limit ?? (buckets.limit[i] as number);
      // the provider counts against its full limit; we plan against limit × (1 − headroom)
      const reserve = Math.max(0, providerLimit - capacity);
      let target: number | undefined;
      if (observation.remaining !== undefined) {
        target = observation.remaining - reserve + (observation.rounded ? 500 : 0);
      } else if (observation.resetAt !== undefined && observation.limit !== undefined) {
        const untilFull = Math.max(0, observation.resetAt - now);
        target = observation.limit - (untilFull * observation.limit) / (WINDOW_MS[i] as number) - reserve;
      }
      if (target !== undefined && buckets.lowerTo(i, target)) corrected.push(observation.dimension);
    }
    return corrected;
  }

  private pauseFor(ms: number, triage: Triage | undefined): void {
    if (!(ms > 0) || this.isClosed) return;
    const now = this.clock.now();
    const until = now + Math.min(ms, DEFAULT_PAUSE_LIMIT_MS * 6);
    if (until <= this.pausedUntilMs) return;
    const wasPaused = now < this.pausedUntilMs;
    this.pausedUntilMs = until;
    if (this.pauseTimer !== undefined) this.clock.clearTimer(this.pauseTimer);
    this.pauseTimer = this.clock.setTimer(() => this.resume(), until - now);
    if (!wasPaused && this.pauseEvents?.listening === true) this.pauseEvents.emit({ durationMs: until - now, triage });
  }

  private resume(): void {
    this.pauseTimer = undefined;
    if (this.resumeEvents?.listening === true) this.resumeEvents.emit(undefined);
    this.serve();
  }
}

/** One request and one token: what a probe (count 0) checks for. */
const PROBE = costVector(1, 1, 0);

class ReservationPermit extends ReleaseOncePermit implements LlmPermit {
  constructor(
    private readonly limiter: LlmLimiter,
    private readonly cost: Float64Array,
  ) {
    super(limiter.name);
  }
  get inputTokens(): number {
    return this.cost[Dim.Input] as number;
  }
  get maxOutputTokens(): number {
    return this.cost[Dim.Output] as number;
  }
  protected settle(outcome: Outcome | undefined): void {
    this.limiter.settle(this.cost, outcome);
  }
}

function wholeTokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.round(value) : undefined;
}

function isResponseLike(value: unknown): value is ResponseLike {
  return typeof value === 'object' && value !== null && typeof (value as ResponseLike).status === 'number' && 'headers' in value;
}

/** Creates an {@link LlmLimiter}. */
export function llmLimiter(options: LlmLimiterOptions): LlmLimiter {
  return new LlmLimiter(options);
}
