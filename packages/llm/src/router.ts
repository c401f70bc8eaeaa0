import {
  checkOutcome,
  ClosedError,
  EMPTY_PERMIT,
  InvalidArgumentError,
  LimitExceededError,
  checkAcquireOptions,
  checkName,
  checkNumber,
  checkOptions,
  checkTryAcquireOptions,
  isTooLargeError,
  optionKeys,
  type AcquireOptions,
  type Clock,
  type Outcome,
  type Refusal,
  type TooLargeError,
  type TryAcquireOptions,
  checkClock,
} from '@sluice/core';
import {
  LLM_REQUEST_KEYS,
  LlmLimiter,
  type LlmLimiterOptions,
  type LlmObservation,
  type LlmPermit,
  type LlmRequest,
  type ResponseLike,
} from './llm-limiter.js';
import type { Dimension, HeadersLike } from './types.js';
import { BoundedKeyMap } from '@sluice/rate-limit';

// =================================================================================================
// KeyedLlmLimiter
// =================================================================================================

/** Options of {@link KeyedLlmLimiter}. */
export interface KeyedLlmLimiterOptions {
  /**
   * The quota of each key: the same {@link LlmLimiterOptions} for every key, or a function that
   * returns a key's options the first time the key is seen (and again after it was evicted).
   * Required. A limiter made from them is named `name` unless the options name it, and runs on
   * this component's `clock` when one is given.
   */
  readonly limits: LlmLimiterOptions | ((key: string) => LlmLimiterOptions);
  /**
   * Most keys held at once, an integer ≥ 1. When full, a new key evicts a key that has no waiter
   * and no permit outstanding (one whose budget is back to full first), by second chance.
   * Default 10,000.
   */
  readonly maxKeys?: number;
  /**
   * Name used in refusals and errors, and the default name of every key's limiter; default
   * `"keyed-llm"`. Keys are deliberately left out of names (a key may be an API key).
   */
  readonly name?: string;
  /**
   * Time source shared by every key's limiter (it overrides a `clock` in `limits`). Default: the
   * limits' own `clock`, else `systemClock`.
   */
  readonly clock?: Clock;
}

/** Counters of a {@link KeyedLlmLimiter}. */
export interface KeyedLlmLimiterStats {
  /** Keys held now. */
  readonly keys: number;
  /** Limiters created so far (a key evicted and seen again is created again). */
  readonly created: number;
  /** Keys evicted to make room for new ones. */
  readonly evicted: number;
  /**
   * Of those, keys whose budget was not full (or that were paused) when evicted: no idle key
   * was found in the scan, and the bound on memory won over remembering a partly used budget.
   */
  readonly evictedBusy: number;
  /** Requests refused because no key could be evicted (every key held had work outstanding). */
  readonly refusedNoRoom: number;
}

interface KeyEntry {
  readonly limiter: LlmLimiter;
  /**
   * Requests of this key in flight through the keyed limiter: `acquire`s still waiting plus
   * permits granted and not yet released. A key with any is never evicted.
   */
  outstanding: number;
}

const KEYED_LLM_LIMITER_KEYS = optionKeys<KeyedLlmLimiterOptions>()({ limits: true, maxKeys: true, name: true, clock: true });

