import type { OfferResult } from '@sluice/core';
import { BufferBase, OPEN, type BufferSnapshot } from './buffer-base.js';
import type { ResolvedBufferOptions } from './options.js';

/** Marks the slot of an item dropped from the middle of the ring (drop-random). */
const HOLE: unique symbol = Symbol('sluice.buffer.hole');
type Slot<T> = T | typeof HOLE | undefined;

/** Holes tolerated before a sweep (and never more than the items held). */
const SWEEP_AFTER_HOLES = 16;
/** Slots a ring starts with (fewer when the capacity is smaller). */
const INITIAL_SLOTS = 16;

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * A FIFO buffer on a power-of-two ring indexed by **unmasked** sequence numbers: `writeSeq`
 * counts items that entered, `readSeq` items that left, and a slot is `seq & mask`. The held
 * count is their difference, and every counter the monitor reads (`accepted`, `taken`) is
 * derived from them, so the hot path bumps nothing else. The ring grows by doubling up to what
 * the capacity needs and halves again once a quarter full: memory is given back after a drain.
 *
 * The overflow policy is the subclass's: refuse (`BoundedBuffer`) or drop (`DroppingBuffer`).
 */
export abstract class RingBuffer<T> extends BufferBase<T> {
  private ring: Slot<T>[];
  private mask: number;
  private readonly minSlots: number;
  private shrinkBelow = -1;
  private times: Float64Array | undefined = undefined;
  /** Sequence number of the next item to enter. */
  private writeSeq = 0;
  /** Sequence number of the next slot to leave (taken, dropped, or a hole passed over). */
  private readSeq = 0;
  /** Holes in the ring (items dropped from the middle, not yet passed over). */
  private holes = 0;
  /** `readSeq` advances that were not takes: oldest items dropped and holes passed. */
  private skipped = 0;
  /** Items handed straight from a producer to a waiting consumer. */
  private handedOff = 0;
  /** Offered items dropped without entering (drop-newest). */
  protected droppedIncoming = 0;
  /** An offer takes the fast path while 1 ≤ held ≤ this; see `refreshFastPaths`. */
  private offerFastBelow = 0;
  /** A poll takes the slow path while held ≤ this; see `refreshFastPaths`. */
  private pollSlowAt = Infinity;
  /** What a fast offer answers: `pause` while paused, else `ok`. */
  private answer: OfferResult = 'ok';

  constructor(options: ResolvedBufferOptions) {
    super(options);
    this.minSlots = nextPowerOfTwo(Math.min(options.capacity, INITIAL_SLOTS));
    this.mask = this.minSlots - 1;
    this.ring = new Array<Slot<T>>(this.minSlots);
    this.refreshFastPaths();
  }

  /**
   * What to do with `item` when the buffer is full. `fromOffer` is false for a `put`, which
   * waits on `refused` instead of counting a refusal.
   */
  protected abstract overflow(item: T, fromOffer: boolean): OfferResult;

  get size(): number {
    return this.writeSeq - this.readSeq - this.holes;
  }

  // The hot paths are one comparison against a threshold kept up to date by the rare events
  // that change it (pause, resume, growth, waiting producers, holes, timing, end/close): a
  // reachable call in a hot function costs even when not taken, so all of them live in the
  // slow paths.

  offer(item: T): OfferResult {
    const used = this.writeSeq - this.readSeq;
    // `(used - 1) >>> 0` is huge for an empty ring, which must look for waiting consumers; so one
    // unsigned comparison tests 1 ≤ used ≤ offerFastBelow.
    if ((used - 1) >>> 0 >= this.offerFastBelow) return this.offerSlow(item);
    this.ring[this.writeSeq & this.mask] = item;
    this.writeSeq++;
    return this.answer;
  }

  poll(): T | undefined {
    const readSeq = this.readSeq;
    const used = this.writeSeq - readSeq;
    if (used <= this.pollSlowAt) return this.pollSlow();
    const ring = this.ring;
    const index = readSeq & this.mask;
    const item = ring[index] as T;
    ring[index] = undefined; // drop the reference so the item can be collected
    this.readSeq = readSeq + 1;
    return item;
  }

