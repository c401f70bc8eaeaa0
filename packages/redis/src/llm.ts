import {
  checkOptions,
  checkOutcome,
  ClosedError,
  InvalidArgumentError,
  optionKeys,
  StoreUnavailableError,
  TooLargeError,
  WaitTimeoutError,
  checkAcquireOptions,
  checkName,
  checkNumber,
  Emitter,
  type Disposer,
  type Outcome,
  type Refusal,
  type TimerHandle,
  type WaitOptions,
} from '@sluice/core';
import {
  LlmLimiter,
  classify,
  parseRateLimitHeaders,
  wallClockFromDateHeader,
  type Dimension as LlmDimension,
  type HeadersLike,
  type LlmLimiterOptions,
  type LlmObservation,
  type LlmPermit,
  type LlmRequest,
  type PauseEvent,
  type ResponseLike,
} from '@sluice/llm';
import { RedisGate, checkGateOptions, type RedisGateOptions, type RemoteBudget } from './gate.js';
import { InsuranceLocals, STORE_DOWN, StoreGuard, type StoreGuardOptions, type StoreMode } from './guard.js';
import { LLM_ADJUST, LLM_OBSERVE, LLM_TAKE } from './scripts.js';
import { Sleepers } from './sleepers.js';
import type { RedisStore, StoreCallError } from './store.js';

/**
 * Options of a {@link RedisLlmLimiter}: the quota (any of the six dimensions, and `headroom`, as
 * for an in-memory `LlmLimiter`), the store and the failure policy.
 */
export interface RedisLlmLimiterOptions
  extends StoreGuardOptions,
    Pick<
      LlmLimiterOptions,
      | 'requestsPerMinute'
      | 'tokensPerMinute'
      | 'inputTokensPerMinute'
      | 'outputTokensPerMinute'
      | 'requestsPerDay'
      | 'tokensPerDay'
      | 'headroom'
    > {
  /** The store (client, prefix, per-call timeout). */
  readonly store: RedisStore;
  /** Part of every key (`prefix:{name:key}:llm`) and of errors; default `'llm'`. */
  readonly name?: string;
  /**
   * Multiplies the length of every window (a minute, a day); default 1. Tests only: the quota
   * runs on Redis's clock, which no virtual clock can speed up, so a test shortens the minute
   * instead (0.001 makes it 60 ms).
   *
   * @internal
   */
  readonly windowScale?: number;
}

/** Options of {@link RedisLlmLimiter.acquire} and {@link RedisLlmLimiter.tryAcquire}. */
export interface RedisLlmWaitOptions extends WaitOptions {
  /** Which quota: one per API key, deployment or tenant sharing the limits; default `'default'`. */
  readonly key?: string;
}

/**
 * A refusal of {@link RedisLlmLimiter.tryAcquire}: the core `Refusal` (`reason` `exhausted`, or
 * `paused` while a provider's 429 pauses the quota; `gate` the limiter's name; `retryAfterMs` the
 * ms until the request would pass, `undefined` when the store is down under `fail-closed`).
 *
 * @deprecated Use `Refusal` from `@sluice/core`; this is the same type.
 */
export type RedisLlmRefusal = Refusal;

interface Dimension {
  /** The dimension, as `@sluice/llm` names it in header observations. */
  readonly name: LlmDimension;
  /** The provider's limit (before headroom). */
  readonly limit: number;
  /** Refill window, ms. */
  readonly windowMs: number;
  /** Hash field. */
  readonly field: string;
  /** Capacity after headroom. */
  readonly capacity: number;
  /** Refill per ms. */
  readonly ratePerMs: number;
  /** Cost of a request with `input`, `output` tokens. */
  readonly cost: (input: number, output: number) => number;
}

const MINUTE = 60_000;
/** Longest pause a provider's retry hint can impose, ms (an hour: hints beyond that are not waited out). */
const MAX_PAUSE_MS = 3_600_000;

function isResponse(input: unknown): input is ResponseLike {
  return typeof input === 'object' && input !== null && typeof (input as { status?: unknown }).status === 'number' && 'headers' in input;
}
const DAY = 86_400_000;
const NO_OPTIONS: RedisLlmWaitOptions = Object.freeze({});