/**
 * One {@link LlmLimiter} per key — API key, tenant, model, deployment — made on first use from
 * `limits`, in a map bounded by `maxKeys`. Eviction is least-recently-used and never touches a
 * key with work outstanding, so rotating keys cannot grow memory and cannot reset the budget of
 * a key that is being used.
 *
 * **Outstanding work** is tracked by wrapping: every `acquire` counts from the call until its
 * promise settles, and every permit it (or `tryAcquire`) grants counts until it is released.
 * Waiters queued on a key's limiter directly (through {@link KeyedLlmLimiter.limiter}) are
 * seen through its stats; permits taken from it directly are not, so take permits through
 * this class (and release every one of them: a permit never released keeps its key forever).
 *
 * **Eviction**, when a new key finds the map full, is the second-chance scan of
 * `BoundedKeyMap` (from `@sluice/rate-limit`): keys with work outstanding are moved to the
 * back and never evicted; a key used since the scan last passed it gets a second chance; the
 * first key whose every bucket is full again and that is not paused is evicted; failing that,
 * the first key without outstanding work (counted in `evictedBusy`: its partly used budget is
 * forgotten). The new key is refused (`tryAcquire` returns a refusal, `acquire` rejects with a
 * `LimitExceededError`, counted in `refusedNoRoom`) only when every key held has work
 * outstanding. The scan looks at 64 keys once it has one it may evict (plus the keys in use
 * in front of it), and at every key only when it refuses.
 *
 * @example
 * ```ts
 * const perTenant = new KeyedLlmLimiter({
 *   limits: (tenant) => (tenant === 'enterprise' ? { tokensPerMinute: 200_000 } : { tokensPerMinute: 20_000 }),
 *   maxKeys: 50_000,
 * });
 * const permit = await perTenant.acquire('acme', { inputTokens: 900, maxOutputTokens: 500 });
 * const response = await callModel();
 * perTenant.observe('acme', response);
 * permit.release({ ok: true, usage: { inputTokens: 880, outputTokens: 212 } });
 * ```
 */
export class KeyedLlmLimiter {
  /** Name used in refusals and errors. */
  readonly name: string;
  /** Most keys held at once. */
  readonly maxKeys: number;
  private readonly limitsOf: (key: string) => LlmLimiterOptions;
  private readonly clock: Clock | undefined;
  private readonly entries: BoundedKeyMap<KeyEntry>;
  /** Makes a key's entry; made once (not a closure per key). */
  private readonly makeEntry: (key: string) => KeyEntry;
  private closed = false;

