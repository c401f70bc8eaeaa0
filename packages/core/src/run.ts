import type { Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import { ACQUIRE_NOW, hasAcquireNow, type Gate, type Permit, type RunContext, type RunOptions } from './gate.js';
import { checkAcquireOptions, checkCount } from './validate.js';

/**
 * The body of every `Gate.run`: acquires `options.count` (default 1), runs `fn`, and releases
 * the permit with `{ ok, durationMs, error }` whether `fn` returns or throws. The duration is
 * measured on `clock`.
 *
 * Exported for authors of custom gates that implement {@link Gate} directly.
 */
export async function runWithGate<T>(
  gate: Gate,
  clock: Clock,
  fn: (context: RunContext) => T | PromiseLike<T>,
  options?: RunOptions,
): Promise<T> {
  if (typeof fn !== 'function') {
    throw new InvalidArgumentError(gate.name, 'fn', 'a function', fn);
  }
  const count = options?.count ?? 1;
  let permit: Permit | undefined;
  if (hasAcquireNow(gate) && options?.signal?.aborted !== true) {
    // Granted at once when it can be: one promise hop less than awaiting `acquire`.
    checkCount(count, gate.capacity, gate.name);
    checkAcquireOptions(gate.name, options);
    permit = gate[ACQUIRE_NOW](count, options?.priority ?? 0);
  }
  permit ??= await gate.acquire(count, options);
  const start = clock.now();
  let value: T;
  try {
    value = await fn({ signal: options?.signal, permit });
  } catch (error) {
    permit.release({ ok: false, durationMs: clock.now() - start, error });
    throw error;
  }
  permit.release({ ok: true, durationMs: clock.now() - start });
  return value;
}
