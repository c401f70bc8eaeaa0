import {
  checkOptions,
  checkOutcome,
  ClosedError,
  InvalidArgumentError,
  LimitExceededError,
  optionKeys,
  StoreUnavailableError,
  WaitTimeoutError,
  checkAcquireOptions,
  checkCount,
  checkName,
  checkNumber,
  type Disposer,
  type Gate,
  type Outcome,
  type Permit,
  type WaitOptions,
} from '@sluice/core';
import { Gcra, SlidingWindow, gcraParameters } from '@sluice/rate-limit';
import { RedisGate, checkGateOptions, type RedisGateOptions, type RemoteBudget } from './gate.js';
import { Sleepers } from './sleepers.js';
import { Coalescer } from './coalesce.js';
import { GCRA_LEASE, GCRA_REFUND, GCRA_TAKE, GCRA_TAKE_MANY, SLIDING_REFUND, SLIDING_TAKE } from './scripts.js';
import { InsuranceLocals, STORE_DOWN, StoreGuard, type StoreFailurePolicy, type StoreGuardOptions, type StoreMode } from './guard.js';
import type { StoreCallError, RedisStore } from './store.js';

/** Who decided a {@link TakeResult}: Redis, a local lease of units Redis granted earlier, or the failure policy. */
export type DecidedBy = 'redis' | 'lease' | 'insurance' | 'fail-open' | 'fail-closed';

/** The answer of {@link RedisRateLimiter.take}. */
export interface TakeResult {
  /** True when the units were taken. */
  readonly granted: boolean;
  /**
   * When refused: ms until the same request can pass (from the server's clock), or `undefined`
   * when the store is unavailable under `fail-closed`. 0 when granted.
   */
  readonly retryAfterMs: number | undefined;
  /** Whole units that could still be taken right after this decision (0 when unknown). */
  readonly remaining: number;
  /** Who decided: Redis, the local insurance limiter, or the failure policy. */
  readonly decidedBy: DecidedBy;
  /** Redis's clock at the decision, ms since the epoch; `undefined` when Redis did not decide. */
  readonly serverTimeMs: number | undefined;
}

/** Options every Redis rate limiter takes: the store, a name, and the failure policy. */
export interface RedisLimiterOptions extends StoreGuardOptions {
  /** The store (client, prefix, per-call timeout). */
  readonly store: RedisStore;
  /** The limiter's name: part of every key (`prefix:{name:key}:…`) and of errors. Default `'rate'`. */
  readonly name?: string;
}

/** Options of {@link RedisRateLimiter.gcra}: a token bucket, as GCRA. */
export interface RedisGcraOptions extends RedisLimiterOptions {
  /** Sustained rate, units per second. */
  readonly ratePerSecond: number;
  /** Most units at once (the bucket's size); an integer ≥ 1. */
  readonly burst: number;
  /**
   * Coalesce the `take`s (and gate reservations) this process asks for within one turn of the
   * event loop into one script call (per cluster slot): many concurrent callers then cost one
   * round trip, decided in arrival order exactly as separate calls would be, at one server time.
   * A lone request goes alone. Default `true`; `false` sends every decision as its own call.
   */
  readonly coalesce?: boolean;
  /**
   * Lease batching for hot keys: `take` gets up to `lease.units` in one round trip and spends
   * them locally, so a hot key costs a round trip per batch, not per request. Each unit is
   * debited in Redis before it is spent, so the total never exceeds the limit over the long run;
   * what can happen is that units debited earlier are spent later: over any window of t seconds,
   * admissions stay within `burst + ratePerSecond × t + instances × lease.units` (the stated
   * overshoot). Unspent units go back to Redis after `maxAgeMs` and on `close()`. Default: none
   * (every `take` is a round trip).
   */
  readonly lease?: LeaseOptions;
}