  /**
   * @throws InvalidArgumentError for missing or bad `limits` (an options object is checked now,
   *   by making one limiter from it), a `maxKeys` below 1, a bad `name` or `clock`.
   */
  constructor(options: KeyedLlmLimiterOptions) {
    const o = checkOptions('KeyedLlmLimiter', options, KEYED_LLM_LIMITER_KEYS);
    this.name = checkName('KeyedLlmLimiter', o.name, 'keyed-llm');
    this.maxKeys = checkNumber(this.name, 'maxKeys', o.maxKeys ?? 10_000, { min: 1, integer: true });
    this.clock = checkClock(this.name, o.clock);
    const limits = o.limits;
    if (typeof limits === 'function') {
      this.limitsOf = limits;
    } else if (typeof limits === 'object' && limits !== null && !Array.isArray(limits)) {
      const copy: LlmLimiterOptions = Object.freeze({ ...limits });
      new LlmLimiter(this.optionsFor(copy)).close(); // validates now; a limiter arms no timer until used
      this.limitsOf = () => copy;
    } else {
      throw new InvalidArgumentError(this.name, 'limits', 'LlmLimiterOptions or a function (key) => LlmLimiterOptions', limits);
    }
    this.entries = new BoundedKeyMap<KeyEntry>({
      maxKeys: this.maxKeys,
      name: this.name,
      isBusy: isInUse,
      isIdle: isEntryIdle,
      onEvict: closeEntry,
    });
    this.makeEntry = (key) => ({ limiter: new LlmLimiter(this.optionsFor(this.limitsOf(key))), outstanding: 0 });
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** True when `key` is held (its limiter exists). Does not create it or count as a use. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * The limiter of `key`, made on first use (counts as a use). Permits taken from it directly
   * are not tracked; prefer {@link KeyedLlmLimiter.acquire} / {@link KeyedLlmLimiter.tryAcquire}.
   *
   * @throws ClosedError once closed; LimitExceededError when the map is full and no key can be
   *   evicted; InvalidArgumentError for a key that is not a string.
   */
  limiter(key: string): LlmLimiter {
    const entry = this.entryFor(key);
    if (entry === undefined) throw this.closed ? new ClosedError(this.name) : new LimitExceededError(this.name);
    return entry.limiter;
  }

  /**
   * `tryAcquire` on the key's limiter (made on first use): a permit, or a refusal — `exhausted`
   * when the key has no budget now or no room can be made for a new key, `closed` once closed.
   * See {@link LlmLimiter.tryAcquire} for `request`.
   *
   * @throws TooLargeError when the request could never fit the key's buckets.
   */
  tryAcquire(key: string, request: number | LlmRequest = 1, options?: TryAcquireOptions): LlmPermit | Refusal {
    const entry = this.entryFor(key);
    if (entry === undefined) {
      return Object.freeze({ granted: false, reason: this.closed ? 'closed' : 'exhausted', gate: this.name, retryAfterMs: undefined });
    }
    const result = entry.limiter.tryAcquire(request, options);
    if (!result.granted || result === EMPTY_PERMIT) return result;
    entry.outstanding++;
    return new KeyedPermit(result, entry);
  }

  /**
   * `acquire` on the key's limiter (made on first use): resolves with a permit now or after a
   * wait. Rejects with a `ClosedError` once closed, a `LimitExceededError` when no room can be
   * made for a new key, and otherwise as {@link LlmLimiter.acquire} does.
   */
  acquire(key: string, request: number | LlmRequest = 1, options?: AcquireOptions): Promise<LlmPermit> {
    let entry: KeyEntry | undefined;
    try {
      entry = this.entryFor(key);
    } catch (error) {
      return Promise.reject(error);
    }
    if (entry === undefined) return Promise.reject(this.closed ? new ClosedError(this.name) : new LimitExceededError(this.name));
    const held = entry;
    held.outstanding++; // from now: a waiting key is never evicted
    return held.limiter.acquire(request, options).then(
      (permit) => {
        if (permit === EMPTY_PERMIT) {
          held.outstanding--;
          return permit;
        }
        return new KeyedPermit(permit, held);
      },
      (error: unknown) => {
        held.outstanding--;
        throw error;
      },
    );
  }

  /**
   * Passes a response (or its headers) to the key's limiter: see {@link LlmLimiter.observe}. A
   * 429 pauses that key only. The key is made if it is not held (the headers still tell its
   * state); `undefined` when closed or no room could be made. Malformed headers never throw.
   */
  observe(key: string, response: ResponseLike | HeadersLike, body?: unknown): LlmObservation | undefined {
    return this.entryFor(key)?.limiter.observe(response, body);
  }

  /** Removes `key`, closing its limiter (its waiters reject with a `ClosedError`). Returns whether it was held. */
  delete(key: string): boolean {
    const entry = this.entries.delete(key);
    if (entry === undefined) return false;
    entry.limiter.close();
    return true;
  }

  /** Counters of the key map. */
  stats(): KeyedLlmLimiterStats {
    const map = this.entries.stats();
    return { keys: map.keys, created: map.added, evicted: map.evicted, evictedBusy: map.evictedNotIdle, refusedNoRoom: map.refused };
  }

  /** Closes every key's limiter (rejecting their waiters) and refuses from then on. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.entries.clear()) entry.limiter.close();
  }

  /** The key's entry, made (with room made for it) if needed; `undefined` when closed or no room. */
  private entryFor(key: string): KeyEntry | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) return entry;
    if (typeof key !== 'string') throw new InvalidArgumentError(this.name, 'key', 'a string', key);
    if (this.closed) return undefined;
    return this.entries.getOrAdd(key, this.makeEntry);
  }

  /** `limits` with this component's defaults filled in (does not mutate `limits`). */
  private optionsFor(limits: LlmLimiterOptions): LlmLimiterOptions {
    if (typeof limits !== 'object' || limits === null) return limits; // LlmLimiter names the bad value
    const name = limits.name ?? this.name;
    return this.clock === undefined ? { ...limits, name } : { ...limits, name, clock: this.clock };
  }
}

/** A key with a waiter or a permit outstanding is never evicted. */
function isInUse(entry: KeyEntry): boolean {
  return entry.outstanding > 0 || entry.limiter.stats().waiting > 0;
}

function isEntryIdle(entry: KeyEntry): boolean {
  return isIdle(entry.limiter);
}

function closeEntry(entry: KeyEntry): void {
  entry.limiter.close();
}

/** True when every bucket of `limiter` is full and it is not paused: forgetting it loses nothing. */
function isIdle(limiter: LlmLimiter): boolean {
  if (limiter.isPaused) return false;
  for (const dimension of limiter.dimensions) {
    const capacity = limiter.capacityOf(dimension);
    if (limiter.remaining(dimension) < capacity * (1 - 1e-9)) return false;
  }
  return true;
}

