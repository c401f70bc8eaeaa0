import {
  EMPTY_PERMIT,
  checkAcquireOptions,
  checkCount,
  checkOutcome,
  checkTryAcquireOptions,
  checkGate,
  ClosedError,
  InvalidArgumentError,
  LimitExceededError,
  checkFunction,
  checkName,
  checkNumber,
  checkOptions,
  optionKeys,
  runWithGate,
  systemClock,
  type AcquireOptions,
  type AdmitListener,
  type Clock,
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
  checkClock,
} from '@sluice/core';
import { BoundedKeyMap } from './key-map.js';
import { UNIT_EPSILON, bucketTokens } from './math.js';
import type { TokenBucketOptions } from './options.js';
import { TokenBucket } from './token-bucket.js';

/** Options of {@link KeyedLimiter}. */
export interface KeyedLimiterOptions<G extends Gate> {
  /**
   * Makes the gate of a key the first time the key is seen (or seen again after eviction).
   * Exactly one of `create` and `tokenBucket` is required.
   */
  readonly create?: (key: string) => G;
  /**
   * The options of one {@link TokenBucket} per key, the same for every key: the compact form.
   * A key then holds only its bucket's state (tokens and the time of the last refill, about
   * 100 B with the map entry, against about 500 B for a `TokenBucket` made by `create`) until
   * something needs the key's `TokenBucket` object: an `acquire` that has to wait, `get(key)`,
   * or events through `gate(key)`; that key then gets a real bucket, with the same tokens, for
   * the rest of its life. `tryAcquire`, an `acquire` that fits now, `statsFor` and the permits
   * behave as the bucket would. The buckets run on `clock` (else the options' `clock`) and are
   * named as the options name them, else `name`. Checked at construction. Type the limiter as
   * `KeyedLimiter<TokenBucket>` to get buckets from `get(key)`.
   */
  readonly tokenBucket?: TokenBucketOptions;
  /**
   * Most keys held at once, an integer ≥ 1. When full, a new key evicts an idle key (one whose
   * gate is back to full budget with nobody waiting), else a key without waiters, by second
   * chance (see {@link BoundedKeyMap}); so rotating keys cannot grow memory. Default 10,000.
   */
  readonly maxKeys?: number;
  /** Name used in refusals and errors; default `"keyed"`. */
  readonly name?: string;
  /** Time source for `run` durations (and the compact buckets' refill); default `systemClock`. */
  readonly clock?: Clock;
}

/** Counters of a {@link KeyedLimiter}. */
export interface KeyedLimiterStats {
  /** Keys held now. */
  readonly keys: number;
  /** Gates created so far (a key evicted and seen again is created again). */
  readonly created: number;
  /** Keys evicted to make room. */
  readonly evicted: number;
  /** Of those, keys that were not idle (their budget was not full): the bound on memory won. */
  readonly evictedBusy: number;
  /** Requests refused because no key could be evicted (every key held had waiters). */
  readonly refusedNoRoom: number;
}

const NO_STATS: GateStats = Object.freeze({ capacity: 0, available: 0, waiting: 0, queued: 0, admitted: 0, refused: 0, cancelled: 0 });

const KEYED_LIMITER_KEYS = optionKeys<KeyedLimiterOptions<Gate>>()({
  create: true,
  tokenBucket: true,
  maxKeys: true,
  name: true,
  clock: true,
});

/**
 * One limiter per key — client id, IP, API key, deployment — made on first use by `create`,
 * in a {@link BoundedKeyMap} of at most `maxKeys`. Eviction is second chance (a key used since
 * the scan last passed it moves to the back) and prefers idle keys, so an attacker rotating keys
 * cannot grow memory and only pushes out keys nobody is using. A key with waiters is never
 * evicted; a new key is refused (`refusedNoRoom`) only when every key held has waiters. Making
 * room looks at 64 keys once it has one it may evict (see {@link BoundedKeyMap} for the bound).
 *
 * Give `create` to make any gate per key, or `tokenBucket` for one {@link TokenBucket} per key
 * from shared options, held compactly (a key's tokens and refill time, about a third of the
 * memory of a `TokenBucket` per key) until the key needs a real bucket.
 *
 * @example
 * ```ts
 * const perClient = new KeyedLimiter({ tokenBucket: { ratePerSecond: 5, burst: 10 }, maxKeys: 100_000 });
 * // or any gate per key: new KeyedLimiter({ create: (key) => new Gcra({ ratePerSecond: 5, burst: 10 }) })
 * const result = perClient.tryAcquire(request.ip);
 * if (!result.granted) reply(429, { retryAfterMs: result.retryAfterMs });
 * ```
 */