/** Local lease batching of a {@link RedisRateLimiter.gcra} limiter (hot keys). */
export interface LeaseOptions {
  /**
   * Units to take from Redis in one round trip when a key's local lease runs out (as many as
   * the bucket holds, up to this); later `take`s of that key spend them locally. An integer
   * from 1 to the burst.
   */
  readonly units: number;
  /**
   * Longest a leased unit may be kept before it is given back to Redis unspent, in ms; default
   * 1,000. Bounds how far a leased unit's use can drift from the time it was debited.
   */
  readonly maxAgeMs?: number;
  /** Most keys holding a lease at once (the oldest gives its lease back first); default 10,000. */
  readonly maxKeys?: number;
}

/** Options of {@link RedisRateLimiter.slidingWindow}. */
export interface RedisSlidingWindowOptions extends RedisLimiterOptions {
  /** Most units per window; an integer ≥ 1. */
  readonly limit: number;
  /** Window length, ms. Windows are aligned to multiples of it on the server's clock. */
  readonly windowMs: number;
}

/** One remote decision, parsed. */
interface Decision {
  readonly admitted: boolean;
  readonly waitMs: number;
  readonly remaining: number;
  readonly serverTimeMs: number;
}

interface Algorithm {
  /** Largest count one request can take. */
  readonly capacity: number;
  /** Runs the take script; `acceptWaitMs` -1 for any wait, 0 for none. */
  take(limiter: RedisRateLimiter, key: string, count: number, acceptWaitMs: number): Promise<Decision>;
  /** Gives back a reservation of `count` that will not be used, if the algorithm reserves. */
  refund?(limiter: RedisRateLimiter, key: string, count: number): Promise<void>;
  /** Whether a wait can be reserved in one call (else waits are polled with the server's hint). */
  readonly reserves: boolean;
  /** A fresh local limiter for one key, sized for one of `instances` processes. */
  local(instances: number): Gate;
  /** Takes between `min` and `max` units now (0 when fewer than `min` are there). */
  lease?(limiter: RedisRateLimiter, key: string, min: number, max: number): Promise<Decision & { readonly taken: number }>;
}

/** Units of one key leased from Redis and not spent yet. */
interface Lease {
  units: number;
  /** `store.clock` time the units were taken, ms. */
  readonly at: number;
}

function parse(reply: unknown): Decision {
  const r = reply as [number, string, number, string];
  return { admitted: r[0] === 1, waitMs: Number(r[1]), remaining: Number(r[2]), serverTimeMs: Number(r[3]) };
}

const REDIS_GCRA_KEYS = optionKeys<RedisGcraOptions>()({
  ratePerSecond: true,
  burst: true,
  coalesce: true,
  lease: true,
  store: true,
  name: true,
  onStoreError: true,
  expectedInstances: true,
  probeIntervalMs: true,
});

const REDIS_SLIDING_WINDOW_KEYS = optionKeys<RedisSlidingWindowOptions>()({
  limit: true,
  windowMs: true,
  store: true,
  name: true,
  onStoreError: true,
  expectedInstances: true,
  probeIntervalMs: true,
});

const LEASE_KEYS = optionKeys<LeaseOptions>()({ units: true, maxAgeMs: true, maxKeys: true });

/** The permit of a fail-open limiter: gives nothing back, but still refuses a bad outcome. */
const ALWAYS: Permit = Object.freeze({
  granted: true as const,
  release(outcome?: Outcome): void {
    checkOutcome('RedisRateLimiter', outcome);
  },
});
const NO_SIGNAL: WaitOptions = Object.freeze({});