/** A permit of a {@link KeyedLlmLimiter}: the limiter's permit, counted against its key until released. */
class KeyedPermit implements LlmPermit {
  readonly granted = true as const;
  private released = false;
  constructor(
    private readonly inner: LlmPermit,
    private readonly entry: KeyEntry,
  ) {}
  get inputTokens(): number {
    return this.inner.inputTokens;
  }
  get maxOutputTokens(): number {
    return this.inner.maxOutputTokens;
  }
  release(outcome?: Outcome): void {
    checkOutcome(this.entry.limiter.name, outcome);
    if (this.released) return;
    this.released = true;
    this.entry.outstanding--;
    this.inner.release(outcome);
  }
}

// =================================================================================================
// LlmRouter
// =================================================================================================

/** One deployment of a model, as given to {@link LlmRouter}. */
export interface LlmDeployment {
  /** Its name, unique within the router: what {@link LlmRouter.observe} takes. A non-empty string. */
  readonly name: string;
  /**
   * Its quota: an {@link LlmLimiter}, or the options to make one (named after the deployment
   * unless they name it, on the router's `clock` when one is given). The router owns it from
   * then on: {@link LlmRouter.close} closes it.
   */
  readonly limiter: LlmLimiter | LlmLimiterOptions;
  /**
   * Preference among deployments that are otherwise equal (same wait, same headroom): higher
   * first. A finite number > 0; default 1.
   */
  readonly weight?: number;
}

/** Options of {@link LlmRouter}. */
export interface LlmRouterOptions {
  /** The deployments of one model to choose among: at least one, names unique. Required. */
  readonly deployments: readonly LlmDeployment[];
  /** Name used in refusals and errors; default `"llm-router"`. */
  readonly name?: string;
  /**
   * Time source of the limiters the router makes from options (it overrides a `clock` in them).
   * Default: their own `clock`, else `systemClock`. Limiters passed in keep their own.
   */
  readonly clock?: Clock;
}

/** A deployment as the router holds it. */
export interface LlmRouterDeployment {
  /** Its name. */
  readonly name: string;
  /** Its limiter (given, or made from the options). */
  readonly limiter: LlmLimiter;
  /** Its weight (default 1). */
  readonly weight: number;
}

/** What {@link LlmRouter.acquire} grants: where to send the request, and the reservation there. */
export interface LlmRoute {
  /** Always `true`: tells a route from a {@link Refusal} (as `Permit.granted` does). */
  readonly granted: true;
  /** The deployment chosen: send the request to it, and pass its `name` to {@link LlmRouter.observe}. */
  readonly deployment: LlmRouterDeployment;
  /** The reservation on that deployment's limiter; release it with the call's usage. */
  readonly permit: LlmPermit;
}

/** A deployment's standing for one request (lower `state` first, then sooner, then more headroom). */
interface Candidate {
  readonly deployment: LlmRouterDeployment;
  readonly index: number;
  /** 0 open, 1 paused, 2 closed. */
  readonly state: number;
  readonly waitMs: number;
  readonly headroom: number;
}

const DEPLOYMENT_KEYS = optionKeys<LlmDeployment>()({ name: true, limiter: true, weight: true });
const LLM_ROUTER_KEYS = optionKeys<LlmRouterOptions>()({ deployments: true, name: true, clock: true });