export class KeyedLimiter<G extends Gate = Gate> {
  /** Name used in refusals and errors. */
  readonly name: string;
  /** Most keys held at once. */
  readonly maxKeys: number;
  private readonly clock: Clock;
  /** Makes a key's gate (or compact bucket): made once, not a closure per key. */
  private readonly make: (key: string) => G | KeyBucket;
  private readonly entries: BoundedKeyMap<G | KeyBucket>;
  private closed = false;

  /**
   * @throws InvalidArgumentError for neither or both of `create` and `tokenBucket`, bad
   *   `tokenBucket` options, a `maxKeys` that is not an integer ≥ 1, a bad `name` or `clock`.
   */
  constructor(options: KeyedLimiterOptions<G>) {
    const o = checkOptions<KeyedLimiterOptions<Gate>>('KeyedLimiter', options, KEYED_LIMITER_KEYS);
    this.name = checkName('KeyedLimiter', o.name, 'keyed');
    this.maxKeys = checkNumber(this.name, 'maxKeys', o.maxKeys ?? 10_000, { min: 1, integer: true });
    const clock = checkClock(this.name, o.clock);
    this.clock = clock ?? systemClock;
    if (o.tokenBucket !== undefined) {
      if (o.create !== undefined) throw new InvalidArgumentError(this.name, 'create', 'undefined when tokenBucket is given', o.create);
      const template = bucketTemplate(this.name, o.tokenBucket, clock);
      this.make = () => new KeyBucket(template, template.initialTokens, template.clock.now());
    } else {
      if (o.create === undefined) {
        throw new InvalidArgumentError(this.name, 'create', 'a function (key) => Gate, or tokenBucket options instead', o.create);
      }
      checkFunction(this.name, 'create', o.create);
      const create = o.create as (key: string) => G;
      this.make = (key) => {
        const gate = create(key);
        checkGate(this.name, gate, 'create(key)');
        return gate;
      };
    }
    this.entries = new BoundedKeyMap<G | KeyBucket>({
      maxKeys: this.maxKeys,
      name: this.name,
      isBusy: hasWaiters,
      isIdle: isFull,
      onEvict: closeHeld,
    });
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** `tryAcquire` on the key's gate (made on first use). Refuses when no room can be made for a new key. */
  tryAcquire(key: string, count = 1, options?: TryAcquireOptions): Permit | Refusal {
    const held = this.held(key);
    if (held === undefined) return this.noRoomRefusal();
    if (!(held instanceof KeyBucket)) return held.tryAcquire(count, options);
    if (held.gate !== undefined) return held.gate.tryAcquire(count, options);
    const template = held.template;
    checkCount(count, template.burst, template.name);
    if (options !== undefined) checkTryAcquireOptions(template.name, options);
    const shortMs = held.take(count);
    if (shortMs === 0) return count === 0 ? EMPTY_PERMIT : new KeyBucketPermit(held, count);
    return { granted: false, reason: 'exhausted', gate: template.name, retryAfterMs: shortMs };
  }

  /** `acquire` on the key's gate. Rejects with a `LimitExceededError` when no room can be made for a new key. */
  acquire(key: string, count = 1, options?: AcquireOptions): Promise<Permit> {
    let held: G | KeyBucket | undefined;
    try {
      held = this.held(key);
      if (held instanceof KeyBucket && held.gate === undefined) {
        const template = held.template;
        checkCount(count, template.burst, template.name);
        checkAcquireOptions(template.name, options);
        if (options?.signal?.aborted === true) return Promise.reject(options.signal.reason);
        // what fits now is granted in the compact form; a wait needs the real bucket
        if (held.take(count, true) === 0) {
          return Promise.resolve(count === 0 ? EMPTY_PERMIT : new KeyBucketPermit(held, count));
        }
      }
    } catch (error) {
      return Promise.reject(error);
    }
    if (held === undefined) {
      return Promise.reject(this.closed ? new ClosedError(this.name) : new LimitExceededError(this.name));
    }
    return this.gateOf(held).acquire(count, options);
  }

  /** `run` on the key's gate. */
  run<T>(key: string, fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    return runWithGate(this.gate(key), this.clock, fn, options);
  }

  /**
   * A `Gate` for one key: every call goes to the key's current gate (made again if it was
   * evicted). Its `close()` removes the key and refuses from then on. Handy to put one key's
   * limit in a pipeline.
   */
  gate(key: string): Gate {
    return new KeyGate(this, checkKey(this.name, key));
  }

  /**
   * The gate of `key` if it is held; does not create the key (with `tokenBucket`, it makes the
   * key's `TokenBucket` from its compact state).
   */
  get(key: string): G | undefined {
    const held = this.entries.peek(key);
    return held === undefined ? undefined : this.gateOf(held);
  }

  /** True when `key` is held. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Removes `key`, closing its gate (its waiters are rejected). Returns whether it was held. */
  delete(key: string): boolean {
    const held = this.entries.delete(key);
    if (held === undefined) return false;
    closeHeld(held);
    return true;
  }

  /** The keys held, in the order the eviction scan visits them (oldest first). */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Counters of the key map. */
  stats(): KeyedLimiterStats {
    const map = this.entries.stats();
    return { keys: map.keys, created: map.added, evicted: map.evicted, evictedBusy: map.evictedNotIdle, refusedNoRoom: map.refused };
  }

  /** The stats of `key`'s gate, or `undefined` when the key is not held. */
  statsFor(key: string): GateStats | undefined {
    const held = this.entries.peek(key);
    if (held === undefined) return undefined;
    return held.stats();
  }

  /** Closes every key's gate and refuses from then on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const held of this.entries.clear()) closeHeld(held);
  }

  /** @internal The key's gate, made (with room made for it) if needed; `undefined` when closed or no room. */
  resolve(key: string): G | undefined {
    const held = this.held(key);
    return held === undefined ? undefined : this.gateOf(held);
  }

  /** @internal The key's capacity, without making its `TokenBucket`; `undefined` when closed or no room. */
  capacityOf(key: string): number | undefined {
    const held = this.held(key);
    if (held === undefined) return undefined;
    return held instanceof KeyBucket ? held.template.burst : held.capacity;
  }

  /** @internal The key's pressure, without making its `TokenBucket`; `undefined` when closed or no room. */
  pressureOf(key: string): number | undefined {
    const held = this.held(key);
    if (held === undefined) return undefined;
    return held instanceof KeyBucket ? held.pressure() : held.pressure;
  }

  /** @internal The refusal when a new key finds no room (or the limiter is closed). */
  noRoomRefusal(): Refusal {
    return { granted: false, reason: this.closed ? 'closed' : 'exhausted', gate: this.name, retryAfterMs: undefined };
  }

  /** The key's gate or compact bucket, made (with room made for it) if needed; `undefined` when closed or no room. */
  private held(key: string): G | KeyBucket | undefined {
    const held = this.entries.get(key);
    if (held !== undefined) return held;
    checkKey(this.name, key);
    if (this.closed) return undefined;
    return this.entries.getOrAdd(key, this.make);
  }

  /** The gate itself, or the compact bucket's `TokenBucket` (made now if needed). */
  private gateOf(held: G | KeyBucket): G {
    if (!(held instanceof KeyBucket)) return held;
    return (held.gate ?? held.promote()) as unknown as G;
  }
}

/** A gate with waiters is never evicted. */
function hasWaiters(held: Gate | KeyBucket): boolean {
  if (held instanceof KeyBucket) return held.gate !== undefined && held.gate.stats().waiting > 0;
  return held.stats().waiting > 0;
}

/** A gate back to its full budget: forgetting it loses nothing. */
function isFull(held: Gate | KeyBucket): boolean {
  return held instanceof KeyBucket ? held.isFull() : held.pressure === 0;
}

/** Closes an evicted or deleted key's gate (a compact bucket closes its real bucket, if it has one). */
function closeHeld(held: Gate | KeyBucket): void {
  held.close();
}

// ---- the compact form (`tokenBucket`) ----

/** What every compact bucket of one keyed limiter shares: the checked options and their derived numbers. */
interface BucketTemplate {
  /** The options a key's `TokenBucket` is made from (name and clock filled in), frozen. */
  readonly options: TokenBucketOptions;
  readonly name: string;
  readonly clock: Clock;
  readonly burst: number;
  readonly initialTokens: number;
  readonly ratePerMs: number;
  readonly msPerToken: number;
}

function bucketTemplate(where: string, given: TokenBucketOptions, clock: Clock | undefined): BucketTemplate {
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new InvalidArgumentError(where, 'tokenBucket', 'TokenBucketOptions', given);
  }
  const named = { ...given, name: given.name ?? where };
  const options: TokenBucketOptions = Object.freeze(clock === undefined ? named : { ...named, clock });
  const probe = new TokenBucket(options); // checks every option now, with TokenBucket's own messages
  probe.close();
  return Object.freeze({
    options,
    name: probe.name,
    clock: options.clock ?? systemClock,
    burst: probe.burst,
    initialTokens: options.initialTokens ?? probe.burst,
    ratePerMs: probe.ratePerSecond / 1000,
    msPerToken: 1000 / probe.ratePerSecond,
  });
}

