import { KEEP_ALIVE, type Clock, type TimerHandle } from './clock.js';
import { RingDeque } from './ring-deque.js';
import { checkNumber } from './validate.js';

const QUEUED = 0;
const SETTLED = 1;

/** A request waiting in a {@link WaiterQueue}, as the owner of the queue sees it. */
export interface QueuedWaiter<P = undefined> {
  /** Units the waiter asks for, in the owner's unit. */
  readonly count: number;
  /** Priority; larger is served first. */
  readonly priority: number;
  /** Clock time at which it started waiting, in ms. */
  readonly enqueuedAt: number;
  /** Clock time after which it times out (`Infinity` when it has no `maxWaitMs`). */
  readonly deadline: number;
  /** The owner's payload (e.g. the item of a buffer `put`). */
  readonly payload: P;
}

class Waiter<V, P> implements QueuedWaiter<P> {
  state = QUEUED;
  /** Its place among the waiters sharing its abort signal; made only for waiters with a signal. */
  link: SignalLink<V, P> | undefined = undefined;
  /**
   * Settles the waiter's promise. Only `resolve` is kept (a rejection resolves with a rejected
   * promise): one closure less per queued waiter.
   */
  resolve!: (value: V | PromiseLike<V>) => void;

  constructor(
    readonly count: number,
    readonly priority: number,
    readonly enqueuedAt: number,
    /** Kept instead of the deadline: a small integer, where a deadline would be a boxed double. */
    readonly maxWaitMs: number,
    public payload: P,
  ) {}

  /** Clock time after which it times out (`Infinity` without `maxWaitMs`). */
  get deadline(): number {
    return this.enqueuedAt + this.maxWaitMs;
  }

  /** Rejects, and lets go of the payload (a tombstone keeps nothing alive). */
  reject(reason: unknown): void {
    this.payload = undefined as P;
    this.resolve(Promise.reject(reason));
  }

  /** Resolves, and lets go of the payload. */
  fulfil(value: V | PromiseLike<V>): void {
    this.payload = undefined as P;
    this.resolve(value);
  }
}

interface Level<V, P> {
  readonly priority: number;
  readonly waiters: RingDeque<Waiter<V, P>>;
  /** Waiters still queued. */
  live: number;
  /** Settled waiters still in the ring (removed lazily). */
  dead: number;
  /** Sum of the live waiters' counts. */
  units: number;
}

/** A waiter in the list of those sharing one abort signal. */
interface SignalLink<V, P> {
  readonly waiter: Waiter<V, P>;
  readonly signal: AbortSignal;
  prev: SignalLink<V, P> | undefined;
  next: SignalLink<V, P> | undefined;
}

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
}

/** Default of {@link WaiterQueueOptions.maxStarvationMs}: 10 s. */
export const DEFAULT_MAX_STARVATION_MS = 10_000;

/** Levels kept around after they empty; beyond this, empty levels are dropped. */
const IDLE_LEVELS_KEPT = 8;
/** Settled waiters tolerated in a level's ring before a sweep (and never more than the live ones). */
const SWEEP_AFTER_DEAD = 32;