/**
 * A small router over several deployments of the same model (regions, keys, Azure deployments),
 * each with its own quota ({@link LlmLimiter}): every request goes to the deployment that can
 * admit it soonest, so load spreads by headroom and a deployment answering 429 is left alone
 * until its pause ends.
 *
 * **Preference order** for a request, best first:
 * 1. deployments that are not paused before paused ones (a 429 is evidence the local view of
 *    that quota is wrong; the others serve meanwhile), and closed ones last;
 * 2. the smallest {@link LlmLimiter.waitEstimateMs} (0 when it fits now; the queue ahead and a
 *    pause count);
 * 3. the most headroom after the request: the least, over the dimensions the deployment
 *    enforces, of (remaining − the request's cost) / capacity;
 * 4. the higher `weight`, then the order given.
 *
 * Deployments the request could never fit are skipped; when it fits none, the `TooLargeError`
 * (of the deployment with the largest capacity) is thrown by `choose`/`tryAcquire` and rejected
 * at once by `acquire`.
 *
 * Unlike a router that counts fixed minute windows and adds tokens only after success (LiteLLM's
 * usage-based routing), every deployment here is a continuously refilling reservation, debited
 * before the call and reconciled after it, and a failing check never admits.
 *
 * @example
 * ```ts
 * const router = new LlmRouter({
 *   deployments: [
 *     { name: 'eastus', limiter: { requestsPerMinute: 600, tokensPerMinute: 60_000 } },
 *     { name: 'westeurope', limiter: { requestsPerMinute: 300, tokensPerMinute: 30_000 } },
 *   ],
 * });
 * const { deployment, permit } = await router.acquire({ inputTokens: 1_000, maxOutputTokens: 500 });
 * const response = await callDeployment(deployment.name);
 * router.observe(deployment.name, response); // a 429 pauses this deployment only
 * permit.release({ ok: true, usage: { inputTokens: 990, outputTokens: 230 } });
 * ```
 */
export class LlmRouter {
  /** Name used in refusals and errors. */
  readonly name: string;
  /** The deployments, in the order given. */
  readonly deployments: readonly LlmRouterDeployment[];
  private readonly byName: Map<string, LlmRouterDeployment>;
  private closed = false;

  /**
   * @throws InvalidArgumentError for no deployments, a missing or duplicate name, a weight that
   *   is not a finite number > 0, the same limiter twice, or bad limiter options.
   */
  constructor(options: LlmRouterOptions) {
    const o = checkOptions('LlmRouter', options, LLM_ROUTER_KEYS);
    const name = checkName('LlmRouter', o.name, 'llm-router');
    this.name = name;
    const clock = checkClock(name, o.clock);
    const given = o.deployments;
    if (!Array.isArray(given) || given.length === 0) {
      throw new InvalidArgumentError(name, 'deployments', 'a non-empty array of { name, limiter, weight? }', given);
    }
    const byName = new Map<string, LlmRouterDeployment>();
    const limiters = new Set<LlmLimiter>();
    const deployments: LlmRouterDeployment[] = [];
    given.forEach((raw: unknown, i) => {
      const where = `deployments[${i}]`;
      if (typeof raw !== 'object' || raw === null) throw new InvalidArgumentError(name, where, 'an object { name, limiter, weight? }', raw);
      const d = checkOptions(name, raw as LlmDeployment, DEPLOYMENT_KEYS, `${where}.`);
      if (typeof d.name !== 'string' || d.name.length === 0)
        throw new InvalidArgumentError(name, `${where}.name`, 'a non-empty string', d.name);
      if (byName.has(d.name)) throw new InvalidArgumentError(name, `${where}.name`, 'a name no other deployment has', d.name);
      const weight = checkNumber(name, `${where}.weight`, d.weight ?? 1, { min: 0, exclusiveMin: true });
      let limiter: LlmLimiter;
      if (isLlmLimiter(d.limiter)) {
        limiter = d.limiter;
        if (limiters.has(limiter)) throw new InvalidArgumentError(name, `${where}.limiter`, 'a limiter no other deployment has', d.name);
      } else if (typeof d.limiter === 'object' && d.limiter !== null && !Array.isArray(d.limiter)) {
        const limits = d.limiter;
        const named = { ...limits, name: limits.name ?? d.name };
        limiter = new LlmLimiter(clock === undefined ? named : { ...named, clock });
      } else {
        throw new InvalidArgumentError(name, `${where}.limiter`, 'an LlmLimiter or LlmLimiterOptions', d.limiter);
      }
      limiters.add(limiter);
      const deployment: LlmRouterDeployment = Object.freeze({ name: d.name, limiter, weight });
      byName.set(d.name, deployment);
      deployments.push(deployment);
    });
    this.byName = byName;
    this.deployments = Object.freeze(deployments);
  }

