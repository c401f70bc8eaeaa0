import { KEEP_ALIVE, type Clock, type TimerHandle } from './clock.js';
import type { FairnessKey } from './gate.js';
import { checkNumber, checkOptions, optionKeys, type OptionKeys } from './validate.js';
import { FifoLevel, KeyedLevel, QUEUED, SETTLED, type Level, type QueuedWaiter, type SignalLink, type Waiter } from './waiter-levels.js';

export type { QueuedWaiter } from './waiter-levels.js';

interface SignalGroup<V, P> {
  head: SignalLink<V, P> | undefined;
  readonly listener: () => void;
}

/** How a waiter left the queue without being granted. */
export type LeaveReason = 'abort' | 'timeout';

/** Options of a {@link WaiterQueue}. */
export interface WaiterQueueOptions<P = undefined> {
  /** Time source for enqueue times, deadlines and the one deadline timer. */
  readonly clock: Clock;
  /**
   * Anti-starvation: a waiter that has waited this long (ms) is served before any newer waiter,
   * whatever its priority; among several such waiters the oldest goes first. Default 10,000 ms;
   * `Infinity` serves strictly by priority.
   */
  readonly maxStarvationMs?: number | undefined;
  /** The rejection reason of a waiter whose deadline passed. */
  readonly timeoutReason: (waiter: QueuedWaiter<P>) => unknown;
  /**
   * Called after waiters left without a grant (aborted or timed out), once per batch, so the
   * owner can serve the waiters that were queued behind them.
   */
  readonly onLeave?: (reason: LeaveReason, count: number) => void;
  /**
   * Take turns between keys within each priority: every key (see {@link WaiterQueue.enqueue})
   * has its own FIFO, and the keys with waiters are served round-robin — one grant to a key,
   * then one to the next key — so a key with many waiters cannot keep the others waiting behind
   * them. Priorities and aging work as without keys. Default `false`: one FIFO per priority,
   * keys ignored.
   */
  readonly keyed?: boolean | undefined;
}

/** Default of {@link WaiterQueueOptions.maxStarvationMs}: 10 s. */
export const DEFAULT_MAX_STARVATION_MS = 10_000;

/** Levels kept around after they empty; beyond this, empty levels are dropped. */
const IDLE_LEVELS_KEPT = 8;
/** Deadline tombstones tolerated in the heap before a sweep (and never more than the live ones). */
const SWEEP_AFTER_DEAD = 32;

const WAITER_QUEUE_KEYS = optionKeys<WaiterQueueOptions<unknown>>()({
  clock: true,
  maxStarvationMs: true,
  timeoutReason: true,
  onLeave: true,
  keyed: true,
});

/**
 * The queue behind every wait in sluice: gates' `acquire` and buffers' `put`/`take`.
 *
 * - **Order**: larger priority first, FIFO within a priority. A waiter that has waited
 *   `maxStarvationMs` is served before newer ones whatever its priority (aging), oldest first.
 *   With `keyed`, each priority takes turns between keys instead: FIFO within a key, one grant
 *   per key in turn across the keys that have waiters (a waiter that leaves ungranted does not
 *   cost its key the turn), and nothing kept for a key once its last waiter leaves.
 * - **Cancellation leaves no trace**: aborting or timing out removes the waiter in O(1) (it is
 *   marked and swept in bulk later), detaches its listener, and reports the leave to the owner.
 * - **One listener per signal**: waiters sharing an `AbortSignal` share one `abort` listener,
 *   added with the first and removed with the last, so N waiters on one signal cost O(N), not
 *   the O(N²) of a listener each.
 * - **One timer**: `maxWaitMs` deadlines live in a min-heap served by a single owned timer armed
 *   for the earliest deadline, never one runtime timer per waiter.
 * - **Settles exactly once**: every waiter is granted, aborted, timed out, or rejected by
 *   {@link WaiterQueue.rejectAll}.
 *
 * The owner decides when the head can be served: it calls {@link WaiterQueue.peek} and
 * {@link WaiterQueue.grant} (no overtaking: when the head does not fit, the owner stops).
 *
 * @typeParam V - what a waiter is resolved with (a permit, an item).
 * @typeParam P - the payload a waiter carries (a buffer `put` carries its item).
 */
export class WaiterQueue<V, P = undefined> {
  private readonly clock: Clock;
  private readonly maxStarvationMs: number;
  private readonly timeoutReason: (waiter: QueuedWaiter<P>) => unknown;
  private readonly onLeave: ((reason: LeaveReason, count: number) => void) | undefined;
  private readonly keyed: boolean;

  /** Levels sorted by priority, largest first. Most owners only ever use one. */
  private levels: Level<V, P>[] = [];
  private liveWaiters = 0;
  private liveUnits = 0;

