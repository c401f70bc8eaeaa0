import { InvalidArgumentError, TooLargeError } from './errors.js';
import type { ItemBuffer } from './buffer.js';
import type { Clock } from './clock.js';
import {
  NOT_RUN,
  type AcquireOptions,
  type FairnessKey,
  type Gate,
  type Outcome,
  type TokenUsage,
  type TryAcquireOptions,
} from './gate.js';

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
export function optionalNumber(where: string, name: string, value: unknown, fallback: number, range: NumberRange = {}): number {
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

/**
 * The keys an options type `T` has, as a set made once (at module level) by {@link optionKeys}
 * and handed to {@link checkOptions} at every construction. Invariant in `keyof T`: the keys of
 * an options type with other keys cannot be passed for `T` (those of `Options<Gate>` can be for
 * `Options<G>`: they have the same keys).
 */
export interface OptionKeys<T> {
  /** Every key of `T`, in declaration order. */
  readonly names: readonly string[];
  /** Does not hold anything; ties the set to the keys of `T` for the type checker. */
  readonly type?: (key: keyof T) => keyof T;
  /** True when `key` is one of {@link OptionKeys.names}. */
  has(key: string): boolean;
}

/**
 * Lists the keys of an options type once, so that {@link checkOptions} can refuse unknown ones.
 * Curried so that `T` is given and the record is checked against it: the record must name
 * exactly every key of `T` (a missing or an extra key is a compile error), so the list cannot
 * drift from the type. Call it at module level, not per construction.
 *
 * @example
 * ```ts
 * const TOKEN_BUCKET_KEYS = optionKeys<TokenBucketOptions>()({
 *   name: true, clock: true, queueLimit: true, maxStarvationMs: true,
 *   ratePerSecond: true, burst: true, initialTokens: true,
 * });
 * const o = checkOptions('TokenBucket', options, TOKEN_BUCKET_KEYS);
 * ```
 */
export function optionKeys<T extends object>(): (record: { readonly [K in keyof T]-?: true }) => OptionKeys<T> {
  return (record) => {
    const names = Object.freeze(Object.keys(record));
    const set = new Set(names);
    return Object.freeze({ names, has: (key: string) => set.has(key) });
  };
}

/** Edit distance between `a` and `b` (optimal string alignment: a swap of neighbours is one edit). */
function editDistance(a: string, b: string): number {
  // three rolling rows instead of a matrix: keys are short, but allocate little anyway
  let before = new Array<number>(b.length + 1).fill(0);
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1);
      let best = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, (before[j - 2] as number) + 1);
      }
      current[j] = best;
    }
    [before, previous, current] = [previous, current, before];
  }
  return previous[b.length] as number;
}

/** Whether `distance` edits between two names of these lengths sharing `prefix` leading letters is close. */
function isClose(distance: number, keyLength: number, candidateLength: number, prefix: number): boolean {
  const longer = Math.max(keyLength, candidateLength);
  // a typo: up to a third of the name wrong
  if (distance <= Math.max(1, Math.floor(longer / 3))) return true;
  // a wrong word after a right one (ratePerMinute → ratePerSecond, batchSize → batch): up to
  // half the name, when the names start alike
  return distance <= Math.floor(longer / 2) && prefix >= Math.min(3, keyLength, candidateLength);
}

function commonPrefix(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/**
 * The candidate `key` was most likely meant to be, or `undefined` when none is close. Letter
 * case does not count (`ratepersecond` → `ratePerSecond`). Otherwise a candidate is close when
 * its edit distance (insertions, deletions, substitutions, swaps of neighbours) is at most a
 * third of the longer name (at least 1), or at most half of it when both names start with the
 * same three letters (or the whole of the shorter one); the closest such candidate wins, and only
 * if no other is as close. Does not mutate its arguments.
 *
 * @example
 * ```ts
 * closestKey('ratePerMinute', ['ratePerSecond', 'burst']); // 'ratePerSecond'
 * closestKey('brust', ['ratePerSecond', 'burst']);         // 'burst'
 * closestKey('colour', ['ratePerSecond', 'burst']);        // undefined
 * ```
 */
export function closestKey(key: string, candidates: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  let tied = false;
  for (const candidate of candidates) {
    const other = candidate.toLowerCase();
    const distance = editDistance(lower, other);
    if (!isClose(distance, key.length, candidate.length, commonPrefix(lower, other))) continue;
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
      tied = false;
    } else if (distance === bestDistance) {
      tied = true;
    }
  }
  return tied ? undefined : best;
}

/**
 * The error for a key that `known` does not have: an {@link InvalidArgumentError} whose
 * `argument` is the key and whose message is
 * `${where}: unknown ${noun} "${key}"; did you mean "${suggestion}"?` (without the question when
 * no known key is close; see {@link closestKey}).
 *
 * @param noun - what the keys are, default `option`; `path` is put before the key and the
 *   suggestion (`fairness.` gives `unknown option "fairness.fairby"; did you mean "fairness.fairBy"?`).
 */