  /** The deployment named `name`, or `undefined`. */
  deployment(name: string): LlmRouterDeployment | undefined {
    return this.byName.get(name);
  }

  /**
   * The deployment a request should go to now, by the preference order (see the class comment).
   * Reserves nothing: between `choose` and an `acquire` on that limiter, another caller may take
   * the room; {@link LlmRouter.acquire} decides and reserves at once.
   *
   * @throws TooLargeError when the request could never fit any deployment.
   * @throws InvalidArgumentError for a malformed request.
   */
  choose(request: LlmRequest): LlmRouterDeployment {
    return (this.rank(request)[0] as Candidate).deployment;
  }

  /**
   * Reserves now on the best deployment that can admit the request now, or refuses now (it
   * allocates no promise): `exhausted` with the `retryAfterMs` of the first deployment in
   * preference order, `paused` when every deployment is paused (429), `closed` once closed.
   *
   * @throws TooLargeError when the request could never fit any deployment.
   * @throws InvalidArgumentError for a malformed request or options.
   */
  tryAcquire(request: LlmRequest, options?: TryAcquireOptions): LlmRoute | Refusal {
    checkTryAcquireOptions(this.name, options);
    if (this.closed) return this.refusal('closed', undefined);
    const ranked = this.rank(request);
    const route = grantNow(ranked, request, options?.priority);
    if (route !== undefined) return route;
    const best = ranked[0] as Candidate;
    if (best.state === 2) return this.refusal('closed', undefined);
    return this.refusal(
      best.state === 1 ? 'paused' : 'exhausted',
      Number.isFinite(best.waitMs) ? Math.max(0, Math.ceil(best.waitMs - 1e-6)) : undefined,
    );
  }

  /**
   * Reserves on the best deployment, now or after a wait. First every deployment that can admit
   * the request now is tried, in preference order (the others are not asked, so their refusal
   * counters stay true); if none can, the request waits on the first in preference order — the
   * one not paused with the smallest wait estimate, or, when all are paused, the one whose
   * pause ends soonest — with the caller's `signal`, `maxWaitMs` and `priority`.
   *
   * Once waiting, it stays with that deployment: if the deployment is paused meanwhile (a 429)
   * the waiter keeps its place and is admitted after the pause; if it is closed the wait
   * rejects with its `ClosedError`. It does not move to another deployment.
   *
   * Rejects at once with the `TooLargeError` when the request could never fit any deployment,
   * with `signal.reason` when the signal is already aborted, with a `ClosedError` once closed,
   * and otherwise as {@link LlmLimiter.acquire} does (`WaitTimeoutError`, `QueueFullError`).
   */
  acquire(request: LlmRequest, options?: AcquireOptions): Promise<LlmRoute> {
    let ranked: Candidate[];
    try {
      checkAcquireOptions(this.name, options);
      const signal = options?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      if (this.closed) return Promise.reject(new ClosedError(this.name));
      ranked = this.rank(request);
    } catch (error) {
      return Promise.reject(error);
    }
    const route = grantNow(ranked, request, options?.priority);
    if (route !== undefined) return Promise.resolve(route);
    const deployment = (ranked[0] as Candidate).deployment;
    return deployment.limiter.acquire(request, options).then((permit): LlmRoute => ({ granted: true, deployment, permit }));
  }

  /**
   * Passes a response (or its headers) to the named deployment's limiter (see
   * {@link LlmLimiter.observe}): its buckets follow the provider's headers, and a retryable 429
   * pauses that deployment only, so new requests go to the others meanwhile. Malformed headers
   * never throw.
   *
   * @throws InvalidArgumentError when no deployment has that name.
   */
  observe(deploymentName: string, response: ResponseLike | HeadersLike, body?: unknown): LlmObservation {
    const deployment = this.byName.get(deploymentName);
    if (deployment === undefined) {
      throw new InvalidArgumentError(this.name, 'deploymentName', `one of ${[...this.byName.keys()].join(', ')}`, deploymentName);
    }
    return deployment.limiter.observe(response, body);
  }