  /**
   * Waiters with a deadline, as a binary min-heap. A waiter granted or aborted before its
   * deadline is only marked settled here (a tombstone) and swept in bulk once tombstones
   * outnumber the live entries: no O(log n) removal per grant.
   */
  private deadlines: Waiter<V, P>[] = [];
  private deadDeadlines = 0;
  private timer: TimerHandle | undefined = undefined;
  private timerAt = Infinity;
  private onTimer: (() => void) | undefined = undefined;

  /** Waiters by signal, made with the first waiter that brings one. */
  private signals: Map<AbortSignal, SignalGroup<V, P>> | undefined = undefined;

  private abortedCount = 0;
  private timedOutCount = 0;

  constructor(options: WaiterQueueOptions<P>) {
    checkOptions('WaiterQueue', options, WAITER_QUEUE_KEYS as OptionKeys<WaiterQueueOptions<P>>);
    this.clock = options.clock;
    this.maxStarvationMs = checkNumber('WaiterQueue', 'maxStarvationMs', options.maxStarvationMs ?? DEFAULT_MAX_STARVATION_MS, {
      min: 0,
      allowInfinity: true,
    });
    this.timeoutReason = options.timeoutReason;
    this.onLeave = options.onLeave;
    this.keyed = options.keyed === true;
  }

  /** Waiters queued now. */
  get size(): number {
    return this.liveWaiters;
  }

  /** Sum of the queued waiters' counts. */
  get units(): number {
    return this.liveUnits;
  }

  /** Waiters that left because their signal aborted, so far. */
  get aborted(): number {
    return this.abortedCount;
  }

  /** Waiters that left because their deadline passed, so far. */
  get timedOut(): number {
    return this.timedOutCount;
  }

  /**
   * Keys with waiters now, over all priorities (a key waiting at two priorities counts twice).
   * Without `keyed`, every waiter shares one key: 1 while any waits, else 0.
   */
  get keys(): number {
    let keys = 0;
    for (const level of this.levels) keys += level.keys;
    return keys;
  }

  /**
   * Units queued for `key`, over all priorities (`undefined`: the requests queued without a
   * key). Without `keyed`, every waiter shares one key: all queued units. O(levels).
   */
  keyUnits(key: FairnessKey | undefined): number {
    let units = 0;
    for (const level of this.levels) units += level.unitsOf(key);
    return units;
  }

  /** True while the deadline timer is armed. */
  get timerArmed(): boolean {
    return this.timer !== undefined;
  }

  /**
   * Units that would be served before a new waiter of `priority` (the waiters of equal or larger
   * priority), ignoring aging. O(levels).
   */
  unitsAhead(priority: number): number {
    const levels = this.levels;
    if (levels.length === 1) {
      const only = levels[0] as Level<V, P>;
      return only.priority >= priority ? only.units : 0;
    }
    let units = 0;
    for (const level of levels) {
      if (level.priority < priority) break;
      units += level.units;
    }
    return units;
  }

  /**
   * Queues a waiter and returns the promise it settles. The caller has validated the arguments
   * and checked that `signal` is not already aborted.
   *
   * @param maxWaitMs - `Infinity` for no deadline.
   * @param key - the waiter's key in a `keyed` queue; `undefined` (the default) is the one key
   *   shared by waiters without a key. Ignored without `keyed`.
   */
  enqueue(count: number, priority: number, signal: AbortSignal | undefined, maxWaitMs: number, payload: P, key?: FairnessKey): Promise<V> {
    const now = this.clock.now();
    const waiter = this.levelFor(priority).add(count, now, maxWaitMs, payload, key);
    const promise = new Promise<V>((resolve) => {
      waiter.resolve = resolve;
    });
    this.liveWaiters++;
    this.liveUnits += count;
    if (maxWaitMs !== Infinity) this.addDeadline(waiter, now);
    if (signal !== undefined) this.attachSignal(waiter, signal);
    return promise;
  }

  /**
   * The waiter to serve next, or `undefined` when none: the oldest waiter that has waited
   * `maxStarvationMs`, else the front of the highest priority (with `keyed`, the oldest waiter
   * of the key whose turn it is, there). Reads the clock only when waiters
   * of more than one priority are queued and aging is on.
   */
  peek(): QueuedWaiter<P> | undefined {
    if (this.liveWaiters === 0) return undefined;
    const levels = this.levels;
    let top: Waiter<V, P> | undefined;
    let topIndex = 0;
    for (; topIndex < levels.length; topIndex++) {
      top = (levels[topIndex] as Level<V, P>).front();
      if (top !== undefined) break;
    }
    if (top === undefined || this.maxStarvationMs === Infinity) return top;
    let starving: Waiter<V, P> | undefined;
    let cutoff = -Infinity;
    for (let i = topIndex + 1; i < levels.length; i++) {
      const candidate = (levels[i] as Level<V, P>).front();
      if (candidate === undefined) continue;
      if (cutoff === -Infinity) cutoff = this.clock.now() - this.maxStarvationMs;
      if (candidate.enqueuedAt <= cutoff && (starving === undefined || candidate.enqueuedAt < starving.enqueuedAt)) {
        starving = candidate;
      }
    }
    // A starving waiter goes first only if it is older than the top level's own front.
    return starving !== undefined && starving.enqueuedAt < top.enqueuedAt ? starving : top;
  }