/**
 * A rate limit shared by every process that uses the same Redis and limiter name: one Lua script
 * per decision, on Redis's clock (`TIME`), keyed per caller (`take('user:42')`), each key one
 * hash-tagged Redis key, so it runs on Redis Cluster too. A refused call never debits the shared
 * state; keys expire once idle (a full bucket is no key).
 *
 * Two algorithms, with the same arithmetic as the in-memory limiters: {@link RedisRateLimiter.gcra}
 * (a token bucket of `burst` refilling at `ratePerSecond`; `acquire` reserves its place in time,
 * so waiters are served in arrival order across processes with one round trip each) and
 * {@link RedisRateLimiter.slidingWindow} (`limit` per `windowMs`; waits poll with the server's
 * hint).
 *
 * The failure policy is explicit and required (`onStoreError`). While Redis fails, decisions go
 * to the policy at once, without a call per request, and the store is probed every
 * `probeIntervalMs`; the first answer hands back.
 *
 * @example
 * ```ts
 * const perUser = RedisRateLimiter.gcra({ store, name: 'api', ratePerSecond: 10, burst: 20, onStoreError: 'insurance', expectedInstances: 4 });
 * const { granted, retryAfterMs } = await perUser.take(`user:${id}`);
 * if (!granted) response.writeHead(429, { 'retry-after': Math.ceil((retryAfterMs ?? 1000) / 1000) });
 * ```
 */
export class RedisRateLimiter {
  /** The limiter's name (in keys and errors). */
  readonly name: string;
  /** The store. */
  readonly store: RedisStore;
  /** The failure policy. */
  readonly policy: StoreFailurePolicy;
  /** Largest count one request can take (the burst, or the window's limit). */
  readonly capacity: number;
  private readonly algorithm: Algorithm;
  private readonly guard: StoreGuard;
  private readonly locals: InsuranceLocals<Gate>;
  private closed = false;
  private readonly sleepers: Sleepers;
  private leaseUnits = 0;
  private leaseMaxAgeMs = 1_000;
  private leaseMaxKeys = 10_000;
  /** Local leases by key, oldest first (Map order). */
  private readonly leases = new Map<string, Lease>();

  /** A token bucket (`burst` units, refilling at `ratePerSecond`) kept as GCRA in Redis. */
  static gcra(options: RedisGcraOptions): RedisRateLimiter {
    checkOptions('RedisRateLimiter.gcra', options, REDIS_GCRA_KEYS);
    const where = checkName('RedisRateLimiter', options.name, 'rate');
    const ratePerSecond = checkNumber(where, 'ratePerSecond', options.ratePerSecond, { min: 0, exclusiveMin: true });
    const burst = checkNumber(where, 'burst', options.burst, { min: 1, integer: true });
    const { emissionMs, toleranceMs } = gcraParameters(ratePerSecond, burst);
    const store = options.store;
    const single = async (redisKey: string, count: number, accept: number): Promise<Decision> =>
      parse(await store.run(GCRA_TAKE, [redisKey], [emissionMs, toleranceMs, count, accept]));
    const coalescer =
      options.coalesce === false || typeof store?.run !== 'function'
        ? undefined
        : new Coalescer<Decision>(store, single, async (keys, requests) => {
            const args: (string | number)[] = [emissionMs, toleranceMs, requests.length];
            for (const r of requests) args.push(r.index, r.cost, r.accept);
            const reply = (await store.run(GCRA_TAKE_MANY, keys, args)) as (string | number)[];
            const serverTimeMs = Number(reply[reply.length - 1]);
            return requests.map((_, i) => ({
              admitted: reply[3 * i] === 1,
              waitMs: Number(reply[3 * i + 1]),
              remaining: Number(reply[3 * i + 2]),
              serverTimeMs,
            }));
          });
    const algorithm: Algorithm = {
      capacity: burst,
      reserves: true,
      take(limiter, key, count, acceptWaitMs) {
        const redisKey = limiter.store.key(limiter.name, key, 'tat');
        return coalescer === undefined ? single(redisKey, count, acceptWaitMs) : coalescer.take(redisKey, count, acceptWaitMs);
      },
      async refund(limiter, key, count) {
        await limiter.store.run(GCRA_REFUND, [limiter.store.key(limiter.name, key, 'tat')], [count * emissionMs]);
      },
      async lease(limiter, key, min, max) {
        const reply = (await limiter.store.run(
          GCRA_LEASE,
          [limiter.store.key(limiter.name, key, 'tat')],
          [emissionMs, toleranceMs, min, max],
        )) as [number, string, number, string];
        return { ...parse(reply), admitted: reply[0] > 0, taken: reply[0] };
      },
      local: (instances) =>
        new Gcra({
          name: `${where} (insurance)`,
          ratePerSecond: ratePerSecond / instances,
          burst: Math.max(1, Math.floor(burst / instances)),
          clock: options.store.clock,
        }),
    };
    const limiter = new RedisRateLimiter(options, algorithm);
    if (options.lease !== undefined) limiter.enableLease(options.lease, burst);
    return limiter;
  }

