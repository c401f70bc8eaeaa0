import { GateMeter, optionKeys, checkOptions, type Gate, checkGate } from '@sluice/core';
import { checkPairOptions, type ThrottleOptions } from './options.js';
import { StreamPair, type Stage } from './pair.js';
import type { TransformPair } from './transform-pair.js';

/** Passes chunks on through a meter, waiting for the reader like a native `TransformStream`. */
class ThrottleStage<T> implements Stage<T, T> {
  pair: StreamPair<T, T> | undefined = undefined;
  /**
   * True while the readable side wants nothing: its queue is at its high-water mark, or (the
   * default, high-water mark 0) no reader is waiting. A write then waits for the next pull.
   */
  private backpressure = true;
  private resume: (() => void) | undefined = undefined;
  private readonly deliver = (chunk: T): void => {
    const out = (this.pair as StreamPair<T, T>).controller;
    out.enqueue(chunk);
    if ((out.desiredSize ?? 0) <= 0) this.backpressure = true;
  };
  private readonly passOn = (chunk: T): void | Promise<void> => this.meter.pass(chunk, this.deliver);

  constructor(private readonly meter: GateMeter<T>) {}

  write(chunk: T): void | Promise<void> {
    if (this.backpressure) {
      return new Promise<void>((resolve) => {
        this.resume = resolve;
      }).then(() => this.passOn(chunk));
    }
    return this.passOn(chunk);
  }

  pull(): void {
    this.backpressure = false;
    this.wake();
  }

  close(): void {
    this.meter.close();
    this.pair?.end();
  }

  stop(reason: unknown): void {
    this.meter.stop(reason);
    // Why: a write waiting for a reader must settle, or the writable side would never finish erroring.
    this.wake();
  }

  private wake(): void {
    const resume = this.resume;
    if (resume === undefined) return;
    this.resume = undefined;
    resume();
  }
}

const THROTTLE_KEYS = optionKeys<ThrottleOptions<never>>()({
  writableStrategy: true,
  readableStrategy: true,
  signal: true,
  cost: true,
  batch: true,
  priority: true,
  maxWaitMs: true,
});

/**
 * A transform stream that passes each chunk on only once `gate` grants the chunk's cost (1 per
 * chunk, or bytes, tokens… through `cost`), keeping order: a slow gate — a token rate, a
 * concurrency limit, a paused LLM quota — becomes backpressure that reaches the source, instead
 * of a growing queue. Runs wherever Web Streams do (browsers, edge runtimes, Node, Deno, Bun).
 *
 * - **Backpressure.** With the default strategies (those of `new TransformStream()`: writable
 *   high-water mark 1, readable 0) the stream holds at most one chunk: the one being written.
 *   A chunk asks the gate only when a reader is waiting for it, so a stalled reader stalls the
 *   gate requests too.
 * - **Permits.** Each chunk's permit is released (without an outcome) right after the chunk is
 *   enqueued on the readable side: the gate meters passage, it does not hold a slot while the
 *   reader works. With `batch`, one permit pays for several chunks (see
 *   {@link ThrottleOptions.batch}). Every permit is released exactly once, whatever happens.
 * - **Cancel and abort, both ways.** Cancelling the readable side errors the writable side with
 *   the reason (a pipe into it then cancels its source with that reason); aborting the writable
 *   side (`writer.abort()`, a pipe whose source errored or whose `signal` aborted) errors the
 *   readable side at once — even while a chunk waits for the gate, whose request is then
 *   withdrawn (a native `TransformStream` would wait for the pending transform first, which a
 *   stalled gate never finishes). A gate refusal (`WaitTimeoutError`, `ClosedError`, …) errors
 *   both sides.
 *
 * It is a {@link TransformPair} (what `pipeThrough` takes), not an `instanceof TransformStream`.
 *
 * @param gate - any sluice gate: `TokenBucket`, `ConcurrencyLimiter`, `LlmLimiter`, a pipeline…
 * @throws InvalidArgumentError for a value that is not a gate, or a bad option.
 *
 * @example
 * ```ts
 * // at most 50 model tokens per second to the client, however fast the model writes
 * const paced = modelStream.pipeThrough(throttle(new TokenBucket({ ratePerSecond: 50, burst: 50 }), { cost: (t: string) => countTokens(t) }));
 * ```
 */
export function throttle<T = unknown>(gate: Gate, options: ThrottleOptions<T> = {}): TransformPair<T> {
  checkGate('throttle', gate);
  checkOptions<ThrottleOptions<never>>('throttle', options, THROTTLE_KEYS);
  const o = options;
  const strategies = checkPairOptions('throttle', o);
  const stage = new ThrottleStage<T>(
    new GateMeter<T>('throttle', gate, { cost: o.cost, batch: o.batch, priority: o.priority, maxWaitMs: o.maxWaitMs }),
  );
  const pair = new StreamPair<T, T>(stage, strategies.writable, strategies.readable, strategies.signal);
  stage.pair = pair;
  return { readable: pair.readable, writable: pair.writable };
}
