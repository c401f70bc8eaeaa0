import { InvalidArgumentError, checkFunction, checkNumber, type GateMeterOptions } from '@sluice/core';

/** Options of a transform pair ({@link throttle}). */
export interface PairOptions<T> {
  /**
   * Queuing strategy of the writable side: how many chunks (or, with `size`, how many units of
   * `size(chunk)`) may wait to be written before `writer.ready` holds the writer back. Default
   * `{ highWaterMark: 1 }`, the writable side of a `new TransformStream()`. `highWaterMark` must
   * be a finite number ≥ 0.
   */
  readonly writableStrategy?: QueuingStrategy<T>;
  /**
   * Queuing strategy of the readable side: how many chunks (or units of `size(chunk)`) may be
   * held for a reader that has not asked yet. Default `{ highWaterMark: 0 }` (the readable side
   * of a `new TransformStream()`): a chunk moves on only when a reader is waiting, so nothing is
   * held ahead of a stalled reader. `highWaterMark` must be a finite number ≥ 0.
   */
  readonly readableStrategy?: QueuingStrategy<T>;
  /**
   * Aborting it errors both sides with `signal.reason`: the writer's pending write and the
   * reader's pending read reject, a pending gate request or buffer wait is withdrawn, and what
   * the stream held is given back. Default: none.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Options of {@link throttle}: the stream's strategies and signal, and how chunks pay the gate
 * (`cost`, `batch`, `priority`, `maxWaitMs`, as for a `GateMeter`). A chunk whose cost exceeds
 * the gate's capacity errors the stream with a `TooLargeError` (it could never pass); one that
 * waits longer than `maxWaitMs` errors it with a `WaitTimeoutError`.
 */
export interface ThrottleOptions<T> extends PairOptions<T>, GateMeterOptions<T> {}

/** Default writable strategy of a pair: that of `new TransformStream()`. */
export const DEFAULT_WRITABLE_STRATEGY: QueuingStrategy<unknown> = Object.freeze({ highWaterMark: 1 });
/** Default readable strategy of a pair: that of `new TransformStream()`. */
export const DEFAULT_READABLE_STRATEGY: QueuingStrategy<unknown> = Object.freeze({ highWaterMark: 0 });

/** Checks a queuing strategy and returns a frozen copy (or `fallback` when absent). Does not mutate. */
export function checkStrategy<T>(
  where: string,
  name: string,
  strategy: QueuingStrategy<T> | undefined,
  fallback: QueuingStrategy<unknown>,
): QueuingStrategy<T> {
  if (strategy === undefined) return fallback as QueuingStrategy<T>;
  if (typeof strategy !== 'object' || strategy === null) throw new InvalidArgumentError(where, name, 'a QueuingStrategy object', strategy);
  const highWaterMark = checkNumber(where, `${name}.highWaterMark`, strategy.highWaterMark ?? fallback.highWaterMark, { min: 0 });
  checkFunction(where, `${name}.size`, strategy.size, true);
  return Object.freeze(strategy.size === undefined ? { highWaterMark } : { highWaterMark, size: strategy.size });
}

/** Checks the options every pair takes; returns validated strategies. */
export function checkPairOptions<T>(
  where: string,
  options: PairOptions<T>,
): { writable: QueuingStrategy<T>; readable: QueuingStrategy<T>; signal: AbortSignal | undefined } {
  return {
    writable: checkStrategy(where, 'writableStrategy', options.writableStrategy, DEFAULT_WRITABLE_STRATEGY),
    readable: checkStrategy(where, 'readableStrategy', options.readableStrategy, DEFAULT_READABLE_STRATEGY),
    signal: checkSignal(where, options.signal),
  };
}

/** Checks an optional `signal` option. */
export function checkSignal(where: string, signal: unknown): AbortSignal | undefined {
  if (signal === undefined) return undefined;
  const s = signal as Partial<AbortSignal>;
  if (typeof signal !== 'object' || signal === null || typeof s.aborted !== 'boolean' || typeof s.addEventListener !== 'function') {
    throw new InvalidArgumentError(where, 'signal', 'an AbortSignal', signal);
  }
  return signal as AbortSignal;
}
