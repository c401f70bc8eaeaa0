import type { Clock } from './clock.js';
import { InvalidArgumentError } from './errors.js';
import type { Gate, RunContext, RunOptions } from './gate.js';

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
  const permit = await gate.acquire(options?.count ?? 1, options);
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