/**
 * One key's token bucket as two numbers (and two counters), until the key needs a real
 * `TokenBucket` (`gate`), which then holds the state. Same arithmetic as `TokenBucket`: a clock
 * that runs backwards refills nothing; debt (a permit released with a larger `cost`) is kept.
 */
class KeyBucket {
  /** The `TokenBucket` this key was promoted to, if it was. */
  gate: TokenBucket | undefined = undefined;
  private admitted = 0;
  private refused = 0;
  private closed = false;

  constructor(
    /** Shared by every key of the limiter. */
    readonly template: BucketTemplate,
    private tokens: number,
    private at: number,
  ) {}

  /**
   * Takes `count` tokens (count 0: checks that one is there) when they are there, and returns
   * 0; else the whole ms until they would be. Counts as `GateBase` does: `tryAcquire` counts
   * its grants and refusals of a count above 0, `acquire` (`waits`) every grant and, here, no
   * refusal (the real bucket it waits on counts what follows).
   */
  take(count: number, waits = false): number {
    const tokens = this.refill();
    const needed = count === 0 ? 1 : count;
    if (tokens + UNIT_EPSILON < needed) {
      if (!waits && count !== 0) this.refused++;
      return Math.max(1, Math.ceil((needed - tokens) * this.template.msPerToken));
    }
    if (count !== 0) this.tokens = tokens > count ? tokens - count : 0;
    if (count !== 0 || waits) this.admitted++;
    return 0;
  }

