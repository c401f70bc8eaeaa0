import { InvalidArgumentError, TooLargeError } from './errors.js';
import type { AcquireOptions, FairnessKey, TryAcquireOptions } from './gate.js';

/** The accepted range of a numeric option, for {@link checkNumber}. */
export interface NumberRange {
  /** Smallest accepted value (inclusive unless `exclusiveMin`). Default: no lower bound. */
  readonly min?: number;
  /** Makes `min` exclusive: the value must be strictly greater. */
  readonly exclusiveMin?: boolean;
  /** Largest accepted value (inclusive). Default: no upper bound. */
  readonly max?: number;
  /** Require an integer. */
  readonly integer?: boolean;
  /** Accept `Infinity` (never NaN). Default `false`. */
  readonly allowInfinity?: boolean;
}

function describeRange(range: NumberRange): string {
  const kind = range.integer === true ? 'integer' : 'number';
  const parts = [range.allowInfinity === true ? `${kind === 'integer' ? 'an' : 'a'} ${kind}` : `a finite ${kind}`];
  if (range.min !== undefined) parts.push(`${range.exclusiveMin === true ? '>' : '≥'} ${range.min}`);
  if (range.max !== undefined) parts.push(`≤ ${range.max}`);
  if (range.allowInfinity === true) parts.push('or Infinity');
  return parts.join(' ');
}

/**
 * Checks a numeric option at a public boundary and returns it. Throws an
 * {@link InvalidArgumentError} whose message names the component, the option, the accepted
 * range, and the value received with its type.
 *
 * @param where - the component, e.g. `TokenBucket` or `TokenBucket("api")`.
 * @param name - the option or argument name, e.g. `ratePerSecond`.
 *
 * @example
 * ```ts
 * const rate = checkNumber('TokenBucket', 'ratePerSecond', options.ratePerSecond, { min: 0, exclusiveMin: true });
 * // TokenBucket: ratePerSecond must be a finite number > 0; received NaN (number)
 * ```
 */
export function checkNumber(where: string, name: string, value: unknown, range: NumberRange = {}): number {
  if (
    typeof value !== 'number' ||
    Number.isNaN(value) ||
    (!Number.isFinite(value) && !(range.allowInfinity === true && value === Infinity)) ||
    (range.integer === true && Number.isFinite(value) && !Number.isInteger(value)) ||
    (range.min !== undefined && (range.exclusiveMin === true ? value <= range.min : value < range.min)) ||
    (range.max !== undefined && value > range.max)
  ) {
    throw new InvalidArgumentError(where, name, describeRange(range), value);
  }
  return value;
}

/** Like {@link checkNumber}, but returns `fallback` when `value` is `undefined`. */
export function optionalNumber(
  where: string,
  name: string,
  value: unknown,
  fallback: number,
  range: NumberRange = {},
): number {
  return value === undefined ? fallback : checkNumber(where, name, value, range);
}

/** Checks that `value` is one of `allowed` and returns it. */
export function checkOneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(where, name, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`, value);
  }
  return value as T;
}

/** Checks that `value` is a function (or `undefined` when `optional`). */
export function checkFunction(where: string, name: string, value: unknown, optional = false): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'function') {
    throw new InvalidArgumentError(where, name, optional ? 'a function or undefined' : 'a function', value);
  }
}

/** Checks that an options argument is a plain object (or `undefined`) and returns it as an object. */
export function checkOptions<T extends object>(where: string, options: T | undefined): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(where, 'options', 'an object', options);
  }
  return options;
}

/** Checks a component name option and returns it (or `fallback` when absent). */
export function checkName(where: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidArgumentError(where, 'name', 'a non-empty string', value);
  }
  return value;
}

/**
 * The boundary check of every acquisition: `count` must be an integer from 0 to `capacity`.
 * Cheap on purpose (two comparisons for a valid count): it runs on every `tryAcquire`.
 *
 * @throws InvalidArgumentError for a non-integer, negative or NaN count.
 * @throws TooLargeError naming both numbers when `count > capacity`.
 */
export function checkCount(count: number, capacity: number, gate: string): void {
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError(gate, 'count', 'an integer ≥ 0', count);
  }
  if (count > capacity) throw new TooLargeError(gate, count, capacity);
}

function isAbortSignal(value: unknown): value is AbortSignal {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AbortSignal).aborted === 'boolean' &&
    typeof (value as AbortSignal).addEventListener === 'function' &&
    typeof (value as AbortSignal).removeEventListener === 'function'
  );
}

/**
 * Checks the options of a wait (`signal`, `maxWaitMs`, `priority`, `key`). Does not look at
 * whether the signal is already aborted: the caller rejects with `signal.reason` in that case.
 *
 * @throws InvalidArgumentError naming the bad option.
 */
export function checkAcquireOptions(gate: string, options: AcquireOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(gate, 'options', 'an object', options);
  }
  const { signal, maxWaitMs, priority, key } = options;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidArgumentError(gate, 'signal', 'an AbortSignal', signal);
  }
  if (maxWaitMs !== undefined && !(typeof maxWaitMs === 'number' && maxWaitMs >= 0)) {
    throw new InvalidArgumentError(gate, 'maxWaitMs', 'a number ≥ 0 (ms) or Infinity', maxWaitMs);
  }
  if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) {
    throw new InvalidArgumentError(gate, 'priority', 'a finite number', priority);
  }
  if (key !== undefined) checkKey(gate, 'key', key);
}

/**
 * Checks a fairness key (`AcquireOptions.key`, or what a `fairBy` function returned) and returns
 * it: a string or a number other than NaN.
 *
 * @throws InvalidArgumentError naming `name` for any other value.
 */
export function checkKey(gate: string, name: string, key: unknown): FairnessKey {
  if (typeof key === 'string' || (typeof key === 'number' && !Number.isNaN(key))) return key;
  throw new InvalidArgumentError(gate, name, 'a string or a number (not NaN)', key);
}

/** Checks the options of a `tryAcquire` (`priority`). */
export function checkTryAcquireOptions(gate: string, options: TryAcquireOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError(gate, 'options', 'an object', options);
  }
  if (options.priority !== undefined && !(typeof options.priority === 'number' && Number.isFinite(options.priority))) {
    throw new InvalidArgumentError(gate, 'priority', 'a finite number', options.priority);
  }
}