  /** `offer` for everything but "room, no pause to fire, no growth, no timing". */
  private offerSlow(item: T): OfferResult {
    const used = this.writeSeq - this.readSeq;
    const size = used - this.holes;
    if (size >= this.limit) {
      // full, or ended/closed
      if (this.state !== OPEN) throw this.closedError();
      return this.overflow(item, true);
    }
    if (size === 0 && this.takers.size !== 0) {
      // consumers only wait while the buffer is empty
      this.handOff(item);
      return 'ok';
    }
    this.append(item);
    if (size >= this.highWaterMark - 1 && !this.paused) this.pause();
    return this.paused ? 'pause' : 'ok';
  }

  /** `poll` for everything but "an item with no holes, no timing, no shrink, nothing to resume". */
  private pollSlow(): T | undefined {
    if (this.writeSeq - this.readSeq === this.holes) return undefined;
    const item = this.removeNext();
    if (this.size <= this.slowAt) this.afterRemoval();
    return item;
  }

  protected override refreshSlowAt(): void {
    super.refreshSlowAt();
    this.refreshFastPaths();
  }

  /**
   * Recomputes the thresholds of the hot paths. An offer is fast while the ring holds at most
   * `offerFastBelow` items (and at least one): the buffer is open, has room, will not reach the
   * high-water mark (or is already paused), the ring need not grow, nothing is timed and there
   * are no holes. A poll is fast while more than `pollSlowAt` are held: no holes, no timing, and
   * the removal neither shrinks the ring nor reaches the slow-path mark.
   */
  private refreshFastPaths(): void {
    const plain = !this.timing && this.holes === 0;
    // fast while used ≤ B: room after the append (used ≤ capacity − 1), a free slot (used ≤ mask),
    // and no high-water crossing to report (used + 1 < highWaterMark, unless already paused)
    this.offerFastBelow =
      plain && this.state === OPEN ? Math.min(this.capacity - 1, this.mask, this.paused ? Infinity : this.highWaterMark - 2) : 0;
    this.pollSlowAt = plain ? Math.max(this.slowAt + 1, this.shrinkBelow) : Infinity;
    this.answer = this.paused ? 'pause' : 'ok';
  }

  peek(): T | undefined {
    if (this.writeSeq - this.readSeq === this.holes) return undefined;
    for (let seq = this.readSeq; ; seq++) {
      const slot = this.ring[seq & this.mask];
      if (slot !== HOLE) return slot;
    }
  }

  stats(): BufferSnapshot {
    return {
      size: this.size,
      capacity: this.capacity,
      offered: this.writeSeq + this.handedOff + this.refusedCount + this.droppedIncoming,
      accepted: this.writeSeq + this.handedOff,
      dropped: this.droppedItems,
      refused: this.refusedCount,
      taken: this.readSeq - this.skipped + this.handedOff,
      pendingPuts: this.putters.size,
      pendingTakes: this.takers.size,
      paused: this.paused,
    };
  }

  // ---- for BufferBase and the subclasses ----

  protected accept(item: T): OfferResult {
    const size = this.size;
    if (size >= this.capacity) return this.overflow(item, false);
    this.append(item);
    if (size + 1 >= this.highWaterMark && !this.paused) this.pause();
    return this.paused ? 'pause' : 'ok';
  }

  protected removeNext(): T {
    const index = this.skipHoles();
    const item = this.ring[index] as T;
    this.ring[index] = undefined;
    if (this.timing) this.reportTake(item, index);
    this.readSeq++;
    this.shrinkIfSparse();
    return item;
  }

  protected removeAll(): T[] {
    const items: T[] = [];
    const { ring, mask } = this;
    for (let seq = this.readSeq; seq < this.writeSeq; seq++) {
      const slot = ring[seq & mask];
      if (slot !== HOLE) items.push(slot as T);
    }
    this.skipped += this.holes;
    this.holes = 0;
    this.readSeq = this.writeSeq;
    this.ring = new Array<Slot<T>>(this.minSlots);
    this.mask = this.minSlots - 1;
    this.shrinkBelow = -1;
    if (this.times !== undefined) this.times = new Float64Array(this.minSlots);
    this.refreshFastPaths();
    if (this.timing && this.takeEvents.listening) for (const item of items) this.takeEvents.emit(item, Number.NaN);
    return items;
  }

