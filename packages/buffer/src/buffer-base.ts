import {
  ClosedError,
  Emitter,
  QueueFullError,
  WaitTimeoutError,
  checkAcquireOptions,
  systemClock,
  type BufferStats,
  type Clock,
  type Disposer,
  type DropListener,
  type DropReason,
  type ItemBuffer,
  type OfferResult,
  type WaitOptions,
  WaiterQueue,
  checkClock,
  type QueuedWaiter,
} from '@sluice/core';
import type { ResolvedBufferOptions } from './options.js';

/** Lifecycle of a buffer. */
const OPEN = 0;
const ENDED = 1;
const CLOSED = 2;

/** Options of `put` on a priority buffer (and accepted, ignored, by the others). */
export interface PutOptions extends WaitOptions {
  /** The item's priority, for a `PriorityBuffer`. */
  readonly priority?: number;
}

/** Listener of `onTake`: the item and how long it was held, in ms (`NaN` if it entered before tracking began). */
export type TakeListener<T> = (item: T, waitedMs: number) => void;

/** Counters and state every buffer reports; see {@link BufferStats}. */
export interface BufferSnapshot extends BufferStats {
  /** `put` calls waiting for room. */
  readonly pendingPuts: number;
  /** `take` calls waiting for an item. */
  readonly pendingTakes: number;
  /** True between `onPause` and `onResume`. */
  readonly paused: boolean;
}

/**
 * What all sluice buffers share: the waiting `put`/`take` queues (on the core `WaiterQueue`,
 * with `signal`, `maxWaitMs` and limits), `end()`/`close()`, async iteration, water-mark events
 * and counters. Subclasses hold the items and write the hot paths (`offer`, `poll`) inline.
 */
export abstract class BufferBase<T> implements ItemBuffer<T> {
  /** Name used in errors and metrics. */
  readonly name: string;
  /** Most items held at once. */
  readonly capacity: number;
  /** At or above this many items the buffer pauses. */
  readonly highWaterMark: number;
  /** Once paused, at or below this many items it resumes. */
  readonly lowWaterMark: number;

  /** Time source. */
  protected readonly clock: Clock;
  /** `OPEN`, `ENDED` or `CLOSED`. */
  protected state = OPEN;
  /** Between a pause and the next resume. */
  protected paused = false;
  /** Items refused (full, closed, or a `put` that gave up). */
  protected refusedCount = 0;
  /** Items dropped by the overflow policy. */
  protected droppedItems = 0;
  /** True once someone listens to `onTake`: entry times are recorded from then on. */
  protected timing = false;
  /**
   * Items below which an offer takes the fast path: `capacity` while open, -1 once ended or
   * closed, so "full" and "closed" cost one comparison together.
   */
  protected limit: number;
  /**
   * A removal that leaves at most this many items needs the slow path: `Infinity` while
   * producers wait for room, the low-water mark while paused, else -1. One comparison on `poll`
   * instead of three.
   */
  protected slowAt = -1;
  /** Producers waiting for room, with their items. */
  protected readonly putters: WaiterQueue<void, T>;
  /** Consumers waiting for an item. */
  protected readonly takers: WaiterQueue<T>;
  /** `onPause` listeners. */
  protected readonly pauseEvents = new Emitter();
  /** `onResume` listeners. */
  protected readonly resumeEvents = new Emitter();
  /** `onDrop` listeners. */
  protected readonly dropEvents = new Emitter<T, DropReason>();
  /** `onTake` listeners. */
  protected readonly takeEvents = new Emitter<T, number>();

  private readonly maxPendingPuts: number;
  private readonly maxPendingTakes: number;
  /** EWMA of the time between removals while producers wait for room, ms; `NaN` until measured. */
  private removalGapMs = Number.NaN;
  /** When the last removal with producers waiting happened; `NaN` before the first. */
  private lastRemovalAt = Number.NaN;