const REDIS_LLM_LIMITER_KEYS = optionKeys<RedisLlmLimiterOptions>()({
  store: true,
  name: true,
  onStoreError: true,
  expectedInstances: true,
  probeIntervalMs: true,
  requestsPerMinute: true,
  tokensPerMinute: true,
  inputTokensPerMinute: true,
  outputTokensPerMinute: true,
  requestsPerDay: true,
  tokensPerDay: true,
  headroom: true,
  windowScale: true,
});

/**
 * An LLM provider's quota shared by every process that calls the provider with it: the six
 * dimensions of `@sluice/llm`'s `LlmLimiter` (RPM, TPM, ITPM, OTPM, RPD, TPD), each a continuously refilling
 * bucket, all kept in one Redis hash per key and admitted atomically by one Lua script on Redis's
 * clock. A request reserves its estimated input plus its whole output cap; `release({ usage })`
 * reconciles every dimension to what the provider reported (one more script call), `NOT_RUN`
 * gives everything back, no usage keeps the reservation. `acquire` reserves the request's place
 * in time across processes (one round trip) and sleeps until then; a refused call writes nothing.
 *
 * @example
 * ```ts
 * const quota = new RedisLlmLimiter({ store, name: 'openai', tokensPerMinute: 2_000_000, requestsPerMinute: 5_000, onStoreError: 'insurance', expectedInstances: 8 });
 * const permit = await quota.acquire({ inputTokens: 1_200, maxOutputTokens: 800 }, { maxWaitMs: 30_000 });
 * const response = await callModel();
 * permit.release({ ok: true, usage: { inputTokens: 1_180, outputTokens: 312 } });
 * ```
 */
export class RedisLlmLimiter {
  /** Name in keys and errors. */
  readonly name: string;
  /** The store. */
  readonly store: RedisStore;
  private readonly dimensions: readonly Dimension[];
  private readonly guard: StoreGuard;
  private readonly localOptions: ConstructorParameters<typeof LlmLimiter>[0];
  private readonly locals: InsuranceLocals<LlmLimiter>;
  private readonly sleepers: Sleepers;
  /** Largest plain count of {@link RedisLlmLimiter.gate}: tokens when a token limit is set, else requests. */
  private readonly plainCapacity: number;
  /** Whether a plain count is tokens (with one request) rather than requests, as in `LlmLimiter`. */
  readonly countsTokens: boolean;
  private budgetOf: RemoteBudget | undefined = undefined;
  private pauseEvents: Emitter<PauseEvent> | undefined = undefined;
  private resumeEvents: Emitter<void> | undefined = undefined;
  private resumeTimer: TimerHandle | undefined = undefined;
  private closed = false;

