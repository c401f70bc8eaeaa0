import { InvalidArgumentError, checkName, checkNumber, checkOptions, optionKeys, type Clock, type OptionKeys } from '@sluice/core';

/** Options every buffer takes. */
export interface BufferOptions {
  /** Most items held at once. Required: a positive integer. */
  readonly capacity: number;
  /**
   * At or above this many items the buffer is paused: `offer` answers `pause` and `onPause`
   * fires once. Default: 80 % of `capacity`, rounded up. Must be ≤ `capacity`.
   */
  readonly highWaterMark?: number;
  /**
   * Once paused, draining to this many items resumes: `onResume` fires once. Default: 20 % of
   * `capacity`, rounded down. Must be < `highWaterMark`.
   */
  readonly lowWaterMark?: number;
  /** Most `put` calls that may wait for room at once; default `capacity`. */
  readonly maxPendingPuts?: number;
  /** Most `take` calls that may wait for an item at once; default 1,024. */
  readonly maxPendingTakes?: number;
  /** Name used in errors and metrics; default the buffer kind, e.g. `"bounded-buffer"`. */
  readonly name?: string;
  /** Time source for `maxWaitMs` and wait-time tracking; default `systemClock`. */
  readonly clock?: Clock;
}

/** What a buffer does when it is full. */
export type DropStrategy = 'drop-oldest' | 'drop-newest' | 'drop-random';

/** Options of `DroppingBuffer`. */
export interface DroppingBufferOptions extends BufferOptions {
  /**
   * Which item goes when the buffer is full. Required.
   * - `drop-oldest` (sliding window): the front item is dropped and the new one appended; a slow
   *   consumer always sees the freshest `capacity` items.
   * - `drop-newest`: the offered item itself is dropped; what is held stays as it was.
   * - `drop-random`: a random held item is dropped and the new one appended (order of the rest
   *   is kept).
   */
  readonly strategy: DropStrategy;
  /**
   * Source of randomness for `drop-random`, returning floats in [0, 1). Default `Math.random`;
   * pass a seeded source (e.g. `createRandom(seed).next` from `@sluice/testing`) for
   * reproducible runs.
   */
  readonly random?: () => number;
}

/** What a priority buffer does when it is full. */
export type PriorityOverflow = 'refuse' | 'evict-lowest';

/** Options of `PriorityBuffer`. */
export interface PriorityBufferOptions<T> extends BufferOptions {
  /** Number of priority levels: priorities are the integers 0 … `levels − 1`, larger served first. Required (1 to 64). */
  readonly levels: number;
  /** Priority of an item offered without one; default 0 (the lowest). */
  readonly defaultPriority?: number;
  /** Derives an item's priority when `offer`/`put` are not given one; default: `defaultPriority`. */
  readonly priorityOf?: (item: T) => number;
  /**
   * When full: `refuse` the newcomer (default), or `evict-lowest`: drop the newest item of the
   * lowest non-empty priority, if it is below the newcomer's, and report it through `onDrop`.
   */
  readonly whenFull?: PriorityOverflow;
  /**
   * Anti-starvation: an item that has waited this long (ms) is served before newer items of any
   * priority, oldest first. Default: none (strict priority, and no clock read per offer). The
   * right bound depends on the application, so it has no hidden default.
   */
  readonly maxStarvationMs?: number;
}

/** Validated common options, with defaults filled in (what `resolveBufferOptions` returns). */
export interface ResolvedBufferOptions {
  /** Name used in errors and metrics. */
  readonly name: string;
  /** Most items held. */
  readonly capacity: number;
  /** Pause at or above this many items. */
  readonly highWaterMark: number;
  /** Resume at or below this many items, after a pause. */
  readonly lowWaterMark: number;
  /** Producers that may wait in `put`. */
  readonly maxPendingPuts: number;
  /** Consumers that may wait in `take`. */
  readonly maxPendingTakes: number;
  /** Time source, or `undefined` for `systemClock`. */
  readonly clock: Clock | undefined;
}

/** Every key of `BufferOptions`, spread into the key records of the buffer kinds. */
const COMMON_KEYS = {
  capacity: true,
  highWaterMark: true,
  lowWaterMark: true,
  maxPendingPuts: true,
  maxPendingTakes: true,
  name: true,
  clock: true,
} as const satisfies { readonly [K in keyof BufferOptions]-?: true };

/** The keys of `BufferOptions`, for `resolveBufferOptions`. */
export const BOUNDED_BUFFER_KEYS = optionKeys<BufferOptions>()(COMMON_KEYS);

/** The keys of `DroppingBufferOptions`, for `resolveBufferOptions`. */
export const DROPPING_BUFFER_KEYS = optionKeys<DroppingBufferOptions>()({ ...COMMON_KEYS, strategy: true, random: true });

/** The keys of `PriorityBufferOptions`, for `resolveBufferOptions`. */
export const PRIORITY_BUFFER_KEYS = optionKeys<PriorityBufferOptions<never>>()({
  ...COMMON_KEYS,
  levels: true,
  defaultPriority: true,
  priorityOf: true,
  whenFull: true,
  maxStarvationMs: true,
});

/** Default of {@link BufferOptions.maxPendingTakes}. */
export const DEFAULT_MAX_PENDING_TAKES = 1_024;

/**
 * Checks the common options and fills in defaults. Throws an `InvalidArgumentError` naming the
 * option, the accepted range and the value, or a key that `keys` (the buffer kind's own option
 * keys, made once by `optionKeys`) does not have.
 */
export function resolveBufferOptions<O extends BufferOptions>(
  where: string,
  options: O,
  keys: OptionKeys<NoInfer<O>>,
  fallbackName: string,
): ResolvedBufferOptions {
  const o: Partial<BufferOptions> = checkOptions(where, options, keys);
  const name = checkName(where, o.name, fallbackName);
  const capacity = checkNumber(name, 'capacity', o.capacity, { min: 1, integer: true });
  const highWaterMark = checkNumber(name, 'highWaterMark', o.highWaterMark ?? Math.max(1, Math.ceil(capacity * 0.8)), {
    min: 1,
    max: capacity,
    integer: true,
  });
  const lowWaterMark = checkNumber(name, 'lowWaterMark', o.lowWaterMark ?? Math.min(Math.floor(capacity * 0.2), highWaterMark - 1), {
    min: 0,
    integer: true,
  });
  if (lowWaterMark >= highWaterMark) {
    throw new InvalidArgumentError(name, 'lowWaterMark', `an integer < highWaterMark (${highWaterMark})`, lowWaterMark);
  }
  const maxPendingPuts = checkNumber(name, 'maxPendingPuts', o.maxPendingPuts ?? capacity, { min: 0, integer: true });
  const maxPendingTakes = checkNumber(name, 'maxPendingTakes', o.maxPendingTakes ?? DEFAULT_MAX_PENDING_TAKES, {
    min: 0,
    integer: true,
  });
  return { name, capacity, highWaterMark, lowWaterMark, maxPendingPuts, maxPendingTakes, clock: o.clock };
}