  constructor(options: ResolvedBufferOptions) {
    this.name = options.name;
    this.capacity = options.capacity;
    this.highWaterMark = options.highWaterMark;
    this.lowWaterMark = options.lowWaterMark;
    this.maxPendingPuts = options.maxPendingPuts;
    this.maxPendingTakes = options.maxPendingTakes;
    this.clock = checkClock(this.name, options.clock) ?? systemClock;
    this.limit = options.capacity;
    this.putters = new WaiterQueue<void, T>({
      clock: this.clock,
      maxStarvationMs: Infinity,
      timeoutReason: (waiter) => {
        this.refusedCount++;
        return new WaitTimeoutError(this.name, waiter.deadline - waiter.enqueuedAt, this.putRetryAfterMs());
      },
      onLeave: (reason, count) => {
        if (reason === 'abort') this.refusedCount += count;
        this.refreshSlowAt();
      },
    });
    this.takers = new WaiterQueue<T>({
      clock: this.clock,
      maxStarvationMs: Infinity,
      timeoutReason: (waiter) => new WaitTimeoutError(this.name, waiter.deadline - waiter.enqueuedAt),
    });
  }

  // ---- what a subclass writes ----

  /** Items held now. */
  abstract get size(): number;
  /** Offers without waiting; see `OfferResult`. Throws a `ClosedError` after `end()`/`close()`. */
  abstract offer(item: T): OfferResult;
  /** Takes the next item without waiting, or `undefined` when empty. */
  abstract poll(): T | undefined;
  /** The next item without taking it, or `undefined` when empty. */
  abstract peek(): T | undefined;
  /** A snapshot of counters and state. */
  abstract stats(): BufferSnapshot;
  /**
   * Holds `item` if the policy lets it in (the state and waiting takers were checked by the
   * caller): `ok`/`pause` when held, `dropped` when the policy dropped something, `refused` when
   * there is no room.
   */
  protected abstract accept(item: T, priority: number): OfferResult;
  /** Removes the next item; the caller checked `size > 0`. Counts it as taken. */
  protected abstract removeNext(): T;
  /** Removes every item in service order, counting them as taken. */
  protected abstract removeAll(): T[];
  /** Starts recording entry times (for `onTake`). */
  protected abstract startTiming(): void;
  /** The priority of an item offered without one (0 except for priority buffers). */
  protected priorityFor(item: T, priority: number | undefined): number {
    void item;
    return priority ?? 0;
  }

  // ---- the contract ----

  /** 0 when empty, 1 when full. */
  get pressure(): number {
    return this.size / this.capacity;
  }

  /** True after `end()` or `close()`. */
  get isEnded(): boolean {
    return this.state !== OPEN;
  }

  /**
   * Waits for room, then holds `item`. Resolves once the item is held (or handed to a waiting
   * consumer). Rejects with `WaitTimeoutError` after `maxWaitMs`, with `QueueFullError` when
   * `maxPendingPuts` producers already wait, with the signal's reason when aborted, and with a
   * `ClosedError` after `end()`/`close()` — the item is then not held, and stays the caller's.
   *
   * The `WaitTimeoutError` and `QueueFullError` carry `retryAfterMs`: the time the consumer
   * takes to make room for the producers waiting and this one, from the measured time between
   * removals while producers waited (a moving average, weight 0.2; one clock read per removal,
   * only while producers wait) — `ceil(gap × (waiting producers + 1))`, at least 1 ms. Absent
   * until the buffer has seen a removal with a producer waiting.
   */
  put(item: T, options?: PutOptions): Promise<void> {
    try {
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.state !== OPEN) return Promise.reject(new ClosedError(this.name));
    const priority = this.priorityFor(item, options?.priority);
    if (this.takers.size !== 0) {
      this.handOff(item);
      return Promise.resolve();
    }
    if (this.putters.size === 0 && this.accept(item, priority) !== 'refused') return Promise.resolve();
    const maxWaitMs = options?.maxWaitMs ?? Infinity;
    if (maxWaitMs === 0) {
      this.refusedCount++;
      return Promise.reject(new WaitTimeoutError(this.name, 0, this.putRetryAfterMs()));
    }
    if (this.putters.size >= this.maxPendingPuts) {
      this.refusedCount++;
      return Promise.reject(new QueueFullError(this.name, this.maxPendingPuts, this.putRetryAfterMs()));
    }
    const promise = this.putters.enqueue(1, priority, signal, maxWaitMs, item);
    this.refreshSlowAt();
    return promise;
  }

