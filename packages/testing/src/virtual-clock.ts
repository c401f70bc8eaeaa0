import { checkNumber, optionKeys, checkOptions, type Clock, type TimerHandle, type TimerOptions } from '@sluice/core';

interface VirtualTimer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  readonly keepAlive: boolean;
  index: number;
}

/** Options of {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Virtual time at creation, in ms. Default 0. */
  readonly startMs?: number;
  /**
   * Real milliseconds after which a clock that has timers pending but is not being advanced is
   * reported as stalled (a test awaiting virtual time that nobody advances would otherwise just
   * hang until the test runner's timeout). `false` turns the report off. Default 1,000 ms.
   */
  readonly stallReportMs?: number | false;
  /**
   * Called with a description of the stall. Default: `console.warn`.
   */
  readonly onStall?: (message: string) => void;
}

/** Options of {@link VirtualClock.settle}. */
export interface SettleOptions {
  /** Give up after advancing this much virtual time, in ms. Default `Infinity`. */
  readonly maxMs?: number;
  /** Give up after firing this many timers (guards against endless periodic timers). Default 1,000,000. */
  readonly maxTimers?: number;
}

/** Thrown by {@link VirtualClock.settle} and {@link VirtualClock.runUntilIdle} when time cannot settle. */
export class VirtualTimeStallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VirtualTimeStallError';
  }
}

type Yielder = () => Promise<void>;

/** A zero-delay timer that re-arms itself would otherwise keep one instant firing forever. */
const MAX_TIMERS_PER_INSTANT = 1_000_000;

/**
 * Lets every queued promise continuation run: a real macrotask, which the runtime only starts
 * once the microtask queue is empty.
 */
function makeYielder(): Yielder {
  // Read through one structural view of whichever runtime this is (@types/node's MessagePort
  // declares no `onmessage`, the DOM's does): via `unknown`, as neither view overlaps the other.
  const g = globalThis as unknown as {
    setImmediate?: (callback: () => void) => unknown;
    MessageChannel?: new () => {
      port1: { onmessage: (() => void) | null; close(): void };
      port2: { postMessage(v: unknown): void; close(): void };
    };
    setTimeout: (callback: () => void, ms: number) => unknown;
  };
  if (typeof g.setImmediate === 'function') {
    const setImmediate = g.setImmediate;
    return () => new Promise<void>((resolve) => void setImmediate(resolve));
  }
  if (typeof g.MessageChannel === 'function') {
    const MessageChannel = g.MessageChannel;
    return () =>
      new Promise<void>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => {
          channel.port1.close();
          channel.port2.close();
          resolve();
        };
        channel.port2.postMessage(0);
      });
  }
  const setTimeout = g.setTimeout;
  return () => new Promise<void>((resolve) => void setTimeout(resolve, 0));
}

const VIRTUAL_CLOCK_KEYS = optionKeys<VirtualClockOptions>()({ startMs: true, stallReportMs: true, onStall: true });

const SETTLE_KEYS = optionKeys<SettleOptions>()({ maxMs: true, maxTimers: true });

/**
 * A {@link Clock} whose time moves only when a test moves it, so hours of traffic run in
 * milliseconds and every run is the same.
 *
 * - Timers fire in time order (ties in the order they were set), each at its own instant:
 *   `now()` inside a callback is the timer's due time.
 * - {@link VirtualClock.advance} lets promise continuations run after each instant, so work a
 *   timer wakes (a resolved `acquire`, its `then`, a new timer) happens at the right virtual time.
 * - {@link VirtualClock.settle} advances exactly as far as a promise needs, and throws a
 *   {@link VirtualTimeStallError} when the promise can never settle (no timer left), instead of
 *   hanging. A clock left with pending timers and not advanced is reported after
 *   `stallReportMs` of real time.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 1, clock });
 * bucket.tryAcquire();                            // takes the only token
 * const permit = await clock.settle(bucket.acquire()); // advances 100 virtual ms
 * clock.now();                                    // 100
 * ```
 */
export class VirtualClock implements Clock {
  private current: number;
  private readonly heap: VirtualTimer[] = [];
  private seq = 0;
  private firedCount = 0;
  private readonly yieldToRuntime: Yielder = makeYielder();
  private readonly stallReportMs: number | false;
  private readonly onStall: (message: string) => void;
  private stallTimer: unknown = undefined;
  private advanceEpoch = 0;
  private stallEpochReported = -1;