  /**
   * The newest waiter of the highest priority, or `undefined` when none: for owners that serve
   * LIFO while overloaded (adaptive LIFO), so callers who are still waiting get answers first.
   */
  peekNewest(): QueuedWaiter<P> | undefined {
    if (this.liveWaiters === 0) return undefined;
    for (const level of this.levels) {
      if (level.live !== 0) return level.newest();
    }
    return undefined;
  }

  /**
   * Removes `waiter` without granting it and rejects it with `reason`, as an owner's own
   * decision (a shedder dropping a waiter that waited too long). Counted in neither `aborted`
   * nor `timedOut`; reports no leave.
   */
  drop(waiter: QueuedWaiter<P>, reason: unknown): void {
    const w = waiter as Waiter<V, P>;
    if (w.state !== QUEUED) return;
    this.settle(w);
    w.reject(reason);
  }

  /** Removes `waiter` (from {@link WaiterQueue.peek}) and resolves it with `value`. */
  grant(waiter: QueuedWaiter<P>, value: V): void {
    const w = waiter as Waiter<V, P>;
    if (w.state !== QUEUED) return;
    this.settle(w, true, true);
    w.fulfil(value);
  }

  /**
   * Rejects every queued waiter with `reasonFor(waiter)` (front to back by priority), clears
   * the deadline timer and every signal listener, and gives the memory back. Used by `close()`.
   * Returns how many waiters were rejected.
   */
  rejectAll(reasonFor: (waiter: QueuedWaiter<P>) => unknown): number {
    const pending: Waiter<V, P>[] = [];
    for (const level of this.levels) level.collect(pending);
    for (const waiter of pending) this.settle(waiter);
    this.levels = [];
    this.deadlines = [];
    this.deadDeadlines = 0;
    this.disarm();
    for (const waiter of pending) waiter.reject(reasonFor(waiter));
    return pending.length;
  }

  private levelFor(priority: number): Level<V, P> {
    const levels = this.levels;
    const first = levels[0];
    if (first !== undefined && first.priority === priority) return first;
    let index = 0;
    for (; index < levels.length; index++) {
      const level = levels[index] as Level<V, P>;
      if (level.priority === priority) return level;
      if (level.priority < priority) break;
    }
    // The only place the two kinds of level differ for the queue: chosen once per level.
    const level: Level<V, P> = this.keyed ? new KeyedLevel<V, P>(priority) : new FifoLevel<V, P>(priority);
    levels.splice(index, 0, level);
    return level;
  }

  /**
   * Takes a waiter out of every structure (its deadline entry becomes a tombstone, unless the
   * caller already popped it: `inHeap` false). Does not settle its promise. `granted`: it leaves
   * because it was granted (in a keyed level, that ends its key's turn).
   */
  private settle(waiter: Waiter<V, P>, inHeap = true, granted = false): void {
    waiter.state = SETTLED;
    const level = this.levelOf(waiter.priority);
    this.liveWaiters--;
    this.liveUnits -= waiter.count;
    level.remove(waiter, granted);
    if (level.live === 0) this.retireLevel(level);
    if (inHeap && waiter.maxWaitMs !== Infinity) this.deadDeadline();
    if (waiter.link !== undefined) this.detachSignal(waiter.link);
  }