  /**
   * Waits for an item and takes it. Rejects with `WaitTimeoutError` after `maxWaitMs`, with
   * `QueueFullError` when `maxPendingTakes` consumers already wait, with the signal's reason when
   * aborted, and with a `ClosedError` once the buffer is closed, or ended and empty.
   */
  take(options?: WaitOptions): Promise<T> {
    try {
      checkAcquireOptions(this.name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.size > 0) return Promise.resolve(this.removeNextAndSettle());
    if (this.state !== OPEN) return Promise.reject(new ClosedError(this.name));
    const maxWaitMs = options?.maxWaitMs ?? Infinity;
    if (maxWaitMs === 0) return Promise.reject(new WaitTimeoutError(this.name, 0));
    if (this.takers.size >= this.maxPendingTakes) return Promise.reject(new QueueFullError(this.name, this.maxPendingTakes));
    return this.takers.enqueue(1, 0, signal, maxWaitMs, undefined);
  }

  /** Takes every held item now, in service order (they count as taken); waiting producers then fill the room. */
  drain(): T[] {
    if (this.size === 0) return [];
    const items = this.removeAll();
    this.afterRemoval();
    return items;
  }

  /**
   * No more items will come: `offer`/`put` throw/reject a `ClosedError` from now on, producers
   * already waiting keep their place, and consumers take what is left; then `take` rejects with
   * a `ClosedError` and async iteration ends. Idempotent.
   */
  end(): void {
    if (this.state !== OPEN) return;
    this.state = ENDED;
    this.limit = -1;
    this.refreshSlowAt();
    if (this.size === 0) this.takers.rejectAll(() => new ClosedError(this.name));
  }

  /**
   * Stops at once: refuses new items, rejects every waiting `put` (the items stay their callers')
   * and `take` with a `ClosedError`, clears every timer, and returns the items still held, in
   * service order, so nothing is lost (they count as taken). A paused buffer fires `onResume`
   * first, so a producer waiting for it wakes up and sees the close. Idempotent: a second call
   * returns `[]`.
   */
  close(): T[] {
    if (this.state === CLOSED) return [];
    this.state = CLOSED;
    this.limit = -1;
    const items = this.size > 0 ? this.removeAll() : [];
    if (this.paused) this.resume();
    this.refusedCount += this.putters.rejectAll(() => new ClosedError(this.name));
    this.takers.rejectAll(() => new ClosedError(this.name));
    this.refreshSlowAt();
    return items;
  }

  /** Fires when the buffer reaches its high-water mark. Returns an unsubscriber. */
  onPause(listener: () => void): Disposer {
    return this.pauseEvents.on(listener);
  }

  /** Fires when a paused buffer drains to its low-water mark. Returns an unsubscriber. */
  onResume(listener: () => void): Disposer {
    return this.resumeEvents.on(listener);
  }

  /** Fires for every dropped item, with the item and why. Returns an unsubscriber. */
  onDrop(listener: DropListener<T>): Disposer {
    return this.dropEvents.on(listener);
  }

  /**
   * Fires for every item taken, with how long it was held (ms). Subscribing turns on entry-time
   * recording (one clock read per accepted item from then on); items already held report `NaN`.
   */
  onTake(listener: TakeListener<T>): Disposer {
    if (!this.timing) {
      this.timing = true;
      this.startTiming();
      this.refreshSlowAt();
    }
    return this.takeEvents.on(listener);
  }

  /**
   * Takes items as they come until the buffer is closed, or ended and empty. Several loops may
   * consume one buffer; each item goes to exactly one of them.
   */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    for (;;) {
      if (this.size > 0) {
        yield this.removeNextAndSettle();
        continue;
      }
      if (this.state !== OPEN) return;
      let item: T;
      try {
        item = await this.take();
      } catch (error) {
        if (error instanceof ClosedError) return;
        throw error;
      }
      yield item;
    }
  }