  constructor(options: VirtualClockOptions = {}) {
    checkOptions('VirtualClock', options, VIRTUAL_CLOCK_KEYS);
    this.current = checkNumber('VirtualClock', 'startMs', options.startMs ?? 0);
    const stall = options.stallReportMs ?? 1_000;
    this.stallReportMs = stall === false ? false : checkNumber('VirtualClock', 'stallReportMs', stall, { min: 1 });
    this.onStall = options.onStall ?? ((message) => console.warn(message));
  }

  /** Current virtual time, in ms. */
  now(): number {
    return this.current;
  }

  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    if (typeof callback !== 'function') throw new TypeError('VirtualClock.setTimer: callback must be a function');
    const delay = delayMs > 0 ? delayMs : 0; // NaN and negatives fire at the current instant
    const timer: VirtualTimer = {
      at: this.current + delay,
      seq: this.seq++,
      callback,
      keepAlive: options?.keepAlive === true,
      index: this.heap.length,
    };
    this.heap.push(timer);
    this.siftUp(timer.index);
    this.watchForStall();
    return timer as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    const timer = handle as unknown as VirtualTimer;
    if (timer === null || typeof timer !== 'object' || this.heap[timer.index] !== timer) return;
    this.removeAt(timer.index);
  }

  /** Timers set and not yet fired or cleared. A closed component should leave none. */
  get pendingTimers(): number {
    return this.heap.length;
  }

  /** Pending timers that were set with `keepAlive` (they would hold a real process open). */
  get keepAliveTimers(): number {
    return this.heap.reduce((n, timer) => n + (timer.keepAlive ? 1 : 0), 0);
  }

  /** Due time of the next pending timer, or `undefined` when none. */
  get nextTimerAt(): number | undefined {
    return this.heap[0]?.at;
  }

  /** Timers fired so far. */
  get firedTimers(): number {
    return this.firedCount;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in time order, and lets promise
   * continuations run after each instant (so timers they set are honoured in the same advance).
   */
  async advance(ms: number): Promise<void> {
    checkNumber('VirtualClock.advance', 'ms', ms, { min: 0 });
    const target = this.current + ms;
    this.advanceEpoch++;
    await this.yieldToRuntime();
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.at > target) break;
      this.fireInstant(next.at);
      await this.yieldToRuntime();
    }
    if (this.current < target) this.current = target;
  }

  /**
   * Like {@link VirtualClock.advance} but synchronous: fires due timers without letting promise
   * continuations run in between. For code whose timers do not depend on promises.
   */
  advanceSync(ms: number): void {
    checkNumber('VirtualClock.advanceSync', 'ms', ms, { min: 0 });
    const target = this.current + ms;
    this.advanceEpoch++;
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.at > target) break;
      this.fireInstant(next.at);
    }
    if (this.current < target) this.current = target;
  }

  /** Advances to an absolute virtual time (no-op if it is in the past). */
  async advanceTo(timeMs: number): Promise<void> {
    if (timeMs > this.current) await this.advance(timeMs - this.current);
  }

  /**
   * Sets the time without firing timers, backwards too: for testing how components cope with a
   * misbehaving clock (one that stalls or jumps back). Timers keep their due times.
   */
  setTime(timeMs: number): void {
    this.current = checkNumber('VirtualClock.setTime', 'timeMs', timeMs);
  }

  /**
   * Fires timers, in time order, until none is left.
   *
   * @throws VirtualTimeStallError after `maxTimers` (default 1,000,000): a timer that re-arms
   *   itself forever would otherwise never let this return.
   */
  async runUntilIdle(options: { maxTimers?: number } = {}): Promise<void> {
    const maxTimers = options.maxTimers ?? 1_000_000;
    this.advanceEpoch++;
    await this.yieldToRuntime();
    let fired = 0;
    for (;;) {
      const next = this.heap[0];
      if (next === undefined) return;
      if (fired >= maxTimers) {
        throw new VirtualTimeStallError(
          `VirtualClock.runUntilIdle: still ${this.heap.length} timer(s) pending after firing ${maxTimers}; something re-arms a timer forever`,
        );
      }
      fired += this.fireInstant(next.at);
      await this.yieldToRuntime();
    }
  }

  /**
   * Advances virtual time exactly until `promise` settles, then returns its value (or throws its
   * error). Lets continuations run before looking at the next timer, so a promise that settles
   * without time passing costs no virtual time.
   *
   * @throws VirtualTimeStallError when no timer is left while the promise is still pending (it
   *   can never settle), or after `maxMs` of virtual time or `maxTimers` timers.
   */
  async settle<T>(promise: PromiseLike<T>, options: SettleOptions = {}): Promise<T> {
    checkOptions('VirtualClock.settle', options, SETTLE_KEYS);
    const maxMs = options.maxMs ?? Infinity;
    const maxTimers = options.maxTimers ?? 1_000_000;
    let state: 'pending' | 'fulfilled' | 'rejected' = 'pending';
    let value: T | undefined;
    let error: unknown;
    Promise.resolve(promise).then(
      (v) => {
        state = 'fulfilled';
        value = v;
      },
      (e: unknown) => {
        state = 'rejected';
        error = e;
      },
    );
    const limit = this.current + maxMs;
    this.advanceEpoch++;
    await this.yieldToRuntime();
    let fired = 0;
    while (state === 'pending') {
      const next = this.heap[0];
      if (next === undefined) {
        throw new VirtualTimeStallError(
          `VirtualClock.settle: the promise is still pending at t=${this.current} ms and no timer is scheduled, so nothing will ever settle it`,
        );
      }
      if (next.at > limit) {
        throw new VirtualTimeStallError(`VirtualClock.settle: the promise is still pending after ${maxMs} ms of virtual time`);
      }
      if (fired >= maxTimers) {
        throw new VirtualTimeStallError(`VirtualClock.settle: the promise is still pending after ${maxTimers} timers`);
      }
      fired += this.fireInstant(next.at);
      await this.yieldToRuntime();
    }
    if (state === 'rejected') throw error;
    return value as T;
  }

  /** Fires every timer due at exactly `at` (including ones set by those callbacks). */
  private fireInstant(at: number): number {
    if (at > this.current) this.current = at;
    let fired = 0;
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.at > at) break;
      if (fired >= MAX_TIMERS_PER_INSTANT) {
        throw new VirtualTimeStallError(
          `VirtualClock: more than ${MAX_TIMERS_PER_INSTANT} timers fired at t=${at} ms; something re-arms a zero-delay timer forever`,
        );
      }
      this.removeAt(0);
      fired++;
      this.firedCount++;
      next.callback();
    }
    return fired;
  }

  private watchForStall(): void {
    if (this.stallReportMs === false || this.stallTimer !== undefined) return;
    const epoch = this.advanceEpoch;
    const timer = setTimeout(() => {
      this.stallTimer = undefined;
      if (this.heap.length === 0) return;
      if (this.advanceEpoch === epoch && this.stallEpochReported !== epoch) {
        this.stallEpochReported = epoch;
        this.onStall(
          `VirtualClock: ${this.heap.length} timer(s) pending (next due at t=${this.heap[0]?.at} ms, now t=${this.current} ms) ` +
            `and the clock has not moved for ${this.stallReportMs} ms of real time. A promise waiting on virtual time ` +
            'never settles unless the test calls `await clock.advance(ms)` or `await clock.settle(promise)`.',
        );
      } else {
        this.watchForStall();
      }
    }, this.stallReportMs);
    (timer as { unref?: () => void }).unref?.();
    this.stallTimer = timer;
  }

  // ---- binary min-heap by (at, seq) ----

  private before(a: VirtualTimer, b: VirtualTimer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private removeAt(index: number): void {
    const heap = this.heap;
    const removed = heap[index] as VirtualTimer;
    const last = heap.pop() as VirtualTimer;
    removed.index = -1;
    if (last !== removed) {
      heap[index] = last;
      last.index = index;
      this.siftDown(index);
      this.siftUp(last.index);
    }
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    const item = heap[index] as VirtualTimer;
    while (index > 0) {
      const parentIndex = (index - 1) >>> 1;
      const parent = heap[parentIndex] as VirtualTimer;
      if (!this.before(item, parent)) break;
      heap[index] = parent;
      parent.index = index;
      index = parentIndex;
    }
    heap[index] = item;
    item.index = index;
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    const length = heap.length;
    const item = heap[index] as VirtualTimer;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      let child = left;
      if (right < length && this.before(heap[right] as VirtualTimer, heap[left] as VirtualTimer)) child = right;
      const childItem = heap[child] as VirtualTimer;
      if (!this.before(childItem, item)) break;
      heap[index] = childItem;
      childItem.index = index;
      index = child;
    }
    heap[index] = item;
    item.index = index;
  }
}
