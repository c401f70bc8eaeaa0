import type { OfferResult } from '@sluice/core';
import { BOUNDED_BUFFER_KEYS, resolveBufferOptions, type BufferOptions } from './options.js';
import { RingBuffer } from './ring-buffer.js';

/**
 * A FIFO buffer of at most `capacity` items that refuses when full.
 *
 * - `offer(item)` answers at once: `ok`; `pause` once it has reached `highWaterMark` (held, but
 *   slow down — `onPause` fires once when it gets there); `refused` when full (the item stays
 *   the caller's). It throws a `ClosedError` after `end()`/`close()`.
 * - Once paused, draining to `lowWaterMark` fires `onResume` (once: hysteresis, not every item).
 * - `put` waits for room, `take` waits for an item, both with `signal` and `maxWaitMs`;
 *   `poll`/`peek` never wait; `for await (const item of buffer)` consumes until the buffer is
 *   closed, or ended and empty.
 * - `close()` returns what it still held: nothing is lost.
 *
 * Every operation is O(1) amortised; the ring gives its memory back as it drains.
 *
 * @example
 * ```ts
 * const buffer = new BoundedBuffer<string>({ capacity: 100 });
 * buffer.onPause(() => socket.pause());
 * buffer.onResume(() => socket.resume());
 * socket.on('data', (line) => {
 *   if (buffer.offer(line) === 'refused') socket.destroy(new Error('consumer too slow'));
 * });
 * for await (const line of buffer) await handle(line);
 * ```
 */
export class BoundedBuffer<T> extends RingBuffer<T> {
  /** @throws InvalidArgumentError for a capacity that is not a positive integer, or bad water marks. */
  constructor(options: BufferOptions) {
    super(resolveBufferOptions('BoundedBuffer', options, BOUNDED_BUFFER_KEYS, 'bounded-buffer'));
  }

  protected overflow(item: T, fromOffer: boolean): OfferResult {
    void item;
    if (fromOffer) this.refusedCount++;
    return 'refused';
  }
}