  /**
   * Closes every deployment's limiter (rejecting their waiters with a `ClosedError`) and refuses
   * from then on. Permits already granted may still be released. Idempotent.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const deployment of this.deployments) deployment.limiter.close();
  }

  /**
   * The deployments that could ever fit `request`, best first. Reads the limiters' state (their
   * buckets refill to now) and reserves nothing.
   *
   * @throws TooLargeError when it fits none; InvalidArgumentError for a malformed request.
   */
  private rank(request: LlmRequest): Candidate[] {
    const r = checkOptions(this.name, request, LLM_REQUEST_KEYS, 'request.');
    const input = checkNumber(this.name, 'inputTokens', r.inputTokens ?? 0, { min: 0, integer: true });
    const output = checkNumber(this.name, 'maxOutputTokens', r.maxOutputTokens ?? 0, { min: 0, integer: true });
    const candidates: Candidate[] = [];
    let tooLarge: TooLargeError | undefined;
    this.deployments.forEach((deployment, index) => {
      const limiter = deployment.limiter;
      let waitMs: number;
      try {
        waitMs = limiter.waitEstimateMs(request);
      } catch (error) {
        if (!isTooLargeError(error)) throw error;
        if (tooLarge === undefined || error.capacity > tooLarge.capacity) tooLarge = error;
        return;
      }
      const state = limiter.isClosed ? 2 : limiter.isPaused ? 1 : 0;
      candidates.push({ deployment, index, state, waitMs, headroom: headroomAfter(limiter, input, output) });
    });
    if (candidates.length === 0) throw tooLarge as TooLargeError;
    return candidates.sort(compareCandidates);
  }

  private refusal(reason: 'closed' | 'exhausted' | 'paused', retryAfterMs: number | undefined): Refusal {
    return Object.freeze({ granted: false as const, reason, gate: this.name, retryAfterMs });
  }
}

/** Best first: open before paused before closed, then sooner, more headroom, heavier, earlier. */
function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.state - b.state || a.waitMs - b.waitMs || b.headroom - a.headroom || b.deployment.weight - a.deployment.weight || a.index - b.index
  );
}

/**
 * The first grant, in `ranked` order, from the deployments whose estimate says they can admit
 * now; `undefined` when none does. Deployments that would refuse are not asked (a refusal
 * would count in their stats and fire their `onRefuse`).
 */
function grantNow(ranked: readonly Candidate[], request: LlmRequest, priority: number | undefined): LlmRoute | undefined {
  const options = priority === undefined ? undefined : { priority };
  for (const candidate of ranked) {
    if (candidate.state !== 0 || candidate.waitMs > 0) break; // sorted: nobody after it fits now either
    const result = candidate.deployment.limiter.tryAcquire(request, options);
    if (result.granted) return { granted: true, deployment: candidate.deployment, permit: result };
  }
  return undefined;
}

/**
 * The least, over the dimensions `limiter` enforces, of (remaining − cost) / capacity after a
 * request of `input` + `output` tokens: 1 for an idle limiter and a free request, below 0 when
 * the request does not fit now. Refills the buckets to now; changes nothing else.
 */
function headroomAfter(limiter: LlmLimiter, input: number, output: number): number {
  let least = Infinity;
  for (const dimension of limiter.dimensions) {
    const share = (limiter.remaining(dimension) - costIn(dimension, input, output)) / limiter.capacityOf(dimension);
    if (share < least) least = share;
  }
  return least;
}

/** What one request of `input` + `output` tokens costs in `dimension`. */
function costIn(dimension: Dimension, input: number, output: number): number {
  switch (dimension) {
    case 'requests':
    case 'requests-per-day':
      return 1;
    case 'input-tokens':
      return input;
    case 'output-tokens':
      return output;
    default:
      return input + output;
  }
}

/** An `LlmLimiter`, or one from another copy of this package (checked by shape, not class). */
function isLlmLimiter(value: unknown): value is LlmLimiter {
  if (value instanceof LlmLimiter) return true;
  const v = value as Partial<Record<keyof LlmLimiter, unknown>> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.tryAcquire === 'function' &&
    typeof v.acquire === 'function' &&
    typeof v.waitEstimateMs === 'function' &&
    typeof v.observe === 'function' &&
    typeof v.remaining === 'function' &&
    typeof v.capacityOf === 'function'
  );
}