  /** Gives back `units` (never above the burst), or with a negative `units` takes them (into debt). */
  settle(units: number): void {
    if (this.closed) return;
    if (this.gate !== undefined) {
      if (units > 0) this.gate.refund(units);
      else this.gate.debit(-units);
      return;
    }
    const tokens = this.refill() + units;
    this.tokens = tokens < this.template.burst ? tokens : this.template.burst;
  }

  /** True when the bucket is full again: forgetting it loses nothing. */
  isFull(): boolean {
    return this.gate === undefined ? this.available() >= this.template.burst : this.gate.pressure === 0;
  }

  pressure(): number {
    if (this.gate !== undefined) return this.gate.pressure;
    const used = 1 - this.available() / this.template.burst;
    return used <= 0 ? 0 : used;
  }

  stats(): GateStats {
    if (this.gate !== undefined) {
      const inner = this.gate.stats();
      return { ...inner, admitted: inner.admitted + this.admitted, refused: inner.refused + this.refused };
    }
    return {
      capacity: this.template.burst,
      available: this.available(),
      waiting: 0,
      queued: 0,
      admitted: this.admitted,
      refused: this.refused,
      cancelled: 0,
    };
  }

  /** Makes the key's `TokenBucket` with this state; it holds the state from now on. */
  promote(): TokenBucket {
    const tokens = this.refill();
    const debt = tokens < 0 ? Math.ceil(-tokens) : 0;
    const gate = new TokenBucket({ ...this.template.options, initialTokens: tokens + debt });
    if (debt > 0) gate.debit(debt);
    if (this.closed) gate.close();
    this.gate = gate;
    return gate;
  }