/**
 * The queue behind every wait in sluice: gates' `acquire` and buffers' `put`/`take`.
 *
 * - **Order**: larger priority first, FIFO within a priority. A waiter that has waited
 *   `maxStarvationMs` is served before newer ones whatever its priority (aging), oldest first.
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
    this.clock = options.clock;
    this.maxStarvationMs = checkNumber(
      'WaiterQueue',
      'maxStarvationMs',
      options.maxStarvationMs ?? DEFAULT_MAX_STARVATION_MS,
      { min: 0, allowInfinity: true },
    );
    this.timeoutReason = options.timeoutReason;
    this.onLeave = options.onLeave;
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
   */
  enqueue(count: number, priority: number, signal: AbortSignal | undefined, maxWaitMs: number, payload: P): Promise<V> {
    const now = this.clock.now();
    const level = this.levelFor(priority);
    const waiter = new Waiter<V, P>(count, priority, now, maxWaitMs, payload);
    const promise = new Promise<V>((resolve) => {
      waiter.resolve = resolve;
    });
    level.waiters.push(waiter);
    level.live++;
    level.units += count;
    this.liveWaiters++;
    this.liveUnits += count;
    if (maxWaitMs !== Infinity) this.addDeadline(waiter, now);
    if (signal !== undefined) this.attachSignal(waiter, signal);
    return promise;
  }

  /**
   * The waiter to serve next, or `undefined` when none: the oldest waiter that has waited
   * `maxStarvationMs`, else the front of the highest priority. Reads the clock only when waiters
   * of more than one priority are queued and aging is on.
   */
  peek(): QueuedWaiter<P> | undefined {
    if (this.liveWaiters === 0) return undefined;
    const levels = this.levels;
    let top: Waiter<V, P> | undefined;
    let topIndex = 0;
    for (; topIndex < levels.length; topIndex++) {
      top = this.front(levels[topIndex] as Level<V, P>);
      if (top !== undefined) break;
    }
    if (top === undefined || this.maxStarvationMs === Infinity) return top;
    let starving: Waiter<V, P> | undefined;
    let cutoff = -Infinity;
    for (let i = topIndex + 1; i < levels.length; i++) {
      const candidate = this.front(levels[i] as Level<V, P>);
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
      if (level.live === 0) continue;
      const waiters = level.waiters;
      let back = waiters.peekBack() as Waiter<V, P>;
      while (back.state !== QUEUED) {
        waiters.pop();
        level.dead--;
        back = waiters.peekBack() as Waiter<V, P>;
      }
      return back;
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
    this.settle(w);
    w.fulfil(value);
  }

  /**
   * Rejects every queued waiter with `reasonFor(waiter)` (front to back by priority), clears
   * the deadline timer and every signal listener, and gives the memory back. Used by `close()`.
   * Returns how many waiters were rejected.
   */
  rejectAll(reasonFor: (waiter: QueuedWaiter<P>) => unknown): number {
    const pending: Waiter<V, P>[] = [];
    for (const level of this.levels) {
      for (const waiter of level.waiters) if (waiter.state === QUEUED) pending.push(waiter);
    }
    for (const waiter of pending) this.settle(waiter);
    this.levels = [];
    this.deadlines = [];
    this.deadDeadlines = 0;
    this.disarm();
    for (const waiter of pending) waiter.reject(reasonFor(waiter));
    return pending.length;
  }

  /** The live front of `level`, discarding settled waiters in front of it. */
  private front(level: Level<V, P>): Waiter<V, P> | undefined {
    if (level.live === 0) return undefined;
    const waiters = level.waiters;
    let head = waiters.peekFront() as Waiter<V, P>;
    while (head.state !== QUEUED) {
      waiters.shift();
      level.dead--;
      head = waiters.peekFront() as Waiter<V, P>;
    }
    return head;
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
    const level: Level<V, P> = { priority, waiters: new RingDeque(), live: 0, dead: 0, units: 0 };
    levels.splice(index, 0, level);
    return level;
  }

  /**
   * Takes a waiter out of every structure (its deadline entry becomes a tombstone, unless the
   * caller already popped it: `inHeap` false). Does not settle its promise.
   */
  private settle(waiter: Waiter<V, P>, inHeap = true): void {
    waiter.state = SETTLED;
    const level = this.levelOf(waiter.priority);
    level.live--;
    level.units -= waiter.count;
    this.liveWaiters--;
    this.liveUnits -= waiter.count;
    const waiters = level.waiters;
    if (waiters.peekFront() === waiter) {
      waiters.shift();
    } else {
      level.dead++;
      if (level.dead > SWEEP_AFTER_DEAD && level.dead > level.live) {
        waiters.removeWhere((w) => w.state !== QUEUED);
        level.dead = 0;
      }
    }
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
    if (level.dead > 0) {
      level.waiters.clear();
      level.dead = 0;
    }
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