  /** @throws InvalidArgumentError for a bad limit, headroom, store or policy, or no limit at all. */
  constructor(options: RedisLlmLimiterOptions) {
    checkOptions('RedisLlmLimiter', options, REDIS_LLM_LIMITER_KEYS);
    this.name = checkName('RedisLlmLimiter', options.name, 'llm');
    const store = (options as Partial<RedisLlmLimiterOptions>).store;
    if (typeof store !== 'object' || store === null || typeof store.run !== 'function') {
      throw new InvalidArgumentError(this.name, 'store', 'a RedisStore', store);
    }
    this.store = store;
    this.sleepers = new Sleepers(store.clock);
    const headroom = checkNumber(this.name, 'headroom', options.headroom ?? 0, { min: 0, max: 0.99 });
    const specs: [keyof RedisLlmLimiterOptions, LlmDimension, string, number, (input: number, output: number) => number][] = [
      ['requestsPerMinute', 'requests', 'rpm', MINUTE, () => 1],
      ['tokensPerMinute', 'tokens', 'tpm', MINUTE, (i, o) => i + o],
      ['inputTokensPerMinute', 'input-tokens', 'itpm', MINUTE, (i) => i],
      ['outputTokensPerMinute', 'output-tokens', 'otpm', MINUTE, (_i, o) => o],
      ['requestsPerDay', 'requests-per-day', 'rpd', DAY, () => 1],
      ['tokensPerDay', 'tokens-per-day', 'tpd', DAY, (i, o) => i + o],
    ];
    const scale = checkNumber(this.name, 'windowScale', options.windowScale ?? 1, { min: 0, exclusiveMin: true, max: 1 });
    const dimensions: Dimension[] = [];
    for (const [option, name, field, window, cost] of specs) {
      const windowMs = window * scale;
      const value = options[option];
      if (value === undefined) continue;
      const limit = checkNumber(this.name, option, value, { min: 0, exclusiveMin: true });
      const capacity = limit * (1 - headroom);
      dimensions.push({ name, limit, windowMs, field, capacity, ratePerMs: capacity / windowMs, cost });
    }
    if (dimensions.length === 0) {
      throw new InvalidArgumentError(
        this.name,
        'requestsPerMinute',
        'at least one limit (requestsPerMinute, tokensPerMinute, …)',
        undefined,
      );
    }
    this.dimensions = dimensions;
    this.countsTokens = dimensions.some((d) => d.field !== 'rpm' && d.field !== 'rpd');
    const plain = dimensions.filter((d) => this.plainCost(d, 1) !== 0 && (d.field === 'rpm' || d.field === 'rpd') !== this.countsTokens);
    const smallest = Math.min(...plain.map((d) => d.capacity));
    this.plainCapacity = smallest === Infinity ? Number.MAX_SAFE_INTEGER : Math.max(1, Math.floor(smallest));
    this.guard = new StoreGuard(this.name, store, options);
    const share = (value: number | undefined) => (value === undefined ? undefined : value / this.guard.instances);
    this.localOptions = Object.fromEntries(
      Object.entries({
        name: `${this.name} (insurance)`,
        clock: store.clock,
        headroom,
        requestsPerMinute: share(options.requestsPerMinute),
        tokensPerMinute: share(options.tokensPerMinute),
        inputTokensPerMinute: share(options.inputTokensPerMinute),
        outputTokensPerMinute: share(options.outputTokensPerMinute),
        requestsPerDay: share(options.requestsPerDay),
        tokensPerDay: share(options.tokensPerDay),
      }).filter(([, v]) => v !== undefined),
    ) as ConstructorParameters<typeof LlmLimiter>[0];
    this.locals = new InsuranceLocals(this.guard, () => new LlmLimiter(this.localOptions));
  }

  /** True while decisions go to the failure policy. */
  get storeDown(): boolean {
    return this.guard.down;
  }

  /**
   * Reserves the request in every dimension, waiting until it fits: one script call reserves its
   * place in time (levels may go below zero) and the caller sleeps until then. Rejects at once
   * with a `TooLargeError` when a dimension could never hold it, with a `WaitTimeoutError` when
   * the wait would exceed `maxWaitMs` (nothing is written), with the signal's reason when aborted
   * (the reservation is given back), with a `StoreUnavailableError` under `fail-closed`.
   */
  async acquire(request: LlmRequest = {}, options: RedisLlmWaitOptions = NO_OPTIONS): Promise<LlmPermit> {
    const [input, output, key] = this.check(request, options);
    checkAcquireOptions(this.name, options);
    const signal = options.signal;
    if (signal?.aborted === true) throw signal.reason;
    const maxWaitMs = options.maxWaitMs ?? Infinity;
    const reply = await this.guard.attempt(() =>
      this.store.run(LLM_TAKE, [this.redisKey(key)], this.takeArgs(input, output, maxWaitMs === Infinity ? -1 : maxWaitMs)),
    );
    if (reply === STORE_DOWN) return this.fallbackAcquire(key, input, output, options);
    const [admitted, wait] = reply as [number, string, string];
    const waitMs = Number(wait);
    if (admitted !== 1) throw new WaitTimeoutError(this.name, maxWaitMs, waitMs);
    if (waitMs > 0) await this.sleepers.sleep(waitMs, signal, () => this.adjust(key, input, output, 1, input + output));
    return this.permit(key, input, output);
  }

  /**
   * Reserves the request now or not at all (one round trip); resolves with the permit or a core
   * `Refusal` as `LlmLimiter.tryAcquire` gives: `reason` `exhausted` (or `paused` while a
   * provider's 429 pauses the quota), `gate` this limiter's name, `retryAfterMs` until it would
   * pass (`undefined` when the store is down under `fail-closed`).
   */
  async tryAcquire(request: LlmRequest = {}, options: { readonly key?: string } = NO_OPTIONS): Promise<LlmPermit | Refusal> {
    const [input, output, key] = this.check(request, options);
    const reply = await this.guard.attempt(() => this.store.run(LLM_TAKE, [this.redisKey(key)], this.takeArgs(input, output, 0)));
    if (reply === STORE_DOWN) {
      if (this.guard.policy === 'fail-closed') return this.refusal('exhausted', undefined);
      if (this.guard.policy === 'fail-open') return this.openPermit(input, output);
      const local = this.locals.get(key).tryAcquire({ inputTokens: input, maxOutputTokens: output });
      return local.granted ? local : this.refusal(local.reason, local.retryAfterMs);
    }
    const [admitted, wait, , paused] = reply as [number, string, string, number | undefined];
    return admitted === 1 ? this.permit(key, input, output) : this.refusal(paused === 1 ? 'paused' : 'exhausted', Math.ceil(Number(wait)));
  }