  /** At most `limit` units per `windowMs` (the weighted two-window estimate), kept in Redis. */
  static slidingWindow(options: RedisSlidingWindowOptions): RedisRateLimiter {
    checkOptions('RedisRateLimiter.slidingWindow', options, REDIS_SLIDING_WINDOW_KEYS);
    const where = checkName('RedisRateLimiter', options.name, 'rate');
    const limit = checkNumber(where, 'limit', options.limit, { min: 1, integer: true });
    const windowMs = checkNumber(where, 'windowMs', options.windowMs, { min: 1 });
    const algorithm: Algorithm = {
      capacity: limit,
      reserves: false,
      async take(limiter, key, count) {
        return parse(await limiter.store.run(SLIDING_TAKE, [limiter.store.key(limiter.name, key, 'sw')], [limit, windowMs, count]));
      },
      async refund(limiter, key, count) {
        await limiter.store.run(SLIDING_REFUND, [limiter.store.key(limiter.name, key, 'sw')], [windowMs, count]);
      },
      local: (instances) =>
        new SlidingWindow({
          name: `${where} (insurance)`,
          limit: Math.max(1, Math.floor(limit / instances)),
          windowMs,
          clock: options.store.clock,
        }),
    };
    return new RedisRateLimiter(options, algorithm);
  }

  private constructor(options: RedisLimiterOptions, algorithm: Algorithm) {
    this.name = checkName('RedisRateLimiter', options.name, 'rate');
    const store = (options as Partial<RedisLimiterOptions>).store;
    if (typeof store !== 'object' || store === null || typeof store.run !== 'function') {
      throw new InvalidArgumentError(this.name, 'store', 'a RedisStore', store);
    }
    this.store = store;
    this.sleepers = new Sleepers(store.clock);
    this.guard = new StoreGuard(this.name, store, options);
    this.policy = this.guard.policy;
    this.algorithm = algorithm;
    this.locals = new InsuranceLocals(this.guard, () => algorithm.local(this.guard.instances));
    this.capacity = algorithm.capacity;
  }

  /** True while decisions go to the failure policy because Redis did not answer. */
  get storeDown(): boolean {
    return this.guard.down;
  }

  /**
   * Takes `count` units for `key` now, or refuses: one script call, never waits. Resolves with
   * the decision (a refusal is an answer, not an error).
   *
   * @param count - an integer from 0 to {@link RedisRateLimiter.capacity}; default 1.
   * @throws InvalidArgumentError for a bad key or count; TooLargeError above the capacity (it
   * could never pass); ClosedError after `close()`.
   */
  async take(key: string, count = 1): Promise<TakeResult> {
    this.check(key, count);
    if (this.leaseUnits > 0) return this.takeLeased(key, count);
    const decision = await this.guard.attempt(() => this.algorithm.take(this, key, count, 0));
    if (decision === STORE_DOWN) return this.fallbackTake(key, count);
    return {
      granted: decision.admitted,
      retryAfterMs: decision.admitted ? 0 : decision.waitMs,
      remaining: decision.remaining,
      decidedBy: 'redis',
      serverTimeMs: decision.serverTimeMs,
    };
  }

