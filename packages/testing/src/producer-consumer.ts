import { checkNumber, checkOneOf, checkOptions, optionKeys, type ItemBuffer } from '@sluice/core';
import { createRandom } from './random.js';
import { summarize, type Summary } from './simulation.js';
import type { VirtualClock } from './virtual-clock.js';

/** Options of {@link simulateProducerConsumer}. */
export interface ProducerConsumerOptions {
  /** The virtual clock everything runs on (the buffer must use it too). */
  readonly clock: VirtualClock;
  /** The buffer between them. */
  readonly buffer: ItemBuffer<number>;
  /** Seed of the arrival and service randomness; default 1. */
  readonly seed?: number;
  /** How long the producer runs, in virtual ms. */
  readonly durationMs: number;
  /** Mean items the producer offers per second (Poisson). */
  readonly producePerSecond: number;
  /** Mean items the consumer takes per second (exponential service times). */
  readonly consumePerSecond: number;
  /**
   * How the producer reacts to backpressure: `ignore` keeps offering; `respect` stops offering
   * between `onPause` and `onResume` (what a well-behaved producer does). Default `respect`.
   */
  readonly producer?: 'ignore' | 'respect';
}

/** What {@link simulateProducerConsumer} measured. */
export interface ProducerConsumerResult {
  /** Items the producer generated (offered, or held back while paused). */
  readonly produced: number;
  /** Items held back (not offered) while the buffer was paused. */
  readonly heldBack: number;
  /** Answers of `offer`, by kind. */
  readonly answers: Readonly<Record<'ok' | 'pause' | 'dropped' | 'refused', number>>;
  /** Items the consumer took. */
  readonly consumed: number;
  /** Items dropped, as reported through `onDrop`. */
  readonly droppedReported: number;
  /** `onPause` events. */
  readonly pauses: number;
  /** `onResume` events. */
  readonly resumes: number;
  /** Largest `size` seen after an offer. */
  readonly maxSize: number;
  /** Time each consumed item spent in the buffer, in ms. */
  readonly wait: Summary;
  /** Items still held at the end. */
  readonly held: number;
}

const PRODUCER_CONSUMER_KEYS = optionKeys<ProducerConsumerOptions>()({
  clock: true,
  buffer: true,
  seed: true,
  durationMs: true,
  producePerSecond: true,
  consumePerSecond: true,
  producer: true,
});

/**
 * A seeded producer and consumer in virtual time around `buffer`: Poisson arrivals at
 * `producePerSecond`, a consumer taking items at `consumePerSecond` (exponential service), for
 * `durationMs`. Reports what the buffer answered and how long items waited; checks nothing
 * itself, so tests assert what the buffer's policy promises.
 *
 * Items are the numbers 0, 1, 2… in production order, so order and loss are easy to check.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const buffer = new DroppingBuffer<number>({ capacity: 10, strategy: 'drop-oldest', clock });
 * const result = await simulateProducerConsumer({ clock, buffer, durationMs: 60_000, producePerSecond: 200, consumePerSecond: 100 });
 * result.consumed + result.droppedReported + result.held; // === everything offered
 * ```
 */
export async function simulateProducerConsumer(options: ProducerConsumerOptions): Promise<ProducerConsumerResult> {
  const o = checkOptions('simulateProducerConsumer', options, PRODUCER_CONSUMER_KEYS);
  const { clock, buffer } = options;
  const durationMs = checkNumber('simulateProducerConsumer', 'durationMs', o.durationMs, { min: 0 });
  const producePerSecond = checkNumber('simulateProducerConsumer', 'producePerSecond', o.producePerSecond, { min: 0, exclusiveMin: true });
  const consumePerSecond = checkNumber('simulateProducerConsumer', 'consumePerSecond', o.consumePerSecond, { min: 0, exclusiveMin: true });
  const respect = checkOneOf('simulateProducerConsumer', 'producer', o.producer ?? 'respect', ['ignore', 'respect']) === 'respect';
  const random = createRandom(checkNumber('simulateProducerConsumer', 'seed', o.seed ?? 1, { integer: true }));

  const answers = { ok: 0, pause: 0, dropped: 0, refused: 0 };
  const enteredAt = new Map<number, number>();
  const waits: number[] = [];
  let produced = 0;
  let heldBack = 0;
  let consumed = 0;
  let droppedReported = 0;
  let pauses = 0;
  let resumes = 0;
  let maxSize = 0;
  let paused = false;
  const end = clock.now() + durationMs;

  const offPause = buffer.onPause(() => {
    pauses++;
    paused = true;
  });
  const offResume = buffer.onResume(() => {
    resumes++;
    paused = false;
  });
  const offDrop = buffer.onDrop((item) => {
    droppedReported++;
    enteredAt.delete(item);
  });

  const produce = (): void => {
    const item = produced++;
    if (respect && paused) {
      heldBack++;
    } else {
      enteredAt.set(item, clock.now());
      const answer = buffer.offer(item);
      answers[answer]++;
      if (answer === 'refused') enteredAt.delete(item);
      maxSize = Math.max(maxSize, buffer.size);
    }
    const gap = random.exponential(1000 / producePerSecond);
    if (clock.now() + gap < end) clock.setTimer(produce, gap);
  };
  const consume = (): void => {
    const item = buffer.poll();
    if (item !== undefined) {
      consumed++;
      const at = enteredAt.get(item);
      if (at !== undefined) waits.push(clock.now() - at);
      enteredAt.delete(item);
    }
    const gap = random.exponential(1000 / consumePerSecond);
    if (clock.now() + gap < end) clock.setTimer(consume, gap);
  };

  clock.setTimer(produce, random.exponential(1000 / producePerSecond));
  clock.setTimer(consume, random.exponential(1000 / consumePerSecond));
  await clock.advance(durationMs);
  offPause();
  offResume();
  offDrop();
  return { produced, heldBack, answers, consumed, droppedReported, pauses, resumes, maxSize, wait: summarize(waits), held: buffer.size };
}