  /**
   * One key of this quota as a sluice `Gate` (a {@link RedisGate}), to put in a `pipeline`,
   * `overloadProtection` or a stream's `throttle`, as an in-memory `LlmLimiter` goes. A count is
   * in the limiter's unit, as in `LlmLimiter`: tokens (input, with one request) when a token
   * limit is set, else requests. Each waiter's units are reserved in Redis by one call of its
   * own (never batched: every call is one request). A permit released as not run (`NOT_RUN`)
   * gives everything back once; one released with `usage` (or a smaller `cost`) reconciles the
   * tokens.
   *
   * @param key - which quota; default `'default'`.
   * @throws InvalidArgumentError for a bad key or option; ClosedError after `close()`.
   */
  gate(key = 'default', options?: RedisGateOptions): RedisGate {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    const checked = checkGateOptions(this.name, options);
    if (this.closed) throw new ClosedError(this.name);
    return new RedisGate(this.budget(), key, this.store.clock, checked);
  }

  /**
   * Subscribes to pauses this process's {@link RedisLlmLimiter.observe} put on the shared quota
   * (a retryable 429/529/503 with a wait), as `LlmLimiter.onPause`; returns an unsubscriber.
   * Pauses observed by other processes hold here too, but are not reported.
   */
  onPause(listener: (event: PauseEvent) => void): Disposer {
    return (this.pauseEvents ??= new Emitter<PauseEvent>()).on(listener);
  }

  /** Subscribes to the end of a pause reported by {@link RedisLlmLimiter.onPause}; returns an unsubscriber. */
  onResume(listener: () => void): Disposer {
    return (this.resumeEvents ??= new Emitter<void>()).on(listener);
  }

  /**
   * Brings the shared quota of `key` in line with a provider response (or its headers), for every
   * process: each dimension's level is lowered to what the rate-limit headers say is left (minus
   * the headroom; never raised), and a retryable 429/529/503 (not a plain server error) pauses
   * admission for everyone until the provider's retry hint has passed — the in-memory
   * `LlmLimiter.observe`, kept in Redis. One script call; nothing when the store is down.
   *
   * @example
   * ```ts fragment
   * const response = await fetch(url, init);
   * await quota.observe(response, await response.clone().text());
   * ```
   */
  async observe(
    input: ResponseLike | HeadersLike,
    body?: unknown,
    options: { readonly key?: string } = NO_OPTIONS,
  ): Promise<LlmObservation> {
    const response = isResponse(input) ? input : undefined;
    const headers = response === undefined ? (input as HeadersLike) : response.headers;
    const key = options.key ?? 'default';
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    const ref = { now: this.store.clock.now(), wallNow: wallClockFromDateHeader(headers) ?? Date.now() }; // why: resets given as wall-clock times
    const snapshot = parseRateLimitHeaders(headers, ref);
    const triage = response === undefined ? undefined : classify(response.status, headers, body, ref);
    const pauseMs =
      triage !== undefined && triage.action === 'retry-after' && triage.reason !== 'server-error'
        ? Math.min(triage.retryAfterMs, MAX_PAUSE_MS)
        : 0;
    const args: (string | number)[] = [this.dimensions.length];
    for (const d of this.dimensions) {
      const seen = snapshot.observations.find((o) => o.dimension === d.name);
      // the provider counts against its full limit; the quota plans against limit × (1 − headroom)
      const reserve = Math.max(0, (seen?.limit ?? d.limit) - d.capacity);
      let target: number | undefined;
      if (seen?.remaining !== undefined) target = seen.remaining - reserve + (seen.rounded ? 500 : 0);
      else if (seen?.resetAt !== undefined && seen.limit !== undefined) {
        target = seen.limit - (Math.max(0, seen.resetAt - ref.now) * seen.limit) / d.windowMs - reserve;
      }
      args.push(d.field, d.capacity, d.ratePerMs, target === undefined ? '' : target);
    }
    args.push(pauseMs);
    const reply = await this.guard.attempt(() => this.store.run(LLM_OBSERVE, [this.redisKey(key)], args));
    if (pauseMs > 0 && reply !== STORE_DOWN && !this.closed) this.paused(pauseMs, triage);
    const lowered = reply === STORE_DOWN ? [] : (reply as string[]).slice(0, -1);
    const corrected = this.dimensions.filter((d) => lowered.includes(d.field)).map((d) => d.name);
    return { snapshot, triage, corrected };
  }