  /** The level holding the live waiters of `priority` (levels retire only once empty). */
  private levelOf(priority: number): Level<V, P> {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i] as Level<V, P>;
      if (level.priority === priority) return level;
    }
    throw new Error(`WaiterQueue: no level for priority ${priority}`); // unreachable
  }

  private retireLevel(level: Level<V, P>): void {
    level.clear();
    if (this.levels.length > IDLE_LEVELS_KEPT) {
      const index = this.levels.indexOf(level);
      if (index >= 0) this.levels.splice(index, 1);
    }
  }

  // ---- deadlines: a binary min-heap by deadline with lazy deletion, served by one timer ----

  private addDeadline(waiter: Waiter<V, P>, now: number): void {
    const heap = this.deadlines;
    heap.push(waiter);
    this.siftUp(heap.length - 1);
    const deadline = waiter.deadline;
    if (deadline < this.timerAt) this.arm(deadline, now);
  }

  /** A waiter with a deadline settled before it: sweep the tombstones once they outnumber the rest. */
  private deadDeadline(): void {
    const dead = ++this.deadDeadlines;
    const size = this.deadlines.length;
    if (dead === size) {
      // no live deadline left: the timer (which keeps the process alive) goes too
      this.deadlines = [];
      this.deadDeadlines = 0;
      this.disarm();
      return;
    }
    if (dead > SWEEP_AFTER_DEAD && dead * 2 > size) {
      const live = this.deadlines.filter((w) => w.state === QUEUED);
      this.deadlines = live;
      this.deadDeadlines = 0;
      for (let i = (live.length >>> 1) - 1; i >= 0; i--) this.siftDown(i);
    }
  }

  /** Removes the heap's top (live or tombstone). */
  private popDeadline(): Waiter<V, P> {
    const heap = this.deadlines;
    const top = heap[0] as Waiter<V, P>;
    const last = heap.pop() as Waiter<V, P>;
    if (heap.length > 0) {
      heap[0] = last;
      this.siftDown(0);
    }
    if (top.state !== QUEUED) this.deadDeadlines--;
    return top;
  }

  private siftUp(index: number): void {
    const heap = this.deadlines;
    const item = heap[index] as Waiter<V, P>;
    const deadline = item.deadline;
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = heap[parentIndex] as Waiter<V, P>;
      if (parent.deadline <= deadline) break;
      heap[index] = parent;
      index = parentIndex;
    }
    heap[index] = item;
  }

  private siftDown(index: number): void {
    const heap = this.deadlines;
    const length = heap.length;
    const item = heap[index] as Waiter<V, P>;
    const deadline = item.deadline;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && (heap[right] as Waiter<V, P>).deadline < (heap[left] as Waiter<V, P>).deadline) child = right;
      const childItem = heap[child] as Waiter<V, P>;
      if (childItem.deadline >= deadline) break;
      heap[index] = childItem;
      index = child;
    }
    heap[index] = item;
  }

  private arm(at: number, now: number): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timerAt = at;
    // Why keep-alive: a deadline only exists while a caller awaits the waiter's promise.
    this.onTimer ??= () => this.expire();
    this.timer = this.clock.setTimer(this.onTimer, Math.max(0, at - now), KEEP_ALIVE);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private expire(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const heap = this.deadlines;
    const now = this.clock.now();
    let expired: Waiter<V, P>[] | undefined;
    while (heap.length > 0) {
      const top = heap[0] as Waiter<V, P>;
      if (top.state !== QUEUED) {
        this.popDeadline(); // a tombstone: it left before its deadline
        continue;
      }
      if (top.deadline > now) break;
      this.popDeadline();
      this.settle(top, false);
      (expired ??= []).push(top);
    }
    if (heap.length > 0) this.arm((heap[0] as Waiter<V, P>).deadline, now);
    if (expired === undefined) return;
    this.timedOutCount += expired.length;
    for (const waiter of expired) waiter.reject(this.timeoutReason(waiter));
    this.onLeave?.('timeout', expired.length);
  }

  // ---- signals: one listener per distinct AbortSignal ----

  private attachSignal(waiter: Waiter<V, P>, signal: AbortSignal): void {
    const signals = (this.signals ??= new Map());
    let group = signals.get(signal);
    if (group === undefined) {
      const created: SignalGroup<V, P> = { head: undefined, listener: () => this.abortGroup(signal) };
      group = created;
      signals.set(signal, created);
      signal.addEventListener('abort', created.listener);
    }
    const head = group.head;
    const link: SignalLink<V, P> = { waiter, signal, prev: undefined, next: head };
    if (head !== undefined) head.prev = link;
    group.head = link;
    waiter.link = link;
  }

  private detachSignal(link: SignalLink<V, P>): void {
    link.waiter.link = undefined;
    const group = this.signals?.get(link.signal);
    if (group === undefined) return; // the whole group is being aborted
    const { prev, next } = link;
    if (prev !== undefined) prev.next = next;
    else group.head = next;
    if (next !== undefined) next.prev = prev;
    if (group.head === undefined) {
      this.signals?.delete(link.signal);
      link.signal.removeEventListener('abort', group.listener);
    }
  }

  private abortGroup(signal: AbortSignal): void {
    const group = this.signals?.get(signal);
    if (group === undefined) return;
    this.signals?.delete(signal);
    signal.removeEventListener('abort', group.listener);
    const aborted: Waiter<V, P>[] = [];
    for (let link = group.head; link !== undefined; link = link.next) {
      if (link.waiter.state === QUEUED) aborted.push(link.waiter);
    }
    for (const waiter of aborted) this.settle(waiter);
    this.abortedCount += aborted.length;
    for (const waiter of aborted) waiter.reject(signal.reason);
    if (aborted.length > 0) this.onLeave?.('abort', aborted.length);
  }
}
