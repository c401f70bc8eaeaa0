import { checkNumber } from './validate.js';

const MIN_CAPACITY = 4;

function nextPowerOfTwo(n: number): number {
  let capacity = MIN_CAPACITY;
  while (capacity < n) capacity *= 2;
  return capacity;
}

/**
 * A double-ended queue on a power-of-two ring: O(1) `push`/`shift`/`unshift`/`pop`, indexing by
 * a mask instead of a modulo, growth by doubling, and shrinking by halving once it drains below a
 * quarter full (so a queue that once held a million items gives the memory back).
 *
 * It is the storage of every waiter queue and buffer in sluice. It holds any value, but
 * `shift()`/`pop()` return `undefined` both for "empty" and for a stored `undefined`; check
 * {@link RingDeque.length} when `T` includes `undefined`.
 *
 * @example
 * ```ts
 * const queue = new RingDeque<string>();
 * queue.push('a');
 * queue.push('b');
 * queue.unshift('z');
 * queue.shift(); // 'z'
 * queue.pop();   // 'b'
 * ```
 */
export class RingDeque<T> implements Iterable<T> {
  private buffer: (T | undefined)[];
  private head = 0;
  private size = 0;
  private mask: number;
  /** Shrink when `size` falls below this; -1 at the minimum capacity (never shrink). */
  private shrinkBelow = -1;
  private readonly minCapacity: number;

  /**
   * @param initialCapacity - slots allocated up front, rounded up to a power of two (minimum 4,
   *   default 16). The deque never shrinks below it.
   */
  constructor(initialCapacity = 16) {
    checkNumber('RingDeque', 'initialCapacity', initialCapacity, { min: 1, max: 2 ** 30, integer: true });
    const capacity = nextPowerOfTwo(initialCapacity);
    this.minCapacity = capacity;
    this.mask = capacity - 1;
    this.buffer = new Array<T | undefined>(capacity);
  }

  /** Number of items held. */
  get length(): number {
    return this.size;
  }

  /** Slots currently allocated (a power of two ≥ `length`). */
  get allocated(): number {
    return this.mask + 1;
  }

  /** Appends `item` at the back. */
  push(item: T): void {
    const size = this.size;
    if (size > this.mask) this.resize((this.mask + 1) * 2);
    this.buffer[(this.head + size) & this.mask] = item;
    this.size = size + 1;
  }

  /** Inserts `item` at the front. */
  unshift(item: T): void {
    if (this.size > this.mask) this.resize((this.mask + 1) * 2);
    const head = (this.head - 1) & this.mask;
    this.buffer[head] = item;
    this.head = head;
    this.size++;
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    const size = this.size;
    if (size === 0) return undefined;
    const head = this.head;
    const buffer = this.buffer;
    const item = buffer[head];
    buffer[head] = undefined; // drop the reference so the item can be collected
    this.head = (head + 1) & this.mask;
    this.size = size - 1;
    if (size <= this.shrinkBelow) this.resize((this.mask + 1) >>> 1);
    return item;
  }

  /** Removes and returns the back item, or `undefined` when empty. */
  pop(): T | undefined {
    const size = this.size;
    if (size === 0) return undefined;
    const index = (this.head + size - 1) & this.mask;
    const item = this.buffer[index];
    this.buffer[index] = undefined;
    this.size = size - 1;
    if (size <= this.shrinkBelow) this.resize((this.mask + 1) >>> 1);
    return item;
  }

  /** The front item without removing it, or `undefined` when empty. */
  peekFront(): T | undefined {
    return this.size === 0 ? undefined : this.buffer[this.head];
  }

  /** The back item without removing it, or `undefined` when empty. */
  peekBack(): T | undefined {
    return this.size === 0 ? undefined : this.buffer[(this.head + this.size - 1) & this.mask];
  }

  /** The item at `index` from the front (0-based), or `undefined` when out of range. */
  at(index: number): T | undefined {
    if (!(index >= 0 && index < this.size)) return undefined;
    return this.buffer[(this.head + index) & this.mask];
  }

  /** Replaces the item at `index` from the front; throws a RangeError when out of range. */
  set(index: number, item: T): void {
    if (!(Number.isInteger(index) && index >= 0 && index < this.size)) {
      throw new RangeError(`RingDeque: index ${index} out of range 0..${this.size - 1}`);
    }
    this.buffer[(this.head + index) & this.mask] = item;
  }

  /** Removes every item and gives the memory back (down to the initial capacity). */
  clear(): void {
    this.buffer = new Array<T | undefined>(this.minCapacity);
    this.mask = this.minCapacity - 1;
    this.head = 0;
    this.size = 0;
    this.shrinkBelow = -1;
  }

  /**
   * Removes every item for which `predicate` returns true, keeping the order of the rest, in one
   * O(n) pass; returns how many were removed. Queues use it to sweep out cancelled entries in
   * bulk, which keeps removal amortised O(1) instead of an O(n) search per cancellation.
   */
  removeWhere(predicate: (item: T) => boolean): number {
    const { buffer, mask, head, size } = this;
    let kept = 0;
    for (let i = 0; i < size; i++) {
      const item = buffer[(head + i) & mask] as T;
      if (!predicate(item)) {
        buffer[(head + kept) & mask] = item;
        kept++;
      }
    }
    for (let i = kept; i < size; i++) buffer[(head + i) & mask] = undefined;
    this.size = kept;
    const removed = size - kept;
    if (removed > 0 && kept <= this.shrinkBelow) this.resize(nextPowerOfTwo(Math.max(kept * 2, this.minCapacity)));
    return removed;
  }

  /** The items front to back, as a new array. */
  toArray(): T[] {
    const out = new Array<T>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.buffer[(this.head + i) & this.mask] as T;
    return out;
  }

  /** Iterates front to back. Mutating the deque while iterating gives unspecified results. */
  *[Symbol.iterator](): Iterator<T> {
    for (let i = 0; i < this.size; i++) yield this.buffer[(this.head + i) & this.mask] as T;
  }

  /** Moves the items to a fresh ring of `capacity` slots, front at index 0. */
  private resize(capacity: number): void {
    const { buffer, mask, head, size } = this;
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < size; i++) next[i] = buffer[(head + i) & mask];
    this.buffer = next;
    this.head = 0;
    this.mask = capacity - 1;
    // Why a quarter: halving at a quarter leaves the ring half full, so a push/shift pair at the
    // boundary cannot make it grow and shrink on every call.
    this.shrinkBelow = capacity > this.minCapacity ? capacity >>> 2 : -1;
  }
}
