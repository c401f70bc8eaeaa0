import { checkFunction, checkName, checkNumber, checkOptions, InvalidArgumentError, optionKeys } from '@sluice/core';

/** Options of {@link BoundedKeyMap}. */
export interface BoundedKeyMapOptions<V> {
  /** Most keys held at once, an integer ≥ 1. Default 10,000. */
  readonly maxKeys?: number;
  /**
   * True while `value` is in use — it has waiters, or reservations or permits outstanding. A
   * busy key is never evicted; a new key is refused only when every held key is busy. Called
   * only while making room, so it may read state (it must not change the map). Required.
   */
  readonly isBusy: (value: V, key: string) => boolean;
  /**
   * True when forgetting `value` loses nothing (its budget is full again): idle keys are evicted
   * before keys that are neither idle nor busy. Called only while making room. Default: every
   * key that is not busy is idle.
   */
  readonly isIdle?: (value: V, key: string) => boolean;
  /**
   * Called with each value evicted to make room, after it left the map: close its limiter
   * there. `idle` tells whether it was idle. Not called by `delete` or `clear`. Default: none.
   */
  readonly onEvict?: (value: V, key: string, idle: boolean) => void;
  /** Name used in errors; default `"key-map"`. */
  readonly name?: string;
}

/** Counters of a {@link BoundedKeyMap}. */
export interface BoundedKeyMapStats {
  /** Keys held now. */
  readonly keys: number;
  /** Keys added so far through `getOrAdd` (a key evicted and seen again counts again). */
  readonly added: number;
  /** Keys evicted to make room. */
  readonly evicted: number;
  /** Of those, keys that were not idle (not busy either): the bound on memory won over their state. */
  readonly evictedNotIdle: number;
  /** New keys refused because every held key was busy. */
  readonly refused: number;
}

/** Keys one eviction looks at, once it has a key it may evict, before it settles for the best so far. */
export const KEY_MAP_SCAN = 64;

/** A held value and its second-chance bit. */
interface Slot<V> {
  readonly value: V;
  /** Used since the eviction scan last passed it. */
  recent: boolean;
}

const KEY_MAP_KEYS = optionKeys<BoundedKeyMapOptions<unknown>>()({ maxKeys: true, isBusy: true, isIdle: true, onEvict: true, name: true });

/**
 * A map of string keys to values (usually one limiter per key), bounded by `maxKeys`: the
 * store behind the keyed limiters, for building others like them.
 *
 * **Eviction** is second chance (a clock hand over the keys in insertion order). A lookup only
 * sets the key's *recent* bit — no reordering on the hot path. When a new key finds the map
 * full, the scan walks from the oldest key:
 * - a **busy** key (`isBusy`) is moved to the back and never evicted;
 * - a **recent** key loses its bit and moves to the back (its second chance), but stays a
 *   candidate, so a map of keys that were all used since the last scan still makes room;
 * - the first key neither busy nor recent that is **idle** (`isIdle`) is evicted at once.
 *
 * Failing that, the first recent idle key seen goes, else the first key that is merely not
 * busy (counted in `evictedNotIdle`). The evicted value is handed to `onEvict`.
 *
 * **Bound**: the scan stops after {@link KEY_MAP_SCAN} (64) keys once it has a candidate; it
 * goes further only past busy keys, so it looks at 64 keys plus the busy keys in front of the
 * first candidate, and at every key only when it refuses. Busy keys move to the back, so the
 * next scan starts past them. A new key is refused (`getOrAdd` returns `undefined`) only when
 * every held key is busy.
 *
 * @example
 * ```ts
 * const perClient = new BoundedKeyMap<TokenBucket>({
 *   maxKeys: 50_000,
 *   isBusy: (bucket) => bucket.stats().waiting > 0,
 *   isIdle: (bucket) => bucket.pressure === 0,
 *   onEvict: (bucket) => bucket.close(),
 * });
 * const bucket = perClient.getOrAdd(ip, () => new TokenBucket({ ratePerSecond: 5, burst: 10 }));
 * if (bucket === undefined) reply(503); // every client is waiting
 * ```
 */
export class BoundedKeyMap<V> {
  /** Most keys held at once. */
  readonly maxKeys: number;
  /** Name used in errors. */
  readonly name: string;
  private readonly isBusy: (value: V, key: string) => boolean;
  private readonly isIdle: ((value: V, key: string) => boolean) | undefined;
  private readonly onEvict: ((value: V, key: string, idle: boolean) => void) | undefined;
  private readonly slots = new Map<string, Slot<V>>();
  private addedCount = 0;
  private evictedCount = 0;
  private evictedNotIdleCount = 0;
  private refusedCount = 0;

