// Internal to the waiter queue (not exported from the package): the waiters themselves and the
// two ways a priority level keeps them — one FIFO, or one FIFO per key served round-robin.
import type { FairnessKey } from './gate.js';
import { RingDeque } from './ring-deque.js';

/** A request waiting in a `WaiterQueue`, as the owner of the queue sees it. */
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

/** Waiter state: still waiting. */
export const QUEUED = 0;
/** Waiter state: granted, aborted, timed out or rejected; a tombstone wherever it is still held. */
export const SETTLED = 1;

/** Settled waiters tolerated in a FIFO (or stale keys in a ring) before a sweep, and never more than the live ones. */
const SWEEP_AFTER_DEAD = 32;

/** The key of a waiter in a keyed level; `undefined` is the one key shared by requests without one. */
export type WaiterKey = FairnessKey | undefined;

/** A waiter in the list of those sharing one abort signal. */
export interface SignalLink<V, P> {
  readonly waiter: Waiter<V, P>;
  readonly signal: AbortSignal;
  prev: SignalLink<V, P> | undefined;
  next: SignalLink<V, P> | undefined;
}

export class Waiter<V, P> implements QueuedWaiter<P> {
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

/**
 * A waiter of a keyed level. A subclass, so that waiters of ordinary levels do not pay a field
 * for it.
 */
class KeyedWaiter<V, P> extends Waiter<V, P> {
  constructor(
    count: number,
    priority: number,
    enqueuedAt: number,
    maxWaitMs: number,
    payload: P,
    /** The FIFO of its key. */
    readonly fifo: KeyFifo<V, P>,
  ) {
    super(count, priority, enqueuedAt, maxWaitMs, payload);
  }
}

/**
 * What the queue needs of a priority level. Waiters are added and removed here; the queue sets
 * a waiter's state to {@link SETTLED} before it calls {@link Level.remove}.
 */
export interface Level<V, P> {
  readonly priority: number;
  /** Waiters still queued. */
  readonly live: number;
  /** Sum of the live waiters' counts. */
  readonly units: number;
  /** Keys with live waiters. */
  readonly keys: number;
  /** Makes a waiter of `key` and queues it at its back. */
  add(count: number, now: number, maxWaitMs: number, payload: P, key: WaiterKey): Waiter<V, P>;
  /** The waiter this level serves next, discarding settled ones in front of it. */
  front(): Waiter<V, P> | undefined;
  /** The newest live waiter. */
  newest(): Waiter<V, P> | undefined;
  /** Takes a just-settled waiter out; `granted` when it leaves because it was granted. */
  remove(waiter: Waiter<V, P>, granted: boolean): void;
  /** Units queued for `key`. */
  unitsOf(key: WaiterKey): number;
  /** Appends every live waiter to `into`. */
  collect(into: Waiter<V, P>[]): void;
  /** Lets go of what is left (tombstones only); called once `live` is 0. */
  clear(): void;
}

/** Waiters in arrival order, settled ones removed lazily (at the front, or in a bulk sweep). */
class WaiterFifo<V, P> {
  readonly waiters = new RingDeque<Waiter<V, P>>();
  /** Waiters still queued. */
  live = 0;
  /** Settled waiters still in the ring. */
  dead = 0;
  /** Sum of the live waiters' counts. */
  units = 0;

  push(waiter: Waiter<V, P>): void {
    this.waiters.push(waiter);
    this.live++;
    this.units += waiter.count;
  }

  front(): Waiter<V, P> | undefined {
    if (this.live === 0) return undefined;
    const waiters = this.waiters;
    let head = waiters.peekFront() as Waiter<V, P>;
    while (head.state !== QUEUED) {
      waiters.shift();
      this.dead--;
      head = waiters.peekFront() as Waiter<V, P>;
    }
    return head;
  }

  newest(): Waiter<V, P> | undefined {
    if (this.live === 0) return undefined;
    const waiters = this.waiters;
    let back = waiters.peekBack() as Waiter<V, P>;
    while (back.state !== QUEUED) {
      waiters.pop();
      this.dead--;
      back = waiters.peekBack() as Waiter<V, P>;
    }
    return back;
  }

  /** Takes a settled waiter out (at once when it is at the front, else lazily). */
  remove(waiter: Waiter<V, P>): void {
    this.live--;
    this.units -= waiter.count;
    const waiters = this.waiters;
    if (waiters.peekFront() === waiter) {
      waiters.shift();
      return;
    }
    this.dead++;
    if (this.dead > SWEEP_AFTER_DEAD && this.dead > this.live) {
      waiters.removeWhere((w) => w.state !== QUEUED);
      this.dead = 0;
    }
  }

  collect(into: Waiter<V, P>[]): void {
    for (const waiter of this.waiters) if (waiter.state === QUEUED) into.push(waiter);
  }

