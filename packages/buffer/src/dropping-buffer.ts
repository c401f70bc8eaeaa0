import { checkFunction, checkOneOf, type OfferResult } from '@sluice/core';
import { DROPPING_BUFFER_KEYS, resolveBufferOptions, type DropStrategy, type DroppingBufferOptions } from './options.js';
import { RingBuffer } from './ring-buffer.js';

const STRATEGIES: readonly DropStrategy[] = ['drop-oldest', 'drop-newest', 'drop-random'];

/**
 * A FIFO buffer of at most `capacity` items that never refuses and never makes a producer wait:
 * when full it drops an item by its `strategy` and says so (`offer` answers `dropped`, and
 * `onDrop` hands over the dropped item — dropping is never silent).
 *
 * `drop-oldest` keeps the freshest items for a slow consumer (telemetry, UI updates, token
 * streams rendered at the screen's pace); `drop-newest` keeps what it has; `drop-random` spreads
 * the loss (pass a seeded `random` for reproducible runs).
 *
 * @example
 * ```ts
 * const latest = new DroppingBuffer<Frame>({ capacity: 3, strategy: 'drop-oldest' });
 * latest.onDrop((frame, reason) => metrics.increment('frames_dropped', { reason }));
 * latest.offer(frame); // 'ok', 'pause', or 'dropped' — never 'refused'
 * ```
 */
export class DroppingBuffer<T> extends RingBuffer<T> {
  /** The drop strategy. */
  readonly strategy: DropStrategy;
  private readonly random: () => number;

  /** @throws InvalidArgumentError for a bad capacity, water marks, strategy or random source. */
  constructor(options: DroppingBufferOptions) {
    const resolved = resolveBufferOptions('DroppingBuffer', options, DROPPING_BUFFER_KEYS, 'dropping-buffer');
    super(resolved);
    this.strategy = checkOneOf(resolved.name, 'strategy', options.strategy, STRATEGIES);
    checkFunction(resolved.name, 'random', options.random, true);
    this.random = options.random ?? Math.random;
  }

  /** Items dropped so far (the same as `stats().dropped`). */
  get droppedCount(): number {
    return this.droppedItems;
  }

  protected overflow(item: T): OfferResult {
    switch (this.strategy) {
      case 'drop-oldest': {
        const oldest = this.dropFront();
        this.append(item);
        this.dropped(oldest, 'oldest');
        return 'dropped';
      }
      case 'drop-newest':
        this.droppedIncoming++;
        this.dropped(item, 'newest');
        return 'dropped';
      case 'drop-random': {
        const victim = this.dropAt(this.random);
        this.append(item);
        this.dropped(victim, 'random');
        return 'dropped';
      }
    }
  }
}
