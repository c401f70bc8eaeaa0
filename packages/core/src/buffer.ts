import type { Disposer } from './events.js';
import type { WaitOptions } from './gate.js';

/**
 * The synchronous answer of {@link ItemBuffer.offer}:
 *
 * - `ok`: held;
 * - `pause`: held, but the buffer is at or above its high-water mark: slow down;
 * - `dropped`: the buffer made room by dropping an item (which one depends on its policy;
 *   it is reported through `onDrop`), or dropped the offered item itself;
 * - `refused`: the buffer is full (or closed) and the item was not taken.
 */
export type OfferResult = 'ok' | 'pause' | 'dropped' | 'refused';

/** Why an item was dropped. */
export type DropReason = 'oldest' | 'newest' | 'random' | 'evicted' | 'expired';

/** Listener of {@link ItemBuffer.onDrop}: the dropped item and why. */
export type DropListener<T> = (item: T, reason: DropReason) => void;

/** A snapshot of a buffer's counters. They only grow; `offered = taken + dropped + refused + held`. */
export interface BufferStats {
  /** Items held now. */
  readonly size: number;
  /** Most items it can hold. */
  readonly capacity: number;
  /** Items offered or put. */
  readonly offered: number;
  /** Items accepted (held at least once). */
  readonly accepted: number;
  /** Items dropped by the overflow policy. */
  readonly dropped: number;
  /** Items refused (full or closed). */
  readonly refused: number;
  /** Items taken out by a consumer. */
  readonly taken: number;
}

/**
 * The holding contract (the data plane): items wait between a producer and a consumer in a
 * buffer that is always bounded. It says `ok`, `pause` (slow down) or `refused`/`dropped` at the
 * limit, and `onResume` once it drains to its low-water mark. Implemented by the bounded,
 * dropping and priority buffers of `@sluice/buffer`.
 *
 * Named `ItemBuffer` rather than `Buffer` so it never shadows Node's global `Buffer`.
 *
 * @example
 * ```ts
 * if (buffer.offer(event) === 'pause') producer.pause();
 * buffer.onResume(() => producer.resume());
 * for await (const event of buffer) handle(event);
 * ```
 */
export interface ItemBuffer<T> extends AsyncIterable<T> {
  /** Items held now. */
  readonly size: number;
  /** Most items it can hold. */
  readonly capacity: number;
  /** 0 when empty, 1 at capacity. */
  readonly pressure: number;
  /** Offers an item without waiting; see {@link OfferResult}. */
  offer(item: T): OfferResult;
  /** Takes the front item without waiting, or `undefined` when empty. */
  poll(): T | undefined;
  /** Waits for room, then holds `item`. Rejects when aborted, timed out or closed. */
  put(item: T, options?: WaitOptions): Promise<void>;
  /** Waits for an item and takes it. Rejects when aborted, timed out, or closed and empty. */
  take(options?: WaitOptions): Promise<T>;
  /** Fires when the buffer reaches its high-water mark (slow down). */
  onPause(listener: () => void): Disposer;
  /** Fires when the buffer drains to its low-water mark after a pause (go on). */
  onResume(listener: () => void): Disposer;
  /** Fires for every dropped item, with the item: dropping is never silent. */
  onDrop(listener: DropListener<T>): Disposer;
  /** A snapshot of its counters. */
  stats(): BufferStats;
  /**
   * Refuses new items, rejects every waiting `put`/`take`, and returns the items still held
   * (nothing is lost). Async iteration ends once the returned items are handled elsewhere.
   */
  close(): T[];
}