  clear(): void {
    if (this.dead > 0) {
      this.waiters.clear();
      this.dead = 0;
    }
  }
}

/** An ordinary level: FIFO within the priority. Keys are ignored (all waiters share one). */
export class FifoLevel<V, P> extends WaiterFifo<V, P> implements Level<V, P> {
  constructor(readonly priority: number) {
    super();
  }

  get keys(): number {
    return this.live === 0 ? 0 : 1;
  }

  add(count: number, now: number, maxWaitMs: number, payload: P): Waiter<V, P> {
    const waiter = new Waiter<V, P>(count, this.priority, now, maxWaitMs, payload);
    this.push(waiter);
    return waiter;
  }

  unitsOf(): number {
    return this.units;
  }
}

/** The FIFO of one key within a keyed level. */
class KeyFifo<V, P> extends WaiterFifo<V, P> {
  constructor(readonly key: WaiterKey) {
    super();
  }
}

/**
 * A level that takes turns between keys: one FIFO per key with live waiters, and a ring of those
 * keys. The key at the front of the ring has the turn; its oldest waiter is the level's front.
 * Once one of its waiters is granted, the key goes to the back of the ring and the next key has
 * the turn. A waiter that leaves without a grant (aborted, timed out, dropped) does not end its
 * key's turn: the key has not been served yet, and its next waiter becomes the front.
 *
 * A key whose last waiter leaves is forgotten at once. Its FIFO leaves the map, and its stale
 * entry in the ring is skipped when it comes round (or swept once stale entries outnumber the
 * live ones), so memory follows the keys waiting now, not every key ever seen.
 */
export class KeyedLevel<V, P> implements Level<V, P> {
  live = 0;
  units = 0;
  /** The FIFO of every key with live waiters. */
  private readonly fifos = new Map<WaiterKey, KeyFifo<V, P>>();
  /** Keys in turn order, the current one first; may hold stale FIFOs (no live waiter). */
  private readonly turns = new RingDeque<KeyFifo<V, P>>();
  private staleTurns = 0;

  constructor(readonly priority: number) {}

  get keys(): number {
    return this.fifos.size;
  }

  add(count: number, now: number, maxWaitMs: number, payload: P, key: WaiterKey): Waiter<V, P> {
    let fifo = this.fifos.get(key);
    if (fifo === undefined) {
      fifo = new KeyFifo<V, P>(key);
      this.fifos.set(key, fifo);
      this.turns.push(fifo); // a new key waits for its turn behind the keys already waiting
    }
    const waiter = new KeyedWaiter<V, P>(count, this.priority, now, maxWaitMs, payload, fifo);
    fifo.push(waiter);
    this.live++;
    this.units += count;
    return waiter;
  }

  front(): Waiter<V, P> | undefined {
    if (this.live === 0) return undefined;
    return (this.current() as KeyFifo<V, P>).front();
  }

  /** The newest waiter of any key: O(keys), for owners that serve LIFO while overloaded. */
  newest(): Waiter<V, P> | undefined {
    let newest: Waiter<V, P> | undefined;
    for (const fifo of this.fifos.values()) {
      const back = fifo.newest();
      if (back !== undefined && (newest === undefined || back.enqueuedAt >= newest.enqueuedAt)) newest = back;
    }
    return newest;
  }

  remove(waiter: Waiter<V, P>, granted: boolean): void {
    this.live--;
    this.units -= waiter.count;
    const fifo = (waiter as KeyedWaiter<V, P>).fifo;
    fifo.remove(waiter);
    if (fifo.live === 0) {
      // The key's last waiter left: forget the key; the turn passes if it was its turn.
      this.fifos.delete(fifo.key);
      fifo.clear();
      this.staleTurns++;
      this.current();
      if (this.staleTurns > SWEEP_AFTER_DEAD && this.staleTurns * 2 > this.turns.length) {
        this.turns.removeWhere((f) => f.live === 0);
        this.staleTurns = 0;
      }
    } else if (granted && this.current() === fifo) {
      // The key whose turn it was has been served: the next key has the turn.
      this.turns.shift();
      this.turns.push(fifo);
    }
  }

  unitsOf(key: WaiterKey): number {
    return this.fifos.get(key)?.units ?? 0;
  }

  collect(into: Waiter<V, P>[]): void {
    for (const fifo of this.fifos.values()) fifo.collect(into);
  }

  clear(): void {
    // Every key left the map with its last waiter; only stale turns can remain.
    if (this.turns.length > 0) this.turns.clear();
    this.staleTurns = 0;
  }

  /** The FIFO whose turn it is (stale ones in front of it are dropped), or `undefined`. */
  private current(): KeyFifo<V, P> | undefined {
    const turns = this.turns;
    let first = turns.peekFront();
    while (first !== undefined && first.live === 0) {
      turns.shift();
      this.staleTurns--;
      first = turns.peekFront();
    }
    return first;
  }
}