  // ---- machinery for subclasses ----

  /** Throws the error of an offer after end/close. */
  protected closedError(): ClosedError {
    return new ClosedError(this.name);
  }

  /** Gives `item` straight to the longest-waiting consumer (the buffer is empty). */
  protected handOff(item: T): void {
    const taker = this.takers.peek();
    if (taker === undefined) return;
    this.countHandOff();
    if (this.timing && this.takeEvents.listening) this.takeEvents.emit(item, 0);
    this.takers.grant(taker, item);
  }

  /** Counts an item that went straight from producer to consumer as accepted and taken. */
  protected abstract countHandOff(): void;

  /** Marks the buffer paused and tells the producer, once per crossing. */
  protected pause(): void {
    this.paused = true;
    this.refreshSlowAt();
    if (this.pauseEvents.listening) this.pauseEvents.emit();
  }

  /** Marks the buffer resumed and tells the producer, once per crossing. */
  protected resume(): void {
    this.paused = false;
    this.refreshSlowAt();
    if (this.resumeEvents.listening) this.resumeEvents.emit();
  }

  /**
   * Recomputes {@link BufferBase.slowAt} after the state it depends on changed (pause, resume,
   * producers waiting or leaving, end, close). Subclasses that keep fast-path thresholds of their
   * own override it and recompute them too.
   */
  protected refreshSlowAt(): void {
    this.slowAt = this.putters.size !== 0 ? Infinity : this.paused ? this.lowWaterMark : -1;
  }

  /** Reports a dropped item. */
  protected dropped(item: T, reason: DropReason): void {
    this.droppedItems++;
    if (this.dropEvents.listening) this.dropEvents.emit(item, reason);
  }

  /**
   * After items left: resume at the low-water mark, then let waiting producers in. Subclasses
   * call it from `poll` only when one of those can apply (cheap checks inline).
   */
  protected afterRemoval(): void {
    if (this.paused && this.size <= this.lowWaterMark) this.resume();
    const putters = this.putters;
    if (putters.size !== 0) this.sampleRemoval();
    while (putters.size !== 0) {
      const head = putters.peek();
      if (head === undefined || this.accept(head.payload, head.priority) === 'refused') break;
      putters.grant(head, undefined);
    }
    this.refreshSlowAt();
  }

  /**
   * Folds the consumer's last gap into the average: the time since the previous removal, or
   * since the longest-waiting producer began to wait if that was later (time nobody waited for
   * room is not the consumer's pace). Called with producers waiting.
   */
  private sampleRemoval(): void {
    const now = this.clock.now();
    const last = this.lastRemovalAt;
    this.lastRemovalAt = now;
    const waitingSince = (this.putters.peek() as QueuedWaiter<T>).enqueuedAt;
    const from = last > waitingSince ? last : waitingSince;
    const gap = now > from ? now - from : 0;
    const previous = this.removalGapMs;
    this.removalGapMs = Number.isNaN(previous) ? gap : previous + 0.2 * (gap - previous);
  }

  /** The retry hint of a refused `put`: room for the waiting producers and one more, whole ms ≥ 1. */
  private putRetryAfterMs(): number | undefined {
    const gap = this.removalGapMs;
    if (Number.isNaN(gap)) return undefined;
    return Math.max(1, Math.ceil(gap * (this.putters.size + 1) - 1e-6));
  }

  /** `removeNext` plus the follow-up a removal needs. */
  private removeNextAndSettle(): T {
    const item = this.removeNext();
    this.afterRemoval();
    return item;
  }
}

export { OPEN, ENDED, CLOSED };