export function unknownOptionError(
  where: string,
  key: string,
  known: readonly string[],
  received: unknown,
  noun = 'option',
  path = '',
): InvalidArgumentError {
  const suggestion = closestKey(key, known);
  const hint = suggestion === undefined ? '' : `; did you mean "${path}${suggestion}"?`;
  const expected = `a known ${noun} (${known.map((k) => `"${path}${k}"`).join(', ')})`;
  return new InvalidArgumentError(where, `${path}${key}`, expected, received, `${where}: unknown ${noun} "${path}${key}"${hint}`);
}

/**
 * Checks that an options argument is a plain object (or `undefined`) whose every key is one of
 * `keys`, and returns it. A known key set to `undefined` is accepted like an absent one. Meant
 * for construction: it walks the object's enumerable keys once.
 *
 * @param keys - the options type's keys, made once by {@link optionKeys}.
 * @param path - put before a key in the message, for options nested in another (`fairness.`).
 * @throws InvalidArgumentError when `options` is not an object, or for the first unknown key
 *   (`TokenBucket: unknown option "ratePerMinute"; did you mean "ratePerSecond"?`).
 */
export function checkOptions<T extends object>(where: string, options: T | undefined, keys: OptionKeys<NoInfer<T>>, path = ''): Partial<T> {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(where, path === '' ? 'options' : path.slice(0, -1), 'an object', options);
  }
  // for-in, not Object.keys: no array allocated (an LLM request is checked per acquisition),
  // and an inherited key is read like an own one, so it is checked like one
  for (const key in options) {
    if (!keys.has(key)) throw unknownOptionError(where, key, keys.names, (options as Record<string, unknown>)[key], 'option', path);
  }
  return options;
}

const OUTCOME_KEYS = optionKeys<Outcome>()({ ok: true, durationMs: true, cost: true, usage: true, error: true });
const USAGE_KEYS = optionKeys<TokenUsage>()({ inputTokens: true, outputTokens: true, totalTokens: true });

/**
 * `OUTCOME_KEYS.has(key)` as a switch: on the release hot path a string switch is a few pointer
 * comparisons, a set lookup is three times slower. A key added to `Outcome` and not listed here
 * fails to compile (the `never` below).
 */
function isOutcomeKey(key: string): boolean {
  const k = key as keyof Outcome;
  switch (k) {
    case 'ok':
    case 'durationMs':
    case 'cost':
    case 'usage':
    case 'error':
      return true;
    default: {
      const unlisted: never = k;
      void unlisted;
      return false;
    }
  }
}

/** A finite number ≥ 0 (NaN, negatives, Infinity and non-numbers are not). */
function isAmount(value: unknown): boolean {
  return typeof value === 'number' && value >= 0 && value !== Infinity;
}

function checkAmount(gate: string, name: string, value: unknown): void {
  if (value !== undefined && !isAmount(value)) {
    throw new InvalidArgumentError(gate, name, 'a finite number ≥ 0 or undefined', value);
  }
}

/**
 * The outcome `run` releases its permit with: `{ ok, durationMs }`, and `error` when `fn` threw.
 * Built only by the library's own `run` paths from values it measured, so {@link checkOutcome}
 * accepts it with one `instanceof` instead of walking its keys (a pipeline passes it to every
 * stage). It is a plain {@link Outcome} to everyone else; a gate that implements `run` itself
 * may release with it too.
 */
export class RunOutcome implements Outcome {
  readonly ok: boolean;
  readonly durationMs: number;
  readonly error: unknown;
  constructor(ok: boolean, durationMs: number, error?: unknown) {
    this.ok = ok;
    this.durationMs = durationMs;
    this.error = error;
  }
}

/** The slow half of {@link checkOutcome}: finds what is wrong and throws, or checks `usage`. */
function checkOutcomeFields(gate: string, outcome: unknown): void {
  if (typeof outcome !== 'object' || outcome === null || Array.isArray(outcome)) {
    throw new InvalidArgumentError(gate, 'outcome', 'an outcome object ({ ok, durationMs, cost, usage, error }) or undefined', outcome);
  }
  const o = outcome as Record<string, unknown>;
  for (const key in o) {
    if (!OUTCOME_KEYS.has(key)) throw unknownOptionError(gate, key, OUTCOME_KEYS.names, o[key], 'outcome key');
  }
  if (o.ok !== undefined && typeof o.ok !== 'boolean') {
    throw new InvalidArgumentError(gate, 'outcome.ok', 'true, false or undefined', o.ok);
  }
  checkAmount(gate, 'outcome.durationMs', o.durationMs);
  checkAmount(gate, 'outcome.cost', o.cost);
  const usage = o.usage;
  if (usage === undefined) return;
  if (typeof usage !== 'object' || usage === null || Array.isArray(usage)) {
    throw new InvalidArgumentError(gate, 'outcome.usage', 'an object ({ inputTokens, outputTokens, totalTokens }) or undefined', usage);
  }
  const u = usage as Record<string, unknown>;
  for (const key in u) {
    if (!USAGE_KEYS.has(key)) throw unknownOptionError(gate, key, USAGE_KEYS.names, u[key], 'usage key', 'outcome.usage.');
  }
  checkAmount(gate, 'outcome.usage.inputTokens', u.inputTokens);
  checkAmount(gate, 'outcome.usage.outputTokens', u.outputTokens);
  checkAmount(gate, 'outcome.usage.totalTokens', u.totalTokens);
}