  close(): void {
    this.closed = true;
    this.gate?.close();
  }

  /** Whole tokens now (as `TokenBucket.available`). */
  private available(): number {
    const tokens = Math.floor(this.refill() + UNIT_EPSILON);
    return tokens > 0 ? tokens : 0;
  }

  private refill(): number {
    const now = this.template.clock.now();
    if (!(now > this.at)) return this.tokens; // standing still or running backwards refills nothing
    this.tokens = bucketTokens(this.tokens, this.at, now, this.template.ratePerMs, this.template.burst);
    this.at = now;
    return this.tokens;
  }
}

/** A permit of a compact bucket: `release` with a `cost` reconciles as `TokenBucket`'s permits do. */
class KeyBucketPermit implements Permit {
  readonly granted = true as const;
  private released = false;

  constructor(
    private readonly bucket: KeyBucket,
    readonly count: number,
  ) {}

  release(outcome?: Outcome): void {
    checkOutcome(this.bucket.template.name, outcome);
    if (this.released) return;
    this.released = true;
    const cost = outcome?.cost;
    if (cost === undefined || cost === this.count) return;
    const used = Math.ceil(cost);
    if (used !== this.count) this.bucket.settle(this.count - used);
  }
}

function checkKey(where: string, key: unknown): string {
  if (typeof key !== 'string') throw new InvalidArgumentError(where, 'key', 'a string', key);
  return key;
}

/** What a {@link KeyGate} asks of its keyed limiter. */
type KeyGateOwner = Pick<
  KeyedLimiter,
  'name' | 'tryAcquire' | 'acquire' | 'run' | 'statsFor' | 'delete' | 'resolve' | 'capacityOf' | 'pressureOf'
>;

/** The `Gate` view of one key of a {@link KeyedLimiter}. */
class KeyGate implements Gate {
  readonly name: string;
  private closed = false;

  constructor(
    private readonly owner: KeyGateOwner,
    private readonly key: string,
  ) {
    this.name = `${owner.name}[${key}]`;
  }

  get capacity(): number {
    return (this.closed ? undefined : this.owner.capacityOf(this.key)) ?? 0;
  }

  get pressure(): number {
    return (this.closed ? undefined : this.owner.pressureOf(this.key)) ?? 1;
  }

  tryAcquire(count = 1, options?: TryAcquireOptions): Permit | Refusal {
    if (this.closed) return { granted: false, reason: 'closed', gate: this.name, retryAfterMs: undefined };
    return this.owner.tryAcquire(this.key, count, options);
  }

  acquire(count = 1, options?: AcquireOptions): Promise<Permit> {
    if (this.closed) return Promise.reject(new ClosedError(this.name));
    return this.owner.acquire(this.key, count, options);
  }

  run<T>(fn: (context: RunContext) => T | PromiseLike<T>, options?: RunOptions): Promise<T> {
    if (this.closed) return Promise.reject(new ClosedError(this.name));
    return this.owner.run(this.key, fn, options);
  }

  stats(): GateStats {
    return this.owner.statsFor(this.key) ?? NO_STATS;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.owner.delete(this.key);
  }

  onAdmit(listener: AdmitListener): Disposer {
    return this.current()?.onAdmit(listener) ?? (() => {});
  }

  onRefuse(listener: RefuseListener): Disposer {
    return this.current()?.onRefuse(listener) ?? (() => {});
  }

  private current(): Gate | undefined {
    return this.closed ? undefined : this.owner.resolve(this.key);
  }
}
