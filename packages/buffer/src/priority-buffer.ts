import { InvalidArgumentError, RingDeque, checkFunction, checkNumber, checkOneOf, type OfferResult } from '@sluice/core';
import { BufferBase, OPEN, type BufferSnapshot } from './buffer-base.js';
import { PRIORITY_BUFFER_KEYS, resolveBufferOptions, type PriorityBufferOptions, type PriorityOverflow } from './options.js';

const OVERFLOWS: readonly PriorityOverflow[] = ['refuse', 'evict-lowest'];
/** Levels fit one 32-bit mask of non-empty levels, so the top and bottom are found in O(1). */
const MAX_LEVELS = 32;

interface Level<T> {
  readonly items: RingDeque<T>;
  /** Entry times, parallel to `items`, when aging or wait-time tracking is on. */
  times: RingDeque<number> | undefined;
}

/**
 * A buffer with `levels` priorities sharing one `capacity`: larger priorities are served first,
 * FIFO within a priority. With `maxStarvationMs`, an item that has waited that long is served
 * before newer items of any priority (aging), so low priorities are delayed, never starved.
 *
 * When full it refuses the newcomer (`whenFull: 'refuse'`), or evicts the newest item of the
 * lowest non-empty priority below the newcomer's and reports it through `onDrop`
 * (`whenFull: 'evict-lowest'`).
 *
 * Operations are O(1) but for finding the level, which is O(1) too (a bit mask of non-empty
 * levels), and aging, which looks at each level's oldest item: O(levels).
 *
 * @example
 * ```ts
 * const jobs = new PriorityBuffer<Job>({ capacity: 1_000, levels: 3, whenFull: 'evict-lowest', maxStarvationMs: 30_000 });
 * jobs.offer(report, 0);      // background
 * jobs.offer(userRequest, 2); // interactive: served first
 * const next = jobs.poll();   // userRequest
 * ```
 */
export class PriorityBuffer<T> extends BufferBase<T> {
  /** Number of priority levels (priorities are 0 … `levels − 1`). */
  readonly levels: number;
  /** What happens when full. */
  readonly whenFull: PriorityOverflow;
  /** The aging bound in ms, or `Infinity` for strict priority. */
  readonly maxStarvationMs: number;

  private readonly defaultPriority: number;
  private readonly priorityOfItem: ((item: T) => number) | undefined;
  private readonly queues: Level<T>[];
  /** Bit `p` is set when level `p` holds items. */
  private nonEmpty = 0;
  private held = 0;
  private acceptedCount = 0;
  private stamping: boolean;
  private offerFastBelow = 0;
  private pollSlowAt = Infinity;
  /** Priority of an offer without one: `defaultPriority`, or NaN (slow path) when `priorityOf` decides. */
  private readonly implicitPriority: number;
  private answer: OfferResult = 'ok';

  /** @throws InvalidArgumentError for a bad capacity, water marks, levels, priority or policy. */
  constructor(options: PriorityBufferOptions<T>) {
    const resolved = resolveBufferOptions<PriorityBufferOptions<never>>('PriorityBuffer', options, PRIORITY_BUFFER_KEYS, 'priority-buffer');
    super(resolved);
    const name = resolved.name;
    this.levels = checkNumber(name, 'levels', options.levels, { min: 1, max: MAX_LEVELS, integer: true });
    this.defaultPriority = checkNumber(name, 'defaultPriority', options.defaultPriority ?? 0, {
      min: 0,
      max: this.levels - 1,
      integer: true,
    });
    checkFunction(name, 'priorityOf', options.priorityOf, true);
    this.priorityOfItem = options.priorityOf;
    this.implicitPriority = options.priorityOf === undefined ? this.defaultPriority : Number.NaN;
    this.whenFull = checkOneOf(name, 'whenFull', options.whenFull ?? 'refuse', OVERFLOWS);
    this.maxStarvationMs = checkNumber(name, 'maxStarvationMs', options.maxStarvationMs ?? Infinity, {
      min: 0,
      allowInfinity: true,
    });
    this.stamping = this.maxStarvationMs !== Infinity;
    this.queues = Array.from({ length: this.levels }, () => ({
      items: new RingDeque<T>(),
      times: this.stamping ? new RingDeque<number>() : undefined,
    }));
    this.refreshSlowAt();
  }

  get size(): number {
    return this.held;
  }

  /**
   * Offers `item` at `priority` (default: `priorityOf(item)`, else `defaultPriority`).
   *
   * @throws InvalidArgumentError for a priority that is not an integer from 0 to `levels − 1`.
   * @throws ClosedError after `end()`/`close()`.
   */
  offer(item: T, priority?: number): OfferResult {
    const held = this.held;
    const p = priority === undefined ? this.implicitPriority : priority;
    // Fast path: an in-range integer priority, room, no high-water crossing, nothing waiting, no
    // timing. `(held - 1) >>> 0` is huge for an empty buffer (consumers may wait).
    if ((held - 1) >>> 0 < this.offerFastBelow && p >>> 0 === p && p < this.levels) {
      (this.queues[p] as Level<T>).items.push(item);
      this.nonEmpty |= 1 << p;
      this.held = held + 1;
      this.acceptedCount++;
      return this.answer;
    }
    return this.offerSlow(item, priority);
  }

  poll(): T | undefined {
    const held = this.held;
    if (held <= this.pollSlowAt) return this.pollSlow();
    const level = 31 - Math.clz32(this.nonEmpty);
    const items = (this.queues[level] as Level<T>).items;
    const item = items.shift() as T;
    if (items.length === 0) this.nonEmpty &= ~(1 << level);
    this.held = held - 1;
    return item;
  }