  /** Subscribes to store failures; returns an unsubscriber. */
  onStoreFailure(listener: (error: StoreCallError) => void): Disposer {
    return this.guard.onStoreFailure(listener);
  }

  /** Subscribes to hand-overs between Redis and the failure policy; returns an unsubscriber. */
  onModeChange(listener: (mode: StoreMode) => void): Disposer {
    return this.guard.onModeChange(listener);
  }

  /**
   * Stops the probe and the pause timer, rejects sleeping waiters with a `ClosedError` and gives
   * their reservations back, and drops the insurance limiters. Returns at once (call it without
   * awaiting, as a sync close); the promise resolves when the reservations are back in Redis (best
   * effort: never rejects). Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    if (this.resumeTimer !== undefined) this.store.clock.clearTimer(this.resumeTimer);
    this.resumeTimer = undefined;
    this.guard.close();
    const returned = this.sleepers.wakeAll(new ClosedError(this.name));
    this.locals.clear();
    return returned;
  }

  private refusal(reason: Refusal['reason'], retryAfterMs: number | undefined): Refusal {
    return Object.freeze({ granted: false as const, reason, gate: this.name, retryAfterMs });
  }

  /** Reports a pause this process put on the quota, and its end. */
  private paused(ms: number, triage: PauseEvent['triage']): void {
    this.pauseEvents?.emit({ durationMs: ms, triage }, undefined);
    if (this.resumeTimer !== undefined) this.store.clock.clearTimer(this.resumeTimer);
    this.resumeTimer = this.store.clock.setTimer(() => {
      this.resumeTimer = undefined;
      this.resumeEvents?.emit(undefined, undefined);
    }, ms);
  }

  /** What one plain unit costs in `d`: a token and one request, or a request (see {@link RedisLlmLimiter.gate}). */
  private plainCost(d: Dimension, count: number): number {
    if (d.field === 'rpm' || d.field === 'rpd') return this.countsTokens ? 1 : count;
    return this.countsTokens ? d.cost(count, 0) : 0;
  }

  /** ARGV of LLM_TAKE / LLM_ADJUST for a plain count (`sign` −1 gives back for an adjust: positive deltas give back). */
  private plainArgs(count: number, scale: number, tokensOnly: boolean): (string | number)[] {
    const args: (string | number)[] = [this.dimensions.length];
    for (const d of this.dimensions) {
      const requests = d.field === 'rpm' || d.field === 'rpd';
      const cost = tokensOnly && requests && this.countsTokens ? 0 : this.plainCost(d, count);
      args.push(d.field, d.capacity, d.ratePerMs, cost * scale);
    }
    return args;
  }

  /** The remote budget of {@link RedisLlmLimiter.gate} (made once). */
  private budget(): RemoteBudget {
    if (this.budgetOf !== undefined) return this.budgetOf;
    const run = (key: string, script: typeof LLM_TAKE, args: (string | number)[]) => this.store.run(script, [this.redisKey(key)], args);
    const refund = async (key: string, count: number, tokensOnly: boolean): Promise<void> => {
      await this.guard.attempt(() => run(key, LLM_ADJUST, this.plainArgs(count, 1, tokensOnly)));
    };
    this.budgetOf = {
      name: this.name,
      capacity: this.plainCapacity,
      reserves: true,
      guard: this.guard,
      batches: false,
      take: async (key, count, acceptWaitMs) => {
        const reply = (await run(key, LLM_TAKE, [...this.plainArgs(count, 1, false), acceptWaitMs])) as [number, string];
        return { admitted: reply[0] === 1, waitMs: Number(reply[1]) };
      },
      refund: (key, count) => refund(key, count, false),
      insurance: (key) => this.locals.get(key),
      settle: (key, count, outcome) => {
        if (outcome.cost === 0) {
          void refund(key, count, false).catch(() => {});
          return;
        }
        // usage (or a cost) reconciles the tokens; the request was made
        const used = outcome.usage === undefined ? outcome.cost : this.usedTokens(outcome.usage, count);
        if (used === undefined || used === count || !this.countsTokens) return;
        const delta = count - Math.max(0, Math.ceil(used));
        if (delta !== 0)
          void this.guard.attempt(() => run(key, LLM_ADJUST, this.plainArgs(Math.abs(delta), Math.sign(delta), true))).catch(() => {});
      },
    };
    return this.budgetOf;
  }

