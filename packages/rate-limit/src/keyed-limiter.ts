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

/** Options of {@link KeyedLimiter}. */
export interface KeyedLimiterOptions<G extends Gate> {
  /** Makes the gate of a key the first time the key is seen (or seen again after eviction). Required. */
  readonly create: (key: string) => G;
  /**
   * Most keys held at once. When full, a new key evicts the least recently used idle key (one
   * whose gate is back to full budget with nobody waiting); so rotating keys cannot grow memory.
   * Default 10,000.
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
  /** Requests refused because no key could be evicted (every candidate had waiters). */
  readonly refusedNoRoom: number;
}

interface Entry<G> {
  readonly gate: G;
  /** Seen since the eviction scan last passed it (second chance). */
  recent: boolean;
}

/** Keys the eviction scan looks at before settling for a busy one or giving up. */
const EVICTION_SCAN = 64;

const NO_STATS: GateStats = Object.freeze({ capacity: 0, available: 0, waiting: 0, queued: 0, admitted: 0, refused: 0, cancelled: 0 });

const KEYED_LIMITER_KEYS = optionKeys<KeyedLimiterOptions<Gate>>()({ create: true, maxKeys: true, name: true, clock: true });

/**
 * One limiter per key — client id, IP, API key, deployment — made on first use by `create`,
 * in a map bounded by `maxKeys`. Eviction is least-recently-used with a second chance (a key
 * used since the scan last passed it moves to the back) and prefers idle keys, so an attacker
 * rotating keys cannot grow memory and only pushes out keys nobody is using. A key with waiters
 * is never evicted; when every key the scan looks at has waiters, a new key is refused.
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
  private readonly entries = new Map<string, Entry<G>>();
  private closed = false;
  private createdCount = 0;
  private evictedCount = 0;
  private evictedBusyCount = 0;
  private refusedNoRoomCount = 0;

  /** @throws InvalidArgumentError for a missing `create` or a `maxKeys` below 1. */
  constructor(options: KeyedLimiterOptions<G>) {
    const o = checkOptions<KeyedLimiterOptions<Gate>>('KeyedLimiter', options, KEYED_LIMITER_KEYS);
    this.name = checkName('KeyedLimiter', o.name, 'keyed');
    checkFunction(this.name, 'create', o.create);
    this.create = o.create as (key: string) => G;
    this.maxKeys = checkNumber(this.name, 'maxKeys', o.maxKeys ?? 10_000, { min: 1, integer: true });
    this.clock = checkClock(this.name, o.clock) ?? systemClock;
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
    return this.entries.get(key)?.gate;
  }

  /** True when `key` is held. */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** Removes `key`, closing its gate (its waiters are rejected). Returns whether it was held. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    entry.gate.close();
    return true;
  }

  /** The keys held, least recently added first. */
  keys(): IterableIterator<string> {
    return this.entries.keys();
  }

  /** Counters of the key map. */
  stats(): KeyedLimiterStats {
    return {
      keys: this.entries.size,
      created: this.createdCount,
      evicted: this.evictedCount,
      evictedBusy: this.evictedBusyCount,
      refusedNoRoom: this.refusedNoRoomCount,
    };
  }

  /** The stats of `key`'s gate, or `undefined` when the key is not held. */
  statsFor(key: string): GateStats | undefined {
    return this.entries.get(key)?.gate.stats();
  }

  /** Closes every key's gate and refuses from then on. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of this.entries.values()) entry.gate.close();
    this.entries.clear();
  }

  /** @internal The key's gate, made (with room made for it) if needed; `undefined` when closed or no room. */
  resolve(key: string): G | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      entry.recent = true;
      return entry.gate;
    }
    checkKey(this.name, key);
    if (this.closed) return undefined;
    if (this.entries.size >= this.maxKeys && !this.evictOne()) {
      this.refusedNoRoomCount++;
      return undefined;
    }
    const gate = this.create(key);
    checkGate(this.name, gate, 'create(key)');
    this.entries.set(key, { gate, recent: false });
    this.createdCount++;
    return gate;
  }

  /** @internal The refusal when a new key finds no room (or the limiter is closed). */
  noRoomRefusal(): Refusal {
    return { granted: false, reason: this.closed ? 'closed' : 'exhausted', gate: this.name, retryAfterMs: undefined };
  }

  /**
   * Evicts one key: the first idle key in least-recently-used order (a recently used key gets a
   * second chance: it moves to the back), else the first key without waiters. False when every
   * key scanned has waiters.
   */
  private evictOne(): boolean {
    let scanned = 0;
    // the first idle key that was spared for its recent use, evicted when the bounded scan finds
    // no idle key without one (a map of keys all used since the last scan must still make room)
    let spared: string | undefined;
    let fallback: string | undefined;
    for (const [key, entry] of this.entries) {
      if (++scanned > EVICTION_SCAN) break;
      const gate = entry.gate;
      const waiting = gate.stats().waiting;
      const idle = waiting === 0 && gate.pressure === 0;
      if (entry.recent) {
        entry.recent = false;
        this.entries.delete(key);
        this.entries.set(key, entry);
        if (idle && spared === undefined) spared = key;
        else if (waiting === 0 && fallback === undefined) fallback = key;
        continue;
      }
      if (idle) {
        this.remove(key, entry, false);
        return true;
      }
      if (waiting === 0 && fallback === undefined) fallback = key;
    }
    if (spared !== undefined) {
      this.remove(spared, this.entries.get(spared) as Entry<G>, false);
      return true;
    }
    if (fallback === undefined) return false;
    this.remove(fallback, this.entries.get(fallback) as Entry<G>, true);
    return true;
  }

  private remove(key: string, entry: Entry<G>, busy: boolean): void {
    this.entries.delete(key);
    this.evictedCount++;
    if (busy) this.evictedBusyCount++;
    entry.gate.close();
  }
}

function checkKey(where: string, key: unknown): string {
  if (typeof key !== 'string') throw new InvalidArgumentError(where, 'key', 'a string', key);
  return key;
}

/** The `Gate` view of one key of a {@link KeyedLimiter}. */
class KeyGate implements Gate {
  readonly name: string;
  private closed = false;

  constructor(
    private readonly owner: KeyedLimiter<Gate>,
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