  protected countHandOff(): void {
    this.handedOff++;
  }

  protected startTiming(): void {
    this.times = new Float64Array(this.mask + 1).fill(Number.NaN);
  }

  /** Appends at the back; the caller checked there is room. */
  protected append(item: T): void {
    if (this.writeSeq - this.readSeq > this.mask) this.resize((this.mask + 1) * 2);
    const slot = this.writeSeq & this.mask;
    this.ring[slot] = item;
    if (this.times !== undefined) this.times[slot] = this.clock.now();
    this.writeSeq++;
  }

  /** Removes the front item without counting it as taken (drop-oldest). */
  protected dropFront(): T {
    const index = this.skipHoles();
    const item = this.ring[index] as T;
    this.ring[index] = undefined;
    this.readSeq++;
    this.skipped++;
    this.shrinkIfSparse();
    return item;
  }

  /**
   * Drops a uniformly chosen held item from wherever it is, leaving a hole so the order of the
   * rest is kept; the caller checked the buffer is not empty. Holes are swept in bulk once they
   * outnumber the items, which keeps every operation O(1) amortised.
   */
  protected dropAt(random: () => number): T {
    const used = this.writeSeq - this.readSeq;
    for (;;) {
      const seq = this.readSeq + Math.min(used - 1, Math.floor(random() * used));
      const index = seq & this.mask;
      const slot = this.ring[index];
      if (slot === HOLE) continue; // at most half the slots are holes: expected ≤ 2 draws
      this.ring[index] = HOLE;
      if (this.holes++ === 0) this.refreshFastPaths();
      if (this.holes > SWEEP_AFTER_HOLES && this.holes > this.size) this.sweepHoles();
      return slot as T;
    }
  }

  /** Passes over holes at the front; returns the slot of the front item (the caller checked one is held). */
  private skipHoles(): number {
    const ring = this.ring;
    const mask = this.mask;
    let index = this.readSeq & mask;
    if (ring[index] !== HOLE) return index;
    while (ring[index] === HOLE) {
      ring[index] = undefined;
      this.readSeq++;
      this.holes--;
      this.skipped++;
      index = this.readSeq & mask;
    }
    if (this.holes === 0) this.refreshFastPaths();
    return index;
  }

  private shrinkIfSparse(): void {
    if (this.writeSeq - this.readSeq < this.shrinkBelow) this.resize((this.mask + 1) >>> 1);
  }

  /** Reports the wait of the item that was in `index` (before the ring may move). */
  private reportTake(item: T, index: number): void {
    if (!this.takeEvents.listening || this.times === undefined) return;
    this.takeEvents.emit(item, this.clock.now() - (this.times[index] as number));
  }

  /** Moves the live slots (holes included) to a ring of `slots`. */
  private resize(slots: number): void {
    const { ring, mask, times } = this;
    const next = new Array<Slot<T>>(slots);
    const nextTimes = times === undefined ? undefined : new Float64Array(slots);
    const nextMask = slots - 1;
    for (let seq = this.readSeq; seq < this.writeSeq; seq++) {
      next[seq & nextMask] = ring[seq & mask];
      if (nextTimes !== undefined) nextTimes[seq & nextMask] = (times as Float64Array)[seq & mask] as number;
    }
    this.ring = next;
    this.times = nextTimes;
    this.mask = nextMask;
    // Why a quarter: halving then leaves the ring half full, so it cannot thrash at the boundary.
    this.shrinkBelow = slots > this.minSlots ? slots >>> 2 : -1;
    this.refreshFastPaths();
  }

  /** Packs the held items to the back of the sequence range, dropping the holes between them. */
  private sweepHoles(): void {
    const { ring, mask, times } = this;
    let write = this.writeSeq;
    for (let seq = this.writeSeq - 1; seq >= this.readSeq; seq--) {
      const index = seq & mask;
      const slot = ring[index];
      ring[index] = undefined;
      if (slot === HOLE) continue;
      write--;
      ring[write & mask] = slot;
      if (times !== undefined) times[write & mask] = times[index] as number;
    }
    this.skipped += this.holes;
    this.readSeq += this.holes;
    this.holes = 0;
    this.refreshFastPaths();
  }
}

export { HOLE };