  /** @throws InvalidArgumentError for a `maxKeys` that is not an integer ≥ 1, a missing `isBusy`, or a bad `isIdle`/`onEvict`/`name`. */
  constructor(options: BoundedKeyMapOptions<V>) {
    const o = checkOptions('BoundedKeyMap', options as unknown as BoundedKeyMapOptions<unknown>, KEY_MAP_KEYS) as Partial<
      BoundedKeyMapOptions<V>
    >;
    this.name = checkName('BoundedKeyMap', o.name, 'key-map');
    this.maxKeys = checkNumber(this.name, 'maxKeys', o.maxKeys ?? 10_000, { min: 1, integer: true });
    checkFunction(this.name, 'isBusy', o.isBusy);
    this.isBusy = o.isBusy as (value: V, key: string) => boolean;
    checkFunction(this.name, 'isIdle', o.isIdle, true);
    this.isIdle = o.isIdle;
    checkFunction(this.name, 'onEvict', o.onEvict, true);
    this.onEvict = o.onEvict;
  }

  /** Keys held now. */
  get size(): number {
    return this.slots.size;
  }

  /** The value of `key`, marked as used (its second chance); `undefined` when not held. */
  get(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    slot.recent = true;
    return slot.value;
  }

  /** The value of `key` without marking it as used; `undefined` when not held. */
  peek(key: string): V | undefined {
    return this.slots.get(key)?.value;
  }

  /** True when `key` is held. Does not mark it as used. */
  has(key: string): boolean {
    return this.slots.has(key);
  }

  /**
   * The value of `key` (marked as used), or a new one from `create(key)` when the key is not
   * held, after making room for it (see the class comment). `undefined` when the map is full
   * and every key is busy (counted in `refused`). A value `create` throws for is not added
   * (a key may have been evicted for it).
   *
   * @throws InvalidArgumentError for a key that is not a string.
   */
  getOrAdd(key: string, create: (key: string) => V): V | undefined {
    const slot = this.slots.get(key);
    if (slot !== undefined) {
      slot.recent = true;
      return slot.value;
    }
    if (typeof key !== 'string') throw new InvalidArgumentError(this.name, 'key', 'a string', key);
    if (this.slots.size >= this.maxKeys && !this.evictOne()) {
      this.refusedCount++;
      return undefined;
    }
    const value = create(key);
    this.slots.set(key, { value, recent: false });
    this.addedCount++;
    return value;
  }

  /** Removes `key` and returns its value (`onEvict` is not called), or `undefined` when not held. */
  delete(key: string): V | undefined {
    const slot = this.slots.get(key);
    if (slot === undefined) return undefined;
    this.slots.delete(key);
    return slot.value;
  }

  /** Removes every key and returns their values, oldest first (`onEvict` is not called). */
  clear(): V[] {
    const values: V[] = [];
    for (const slot of this.slots.values()) values.push(slot.value);
    this.slots.clear();
    return values;
  }

  /** The keys held, in scan order (oldest, or longest since its last second chance, first). */
  keys(): IterableIterator<string> {
    return this.slots.keys();
  }

  /** Counters of the map. */
  stats(): BoundedKeyMapStats {
    return {
      keys: this.slots.size,
      added: this.addedCount,
      evicted: this.evictedCount,
      evictedNotIdle: this.evictedNotIdleCount,
      refused: this.refusedCount,
    };
  }

  /** Evicts one key by the rule in the class comment; false when every key is busy. */
  private evictOne(): boolean {
    const slots = this.slots;
    // each key is visited at most once: the keys moved to the back come after every key not yet visited
    const total = slots.size;
    let visited = 0;
    let spared: string | undefined;
    let fallback: string | undefined;
    for (const [key, slot] of slots) {
      if (visited >= total || (visited >= KEY_MAP_SCAN && (spared !== undefined || fallback !== undefined))) break;
      visited++;
      const value = slot.value;
      if (this.isBusy(value, key)) {
        slot.recent = false;
        moveToBack(slots, key, slot);
        continue;
      }
      const idle = this.isIdle === undefined || this.isIdle(value, key);
      if (slot.recent) {
        slot.recent = false;
        moveToBack(slots, key, slot);
        if (idle) spared ??= key;
        else fallback ??= key;
        continue;
      }
      if (idle) {
        this.evict(key, slot, true);
        return true;
      }
      fallback ??= key;
    }
    if (spared !== undefined) {
      this.evict(spared, slots.get(spared) as Slot<V>, true);
      return true;
    }
    if (fallback === undefined) return false;
    this.evict(fallback, slots.get(fallback) as Slot<V>, false);
    return true;
  }

  private evict(key: string, slot: Slot<V>, idle: boolean): void {
    this.slots.delete(key);
    this.evictedCount++;
    if (!idle) this.evictedNotIdleCount++;
    this.onEvict?.(slot.value, key, idle);
  }
}

/** Re-inserts `key`: a Map keeps insertion order, so it becomes the last the scan reaches. */
function moveToBack<V>(slots: Map<string, Slot<V>>, key: string, slot: Slot<V>): void {
  slots.delete(key);
  slots.set(key, slot);
}