/**
 * The boundary check of every `permit.release(outcome)`: `undefined`, {@link NOT_RUN}, or an
 * object with only the keys of {@link Outcome} — `ok` a boolean, `durationMs` and `cost` finite
 * numbers ≥ 0, `usage` an object of finite token counts ≥ 0 (each field may be `undefined`).
 * Cheap for the common shapes (`undefined`, `NOT_RUN`, `{ ok }`, `{ ok, durationMs, error }`):
 * a few comparisons and one pass over the keys. Call it before touching any state, so a permit
 * released with a bad outcome keeps its budget and can still be released with a good one.
 *
 * @param gate - the permit's gate, for the message.
 * @throws InvalidArgumentError naming the bad field (`outcome.durationMs`), or for an unknown key
 *   (`TokenBucket: unknown outcome key "sucess"`).
 */
export function checkOutcome(gate: string, outcome: unknown): void {
  if (outcome === undefined || outcome === NOT_RUN || outcome instanceof RunOutcome) return;
  // the usual shapes ({ ok }, { ok, durationMs }, { ok, durationMs, error }, { cost }): known
  // keys, well-formed values, no usage; anything else goes to the slow path, which names it
  if (typeof outcome === 'object' && outcome !== null && !Array.isArray(outcome)) {
    let known = true;
    for (const key in outcome) {
      if (!isOutcomeKey(key)) {
        known = false;
        break;
      }
    }
    const o = outcome as Outcome;
    if (
      known &&
      o.usage === undefined &&
      (o.ok === undefined || typeof o.ok === 'boolean') &&
      (o.durationMs === undefined || isAmount(o.durationMs)) &&
      (o.cost === undefined || isAmount(o.cost))
    ) {
      return;
    }
  }
  checkOutcomeFields(gate, outcome);
}

/**
 * Checks an optional clock option: `undefined` (the component uses the system clock) or an
 * object with `now()`, `setTimer()` and `clearTimer()`. Every component that takes a `clock`
 * checks it with this at construction, so a wrong value fails there with one message rather
 * than at the first timer.
 *
 * @param where - the component, e.g. `TokenBucket("api")`.
 * @param name - the option's name. Default `clock`.
 * @throws InvalidArgumentError naming the option and the value received.
 */
export function checkClock(where: string, clock: unknown, name = 'clock'): Clock | undefined {
  if (clock === undefined) return undefined;
  const c = clock as Partial<Clock> | null;
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.now !== 'function' ||
    typeof c.setTimer !== 'function' ||
    typeof c.clearTimer !== 'function'
  ) {
    throw new InvalidArgumentError(where, name, 'a Clock (an object with now, setTimer and clearTimer)', clock);
  }
  return clock as Clock;
}

/**
 * Whether `value` is a sluice {@link Gate}: an object with a string `name` and the methods
 * `tryAcquire` and `acquire` (what {@link checkGate} requires).
 */
export function isGate(value: unknown): value is Gate {
  const g = value as Partial<Gate> | null;
  return (
    typeof g === 'object' &&
    g !== null &&
    typeof g.tryAcquire === 'function' &&
    typeof g.acquire === 'function' &&
    typeof g.name === 'string'
  );
}

/**
 * Checks that `gate` is a sluice {@link Gate}: an object with a string `name` and the methods
 * `tryAcquire` and `acquire`. The one check of every place that takes a gate (pipeline stages,
 * stream adapters, keyed limiters' factories, overload layers).
 *
 * @param where - the component or function, e.g. `throttle`.
 * @param name - the argument's name, e.g. `gate` or `stages[2]`. Default `gate`.
 * @throws InvalidArgumentError naming the argument and the value received.
 */
export function checkGate(where: string, gate: unknown, name = 'gate'): Gate {
  if (!isGate(gate)) {
    throw new InvalidArgumentError(where, name, 'a Gate (an object with name, tryAcquire and acquire)', gate);
  }
  return gate as Gate;
}

/**
 * Checks that `buffer` is a sluice {@link ItemBuffer}: an object with `offer`, `poll`, `put`,
 * `take` and `close`.
 *
 * @param where - the component or function, e.g. `fromBuffer`.
 * @param name - the argument's name. Default `buffer`.
 * @throws InvalidArgumentError naming the argument and the value received.
 */
export function checkBuffer<T>(where: string, buffer: unknown, name = 'buffer'): ItemBuffer<T> {
  const b = buffer as Partial<ItemBuffer<T>> | null;
  if (
    typeof b !== 'object' ||
    b === null ||
    typeof b.offer !== 'function' ||
    typeof b.poll !== 'function' ||
    typeof b.put !== 'function' ||
    typeof b.take !== 'function' ||
    typeof b.close !== 'function'
  ) {
    throw new InvalidArgumentError(where, name, 'an ItemBuffer (an object with offer, poll, put, take and close)', buffer);
  }
  return buffer as ItemBuffer<T>;
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