  /**
   * Takes `count` units for `key`, waiting until they are there: with GCRA one call reserves the
   * units' place in time (arrival order across every process) and the caller sleeps until then;
   * a sliding window retries at the server's hint. Rejects with a `WaitTimeoutError` at once when
   * the wait would exceed `maxWaitMs` (nothing is debited), with the signal's reason when aborted
   * (a reservation is given back), with a `StoreUnavailableError` under `fail-closed`.
   */
  async acquire(key: string, count = 1, options: WaitOptions = NO_SIGNAL): Promise<Permit> {
    this.check(key, count);
    checkAcquireOptions(this.name, options);
    const signal = options.signal;
    if (signal?.aborted === true) throw signal.reason;
    const maxWaitMs = options.maxWaitMs ?? Infinity;
    const deadline = this.store.clock.now() + maxWaitMs;
    for (;;) {
      const left = deadline - this.store.clock.now();
      const accept = this.algorithm.reserves ? (left === Infinity ? -1 : Math.max(0, left)) : 0;
      const decision = await this.guard.attempt(() => this.algorithm.take(this, key, count, accept));
      if (decision === STORE_DOWN) return this.fallbackAcquire(key, count, options);
      if (decision.admitted) {
        if (decision.waitMs > 0) await this.sleepers.sleep(decision.waitMs, signal, () => this.algorithm.refund?.(this, key, count));
        return ALWAYS;
      }
      if (decision.waitMs > left) throw new WaitTimeoutError(this.name, maxWaitMs, decision.waitMs);
      await this.sleepers.sleep(decision.waitMs, signal);
    }
  }

  /** Subscribes to store failures (each failed call); returns an unsubscriber. */
  onStoreFailure(listener: (error: StoreCallError) => void): Disposer {
    return this.guard.onStoreFailure(listener);
  }

  /**
   * Subscribes to hand-overs: `'fallback'` when Redis stopped answering and the policy took over,
   * `'redis'` when it answered again; returns an unsubscriber.
   */
  onModeChange(listener: (mode: StoreMode) => void): Disposer {
    return this.guard.onModeChange(listener);
  }

  /**
   * One key of this limiter as a sluice `Gate` (see {@link RedisGate}): this process's waiters
   * queue locally with priorities, `maxWaitMs` and abort; the units come from Redis.
   */
  gate(key: string, options?: RedisGateOptions): RedisGate {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    const checked = checkGateOptions(this.name, options);
    if (this.closed) throw new ClosedError(this.name);
    return new RedisGate(this.budget(), key, this.store.clock, checked);
  }

  /** Units held in local leases now, over every key (0 without lease batching). */
  get leasedUnits(): number {
    let units = 0;
    for (const lease of this.leases.values()) units += lease.units;
    return units;
  }

  /**
   * Stops the probe, rejects every sleeping waiter with a `ClosedError` (their reservations go
   * back), and gives unspent leased units back to Redis (best effort; the returned promise
   * resolves when they are back and never rejects; calling it without `await` is fine).
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const returning = [...this.leases.keys()].map((key) => this.returnLease(key));
    this.closed = true;
    this.guard.close();
    returning.push(this.sleepers.wakeAll(new ClosedError(this.name)));
    this.locals.clear();
    return Promise.all(returning).then(() => undefined);
  }

  private enableLease(options: LeaseOptions, burst: number): void {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError(this.name, 'lease', 'an object { units, maxAgeMs?, maxKeys? }', options);
    checkOptions(this.name, options, LEASE_KEYS, 'lease.');
    this.leaseUnits = checkNumber(this.name, 'lease.units', options.units, { min: 1, max: burst, integer: true });
    this.leaseMaxAgeMs = checkNumber(this.name, 'lease.maxAgeMs', options.maxAgeMs ?? 1_000, { min: 0, exclusiveMin: true });
    this.leaseMaxKeys = checkNumber(this.name, 'lease.maxKeys', options.maxKeys ?? 10_000, { min: 1, integer: true });
  }

  /** `take` with lease batching: spend the key's lease, or take a new batch in one round trip. */
  private async takeLeased(key: string, count: number): Promise<TakeResult> {
    const now = this.store.clock.now();
    let lease = this.leases.get(key);
    if (lease !== undefined && now - lease.at > this.leaseMaxAgeMs) {
      void this.returnLease(key);
      lease = undefined;
    }
    if (lease !== undefined && lease.units >= count) {
      lease.units -= count;
      const remaining = lease.units;
      if (remaining === 0) this.leases.delete(key);
      return { granted: true, retryAfterMs: 0, remaining, decidedBy: 'lease', serverTimeMs: undefined };
    }
    // what is left is too little for this request: it goes back, and a new batch is taken
    if (lease !== undefined) void this.returnLease(key);
    const lessee = this.algorithm.lease as NonNullable<Algorithm['lease']>;
    const batch = Math.max(count, this.leaseUnits);
    const decision = await this.guard.attempt(() => lessee(this, key, count, batch));
    if (decision === STORE_DOWN) return this.fallbackTake(key, count);
    if (decision.taken === 0) {
      return {
        granted: false,
        retryAfterMs: decision.waitMs,
        remaining: decision.remaining,
        decidedBy: 'redis',
        serverTimeMs: decision.serverTimeMs,
      };
    }
    const left = decision.taken - count;
    if (left > 0 && !this.closed) {
      const held = this.leases.get(key);
      if (held !== undefined) held.units += left;
      else {
        if (this.leases.size >= this.leaseMaxKeys) void this.returnLease(this.leases.keys().next().value as string);
        this.leases.set(key, { units: left, at: this.store.clock.now() });
      }
    } else if (left > 0) {
      void this.algorithm.refund?.(this, key, left)?.catch(() => {});
    }
    return { granted: true, retryAfterMs: 0, remaining: left, decidedBy: 'redis', serverTimeMs: decision.serverTimeMs };
  }