  /** Tokens a plain-count permit really used, from the provider's usage. */
  private usedTokens(usage: NonNullable<Outcome['usage']>, count: number): number {
    return usage.totalTokens ?? (usage.inputTokens ?? count) + (usage.outputTokens ?? 0);
  }

  private check(request: LlmRequest, options: { readonly key?: string }): [number, number, string] {
    if (typeof request !== 'object' || request === null)
      throw new InvalidArgumentError(this.name, 'request', 'an object { inputTokens, maxOutputTokens }', request);
    const input = checkNumber(this.name, 'inputTokens', request.inputTokens ?? 0, { min: 0, integer: true });
    const output = checkNumber(this.name, 'maxOutputTokens', request.maxOutputTokens ?? 0, { min: 0, integer: true });
    const key = options.key ?? 'default';
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    if (this.closed) throw new ClosedError(this.name);
    for (const d of this.dimensions) {
      const cost = d.cost(input, output);
      if (cost > d.capacity) throw new TooLargeError(this.name, cost, d.capacity);
    }
    return [input, output, key];
  }

  private redisKey(key: string): string {
    return this.store.key(this.name, key, 'llm');
  }

  private takeArgs(input: number, output: number, accept: number): (string | number)[] {
    const args: (string | number)[] = [this.dimensions.length];
    for (const d of this.dimensions) args.push(d.field, d.capacity, d.ratePerMs, d.cost(input, output));
    args.push(accept);
    return args;
  }

  /** Gives back (positive) or debits (negative) per dimension: `requests` and `tokens` deltas. */
  private adjust(key: string, inputDelta: number, outputDelta: number, requests: number, _total: number): Promise<void> {
    const args: (string | number)[] = [this.dimensions.length];
    for (const d of this.dimensions) {
      const delta = d.field === 'rpm' || d.field === 'rpd' ? requests : d.cost(inputDelta, outputDelta);
      args.push(d.field, d.capacity, d.ratePerMs, delta);
    }
    return this.guard.attempt(() => this.store.run(LLM_ADJUST, [this.redisKey(key)], args)).then(() => undefined);
  }

  private permit(key: string, input: number, output: number): LlmPermit {
    let released = false;
    return {
      granted: true,
      inputTokens: input,
      maxOutputTokens: output,
      release: (outcome?: Outcome) => {
        checkOutcome(this.name, outcome);
        if (released) return;
        released = true;
        if (outcome === undefined) return;
        if (outcome.cost === 0) {
          void this.adjust(key, input, output, 1, input + output);
          return;
        }
        const usage = outcome.usage;
        if (usage === undefined) return;
        const usedInput = usage.inputTokens ?? input;
        const usedOutput = usage.outputTokens ?? Math.max(0, (usage.totalTokens ?? usedInput + output) - usedInput);
        if (usedInput === input && usedOutput === output) return;
        void this.adjust(key, input - usedInput, output - usedOutput, 0, 0);
      },
    };
  }

  private openPermit(input: number, output: number): LlmPermit {
    const name = this.name;
    return {
      granted: true,
      inputTokens: input,
      maxOutputTokens: output,
      release(outcome?: Outcome) {
        checkOutcome(name, outcome);
      },
    };
  }

  private fallbackAcquire(key: string, input: number, output: number, options: WaitOptions): Promise<LlmPermit> {
    if (this.guard.policy === 'fail-open') return Promise.resolve(this.openPermit(input, output));
    if (this.guard.policy === 'fail-closed')
      return Promise.reject(new StoreUnavailableError(this.name, 'the store did not answer', this.guard.probeIntervalMs));
    return this.locals.get(key).acquire({ inputTokens: input, maxOutputTokens: output }, options);
  }
}
