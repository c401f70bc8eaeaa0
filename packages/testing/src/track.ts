/** A promise's state, readable synchronously; see {@link track}. */
export interface TrackedPromise<T> {
  /** The promise followed. */
  readonly promise: Promise<T>;
  /** True once it settled either way. */
  readonly done: boolean;
  /** `pending`, `fulfilled` or `rejected`. */
  readonly state: 'pending' | 'fulfilled' | 'rejected';
  /** Its value, once fulfilled. */
  readonly value: T | undefined;
  /** Its reason, once rejected. */
  readonly error: unknown;
}

/**
 * Follows `promise` so a test can read its state synchronously after advancing a virtual clock,
 * and marks its rejection handled (a test that expects a rejection asserts on `error`; vitest
 * never sees an unhandled one).
 *
 * @example
 * ```ts
 * const waiting = track(limiter.acquire(10));
 * await clock.advance(999);
 * expect(waiting.done).toBe(false);
 * ```
 */
export function track<T>(promise: Promise<T>): TrackedPromise<T> {
  const tracked = {
    promise,
    done: false,
    state: 'pending' as TrackedPromise<T>['state'],
    value: undefined as T | undefined,
    error: undefined as unknown,
  };
  promise.then(
    (value) => {
      tracked.done = true;
      tracked.state = 'fulfilled';
      tracked.value = value;
    },
    (error: unknown) => {
      tracked.done = true;
      tracked.state = 'rejected';
      tracked.error = error;
    },
  );
  return tracked;
}