  /** Gives a key's unspent leased units back to Redis (best effort: a store error loses them). */
  private returnLease(key: string): Promise<void> {
    const lease = this.leases.get(key);
    this.leases.delete(key);
    if (lease === undefined || lease.units === 0 || this.guard.down) return Promise.resolve();
    return this.guard.attempt(() => this.algorithm.refund?.(this, key, lease.units) ?? Promise.resolve()).then(() => undefined);
  }

  private remote: RemoteBudget | undefined = undefined;

  /** What a {@link RedisGate} of this limiter needs. */
  private budget(): RemoteBudget {
    const algorithm = this.algorithm;
    return (this.remote ??= {
      name: this.name,
      capacity: this.capacity,
      reserves: algorithm.reserves,
      guard: this.guard,
      take: (key, count, accept) => algorithm.take(this, key, count, accept),
      refund: async (key, count) => {
        await this.guard.attempt(() => algorithm.refund?.(this, key, count) ?? Promise.resolve());
      },
      insurance: (key) => this.locals.get(key),
    });
  }

  private check(key: string, count: number): void {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    checkCount(count, this.capacity, this.name);
    if (this.closed) throw new ClosedError(this.name);
  }

  private fallbackTake(key: string, count: number): TakeResult {
    if (this.policy === 'fail-open')
      return { granted: true, retryAfterMs: 0, remaining: 0, decidedBy: 'fail-open', serverTimeMs: undefined };
    if (this.policy === 'fail-closed')
      return { granted: false, retryAfterMs: undefined, remaining: 0, decidedBy: 'fail-closed', serverTimeMs: undefined };
    const local = this.locals.get(key);
    if (count > local.capacity)
      return { granted: false, retryAfterMs: undefined, remaining: 0, decidedBy: 'insurance', serverTimeMs: undefined };
    const result = local.tryAcquire(count);
    const remaining = local.stats().available;
    return result.granted
      ? { granted: true, retryAfterMs: 0, remaining, decidedBy: 'insurance', serverTimeMs: undefined }
      : { granted: false, retryAfterMs: result.retryAfterMs, remaining, decidedBy: 'insurance', serverTimeMs: undefined };
  }

  private fallbackAcquire(key: string, count: number, options: WaitOptions): Promise<Permit> {
    if (this.policy === 'fail-open') return Promise.resolve(ALWAYS);
    if (this.policy === 'fail-closed')
      return Promise.reject(new StoreUnavailableError(this.name, 'the store did not answer', this.guard.probeIntervalMs));
    const local = this.locals.get(key);
    if (count > local.capacity) return Promise.reject(new LimitExceededError(this.name, undefined));
    return local.acquire(count, options);
  }
}
