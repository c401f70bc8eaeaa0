import {
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
  type Permit,
  type Refusal,
  type RefuseListener,
  type RunContext,
  type RunOptions,
  type TryAcquireOptions,
  checkClock,
} from '@sluice/core';
import { BoundedKeyMap } from './key-map.js';

/** Options of {@link KeyedLimiter}. */
export interface KeyedLimiterOptions<G extends Gate> {
  /** Makes the gate of a key the first time the key is seen (or seen again after eviction). Required. */
  readonly create: (key: string) => G;
  /**
   * Most keys held at once, an integer ≥ 1. When full, a new key evicts an idle key (one whose
   * gate is back to full budget with nobody waiting), else a key without waiters, by second
   * chance (see {@link BoundedKeyMap}); so rotating keys cannot grow memory. Default 10,000.
   */
  readonly maxKeys?: number;
  /** Name used in refusals and errors; default `"keyed"`. */
  readonly name?: string;
  /** Time source for `run` durations; default `systemClock`. */
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

const KEYED_LIMITER_KEYS = optionKeys<KeyedLimiterOptions<Gate>>()({ create: true, maxKeys: true, name: true, clock: true });

/**
 * One limiter per key — client id, IP, API key, deployment — made on first use by `create`,
 * in a {@link BoundedKeyMap} of at most `maxKeys`. Eviction is second chance (a key used since
 * the scan last passed it moves to the back) and prefers idle keys, so an attacker rotating keys
 * cannot grow memory and only pushes out keys nobody is using. A key with waiters is never
 * evicted; a new key is refused (`refusedNoRoom`) only when every key held has waiters. Making
 * room looks at 64 keys once it has one it may evict (see {@link BoundedKeyMap} for the bound).
 *
 * @example
 * ```ts
 * const perClient = new KeyedLimiter({
 *   create: () => new TokenBucket({ ratePerSecond: 5, burst: 10 }),
 *   maxKeys: 100_000,
 * });
 * const result = perClient.tryAcquire(request.ip);
 * if (!result.granted) reply(429, { retryAfterMs: result.retryAfterMs });
 * ```
 */
export class KeyedLimiter<G extends Gate = Gate> {
  /** Name used in refusals and errors. */
  readonly name: string;
  /** Most keys held at once. */
  readonly maxKeys: number;
  private readonly create: (key: string) => G;
  private readonly clock: Clock;
  /** `create` and its check, made once (not a closure per key). */
  private readonly makeGate: (key: string) => G;
  private readonly entries: BoundedKeyMap<G>;
  private closed = false;

  /** @throws InvalidArgumentError for a missing `create` or a `maxKeys` below 1. */
  constructor(options: KeyedLimiterOptions<G>) {
    const o = checkOptions<KeyedLimiterOptions<Gate>>('KeyedLimiter', options, KEYED_LIMITER_KEYS);
    this.name = checkName('KeyedLimiter', o.name, 'keyed');
    checkFunction(this.name, 'create', o.create);
    this.create = o.create as (key: string) => G;
    this.maxKeys = checkNumber(this.name, 'maxKeys', o.maxKeys ?? 10_000, { min: 1, integer: true });
    this.clock = checkClock(this.name, o.clock) ?? systemClock;
    this.entries = new BoundedKeyMap<G>({ maxKeys: this.maxKeys, name: this.name, isBusy: hasWaiters, isIdle: isFull, onEvict: closeGate });
    this.makeGate = (key) => {
      const gate = this.create(key);
      checkGate(this.name, gate, 'create(key)');
      return gate;
    };
  }

  /** Keys held now. */
  get size(): number {
    return this.entries.size;
  }

  /** `tryAcquire` on the key's gate (made on first use). Refuses when no room can be made for a new key. */
  tryAcquire(key: string, count = 1, options?: TryAcquireOptions): Permit | Refusal {
    const gate = this.resolve(key);
    if (gate === undefined) return this.noRoomRefusal();
    return gate.tryAcquire(count, options);
  }

  /** `acquire` on the key's gate. Rejects with a `LimitExceededError` when no room can be made for a new key. */
  acquire(key: string, count = 1, options?: AcquireOptions): Promise<Permit> {
    let gate: G | undefined;
    try {
      gate = this.resolve(key);
    } catch (error) {
      return Promise.reject(error);
    }
    if (gate === undefined) {
      return Promise.reject(this.closed ? new ClosedError(this.name) : new LimitExceededError(this.name));
    }
    return gate.acquire(count, options);
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

  /** The gate of `key` if it is held; does not create it. */
  get(key: string): G | undefined {
    return this.entries.peek(key);
  }

  /** True when `key` is held. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Removes `key`, closing its gate (its waiters are rejected). Returns whether it was held. */
  delete(key: string): boolean {
    const gate = this.entries.delete(key);
    if (gate === undefined) return false;
    gate.close();
    return true;
  }

  /** The keys held, least recently added first. */
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
    return this.entries.peek(key)?.stats();
  }

  /** Closes every key's gate and refuses from then on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const gate of this.entries.clear()) gate.close();
  }

  /** @internal The key's gate, made (with room made for it) if needed; `undefined` when closed or no room. */
  resolve(key: string): G | undefined {
    const gate = this.entries.get(key);
    if (gate !== undefined) return gate;
    checkKey(this.name, key);
    if (this.closed) return undefined;
    return this.entries.getOrAdd(key, this.makeGate);
  }

  /** @internal The refusal when a new key finds no room (or the limiter is closed). */
  noRoomRefusal(): Refusal {
    return { granted: false, reason: this.closed ? 'closed' : 'exhausted', gate: this.name, retryAfterMs: undefined };
  }
}

/** A gate with waiters is never evicted. */
function hasWaiters(gate: Gate): boolean {
  return gate.stats().waiting > 0;
}

/** A gate back to its full budget: forgetting it loses nothing. */
function isFull(gate: Gate): boolean {
  return gate.pressure === 0;
}

function closeGate(gate: Gate): void {
  gate.close();
}

function checkKey(where: string, key: unknown): string {
  if (typeof key !== 'string') throw new InvalidArgumentError(where, 'key', 'a string', key);
  return key;
}

/** What a {@link KeyGate} asks of its keyed limiter. */
type KeyGateOwner = Pick<KeyedLimiter, 'name' | 'tryAcquire' | 'acquire' | 'run' | 'statsFor' | 'delete' | 'resolve'>;

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
    return this.current()?.capacity ?? 0;
  }

  get pressure(): number {
    return this.current()?.pressure ?? 1;
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