  private offerSlow(item: T, priority: number | undefined): OfferResult {
    if (this.state !== OPEN) throw this.closedError();
    const p = this.priorityFor(item, priority);
    if (this.takers.size !== 0) {
      this.handOff(item);
      return 'ok';
    }
    if (this.held >= this.capacity) return this.overflow(item, p, true);
    this.insert(item, p);
    return this.paused ? 'pause' : 'ok';
  }

  private pollSlow(): T | undefined {
    if (this.held === 0) return undefined;
    const item = this.removeNext();
    if (this.held <= this.slowAt) this.afterRemoval();
    return item;
  }

  protected override refreshSlowAt(): void {
    super.refreshSlowAt();
    // As in RingBuffer: fast offers while 1 ≤ held ≤ offerFastBelow, fast polls while held >
    // pollSlowAt; timing and aging always take the slow paths.
    const plain = !this.stamping;
    this.offerFastBelow = plain && this.state === OPEN ? Math.min(this.capacity - 1, this.paused ? Infinity : this.highWaterMark - 2) : 0;
    this.pollSlowAt = plain ? Math.max(this.slowAt + 1, 0) : Infinity;
    this.answer = this.paused ? 'pause' : 'ok';
  }

  peek(): T | undefined {
    if (this.held === 0) return undefined;
    return this.queues[this.nextLevel()]?.items.peekFront();
  }

  /** Items held at `priority`. */
  sizeAt(priority: number): number {
    return this.queues[this.checkPriority(priority)]?.items.length ?? 0;
  }

  stats(): BufferSnapshot {
    return {
      size: this.held,
      capacity: this.capacity,
      offered: this.acceptedCount + this.refusedCount,
      accepted: this.acceptedCount,
      dropped: this.droppedItems,
      refused: this.refusedCount,
      // every accepted item was taken, evicted (dropped) or is held
      taken: this.acceptedCount - this.held - this.droppedItems,
      pendingPuts: this.putters.size,
      pendingTakes: this.takers.size,
      paused: this.paused,
    };
  }

  // ---- for BufferBase ----

  protected override priorityFor(item: T, priority: number | undefined): number {
    if (priority !== undefined) return this.checkPriority(priority);
    if (this.priorityOfItem !== undefined) return this.checkPriority(this.priorityOfItem(item));
    return this.defaultPriority;
  }

  protected accept(item: T, priority: number): OfferResult {
    if (this.held >= this.capacity) return this.overflow(item, priority, false);
    this.insert(item, priority);
    return this.paused ? 'pause' : 'ok';
  }

  protected removeNext(): T {
    const level = this.nextLevel();
    const queue = this.queues[level] as Level<T>;
    const item = queue.items.shift() as T;
    const enteredAt = queue.times?.shift();
    if (queue.items.length === 0) this.nonEmpty &= ~(1 << level);
    this.held--;
    if (this.timing && this.takeEvents.listening) {
      this.takeEvents.emit(item, enteredAt === undefined ? Number.NaN : this.clock.now() - enteredAt);
    }
    return item;
  }

  protected removeAll(): T[] {
    const items: T[] = [];
    while (this.held > 0) items.push(this.removeNext());
    return items;
  }

  protected countHandOff(): void {
    this.acceptedCount++;
  }

  protected startTiming(): void {
    if (this.stamping) return;
    this.stamping = true;
    this.refreshSlowAt();
    for (const queue of this.queues) {
      queue.times = new RingDeque<number>();
      for (let i = 0; i < queue.items.length; i++) queue.times.push(Number.NaN);
    }
  }

  // ---- internals ----

  private checkPriority(priority: number): number {
    if (!Number.isInteger(priority) || priority < 0 || priority >= this.levels) {
      throw new InvalidArgumentError(this.name, 'priority', `an integer from 0 to ${this.levels - 1}`, priority);
    }
    return priority;
  }

  private insert(item: T, priority: number): void {
    const queue = this.queues[priority] as Level<T>;
    queue.items.push(item);
    if (queue.times !== undefined) queue.times.push(this.clock.now());
    this.nonEmpty |= 1 << priority;
    this.held++;
    this.acceptedCount++;
    if (this.held >= this.highWaterMark && !this.paused) this.pause();
  }

  private overflow(item: T, priority: number, fromOffer: boolean): OfferResult {
    if (this.whenFull === 'evict-lowest') {
      const lowest = 31 - Math.clz32(this.nonEmpty & -this.nonEmpty);
      if (lowest < priority) {
        const queue = this.queues[lowest] as Level<T>;
        const victim = queue.items.pop() as T;
        queue.times?.pop();
        if (queue.items.length === 0) this.nonEmpty &= ~(1 << lowest);
        this.held--;
        this.insert(item, priority);
        this.dropped(victim, 'evicted');
        return 'dropped';
      }
    }
    if (fromOffer) this.refusedCount++;
    return 'refused';
  }

  /** The level to serve next: the highest non-empty one, unless an older item is starving. */
  private nextLevel(): number {
    const top = 31 - Math.clz32(this.nonEmpty);
    if (!this.stamping || this.maxStarvationMs === Infinity) return top;
    const topEntered = this.queues[top]?.times?.peekFront() ?? -Infinity;
    const cutoff = this.clock.now() - this.maxStarvationMs;
    let chosen = top;
    let oldest = topEntered;
    for (let level = top - 1; level >= 0; level--) {
      if ((this.nonEmpty & (1 << level)) === 0) continue;
      const entered = this.queues[level]?.times?.peekFront();
      if (entered !== undefined && entered <= cutoff && entered < oldest) {
        chosen = level;
        oldest = entered;
      }
    }
    return chosen;
  }
}
