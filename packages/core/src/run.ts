import type { Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import { ACQUIRE_NOW, hasAcquireNow, type Gate, type Permit, type RunContext, type RunOptions } from './gate.js';
import { RunOutcome, checkAcquireOptions, checkCount } from './validate.js';

/**
 * The body of every `Gate.run`: acquires `options.count` (default 1), runs `fn`, and releases
 * the permit with `{ ok, durationMs, error }` whether `fn` returns or throws. The duration is
 * measured on `clock`.
 *
 * Exported for authors of custom gates that implement {@link Gate} directly.
 */
export function runWithGate<T>(
  gate: Gate,
  clock: Clock,
  fn: (context: RunContext) => T | PromiseLike<T>,
  options?: RunOptions,
): Promise<T> {
  let permit: Permit | undefined;
  let count: number;
  try {
    if (typeof fn !== 'function') throw new InvalidArgumentError(gate.name, 'fn', 'a function', fn);
    count = options?.count ?? 1;
    if (hasAcquireNow(gate) && options?.signal?.aborted !== true) {
      // Granted at once when it can be: no promise and no hop before `fn` starts.
      checkCount(count, gate.capacity, gate.name);
      checkAcquireOptions(gate.name, options);
      permit = gate[ACQUIRE_NOW](count, options?.priority ?? 0);
    }
  } catch (error) {
    return Promise.reject(error);
  }
  if (permit !== undefined) return runHolding(permit, clock, fn, options?.signal);
  return gate.acquire(count, options).then((granted) => runHolding(granted, clock, fn, options?.signal));
}

/**
 * Runs `fn` under `permit` and releases it with the outcome; for gates that acquired by other
 * means than `ACQUIRE_NOW` (a pipeline's own fast path).
 * @internal
 */
export async function runHolding<T>(
  permit: Permit,
  clock: Clock,
  fn: (context: RunContext) => T | PromiseLike<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  const start = clock.now();
  let value: T;
  try {
    value = await fn({ signal, permit });
  } catch (error) {
    permit.release(new RunOutcome(false, clock.now() - start, error));
    throw error;
  }
  permit.release(new RunOutcome(true, clock.now() - start));
  return value;
}
