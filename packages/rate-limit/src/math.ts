// The arithmetic of every limiter, as pure functions of (state, now): nothing here reads a clock
// or mutates anything, so the same maths can run anywhere — in a gate, in a test at fixed
// instants, or in a Redis script.

/**
 * Tolerance, in units, of every "is there enough?" comparison. Refill summed over many small
 * steps drifts below the exact value (ten 1 ms steps at 100/s give 0.9999999999999999 tokens),
 * which would refuse a unit that is there; a billionth of a unit absorbs that drift and admits
 * nothing measurable beyond the limit.
 */
export const UNIT_EPSILON = 1e-9;

/**
 * Tokens in a continuously refilling bucket at `nowMs`, given `tokens` at `updatedAtMs`.
 * Refill is `ratePerMs` per elapsed millisecond, capped at `burst`. A clock that stands still or
 * runs backwards (`nowMs ≤ updatedAtMs`) refills nothing: never negative tokens, never a burst
 * of free tokens when it comes back.
 *
 * @example
 * ```ts
 * bucketTokens(0, 1_000, 1_500, 0.01, 10); // 5 — half a second at 10 tokens/s
 * ```
 */
export function bucketTokens(tokens: number, updatedAtMs: number, nowMs: number, ratePerMs: number, burst: number): number {
  const elapsed = nowMs - updatedAtMs;
  if (!(elapsed > 0)) return tokens;
  const refilled = tokens + elapsed * ratePerMs;
  return refilled < burst ? refilled : burst;
}

/**
 * Milliseconds until a bucket holding `tokens` has `needed` tokens, refilling at `ratePerMs`;
 * 0 when it already has them. `needed` above the burst never happens: callers refuse such
 * requests at once.
 */
export function bucketWaitMs(tokens: number, needed: number, ratePerMs: number): number {
  return needed <= tokens + UNIT_EPSILON ? 0 : (needed - tokens) / ratePerMs;
}

/** The two constants of a GCRA limit. */
export interface GcraParameters {
  /** Emission interval T: ms per unit. */
  readonly emissionMs: number;
  /** Tolerance τ = burst × T: how far ahead of now the theoretical arrival time may run, ms. */
  readonly toleranceMs: number;
}

/**
 * The two constants of the generic cell rate algorithm (GCRA) for `ratePerSecond` and `burst`:
 * the emission interval T (ms per token) and the tolerance τ = burst × T (how far ahead of `now`
 * the theoretical arrival time may run). A request of cost c passes when
 * `max(tat, now) + c·T − now ≤ τ`, which admits the same traffic as a token bucket of `burst`
 * tokens refilling at `ratePerSecond`.
 */
export function gcraParameters(ratePerSecond: number, burst: number): GcraParameters {
  const emissionMs = 1000 / ratePerSecond;
  return { emissionMs, toleranceMs: burst * emissionMs };
}

/**
 * GCRA decision for a request of `cost` at `nowMs`, given the stored theoretical arrival time
 * `tat` (use `-Infinity` for an unseen key): the new TAT to store when admitted, or `NaN` when
 * refused (nothing is stored on a refusal).
 *
 * @example
 * ```ts
 * const { emissionMs, toleranceMs } = gcraParameters(10, 5); // 100 ms per token, 500 ms tolerance
 * gcraAdmit(-Infinity, 0, 5, emissionMs, toleranceMs); // 500: the whole burst passes
 * gcraAdmit(500, 0, 1, emissionMs, toleranceMs);       // NaN: the sixth must wait
 * ```
 */
export function gcraAdmit(tat: number, nowMs: number, cost: number, emissionMs: number, toleranceMs: number): number {
  const next = (tat > nowMs ? tat : nowMs) + cost * emissionMs;
  return next - nowMs <= toleranceMs + UNIT_EPSILON * emissionMs ? next : Number.NaN;
}

/** Milliseconds until a GCRA request of `cost` would pass at `nowMs` (0 when it passes now). */
export function gcraWaitMs(tat: number, nowMs: number, cost: number, emissionMs: number, toleranceMs: number): number {
  const wait = (tat > nowMs ? tat : nowMs) + cost * emissionMs - toleranceMs - nowMs;
  return wait > UNIT_EPSILON * emissionMs ? wait : 0;
}

/** Whole tokens a GCRA limiter could admit at `nowMs`. */
export function gcraAvailable(tat: number, nowMs: number, emissionMs: number, toleranceMs: number): number {
  const ahead = tat > nowMs ? tat - nowMs : 0;
  return Math.floor((toleranceMs - ahead) / emissionMs + UNIT_EPSILON);
}

/**
 * The weighted estimate of a sliding window of `windowMs` at `nowMs`: the current fixed
 * window's count plus the previous window's count scaled by how much of it still overlaps the
 * last `windowMs` (the two-window approximation nginx-style limiters use).
 */
export function slidingWindowEstimate(previous: number, current: number, windowStartMs: number, nowMs: number, windowMs: number): number {
  const into = (nowMs - windowStartMs) / windowMs;
  const overlap = into >= 1 ? 0 : into <= 0 ? 1 : 1 - into;
  return previous * overlap + current;
}

/**
 * Milliseconds from `nowMs` until `needed` more units fit a sliding window of `limit` per
 * `windowMs` whose current window started at `windowStartMs` with counts `previous`/`current`
 * (0 when they fit now). `needed` must be ≤ `limit`.
 */
export function slidingWindowWaitMs(
  previous: number,
  current: number,
  windowStartMs: number,
  nowMs: number,
  windowMs: number,
  limit: number,
  needed: number,
): number {
  if (slidingWindowEstimate(previous, current, windowStartMs, nowMs, windowMs) + needed <= limit + UNIT_EPSILON) return 0;
  const nextWindow = windowStartMs + windowMs;
  if (current + needed <= limit && previous > 0) {
    // the previous window's weight fades within this window
    const into = 1 - (limit - current - needed) / previous;
    return Math.max(0, windowStartMs + into * windowMs - nowMs);
  }
  // wait for the next window, where this window's count becomes the fading one
  if (current === 0 || needed <= limit - current) return Math.max(0, nextWindow - nowMs);
  const into = 1 - (limit - needed) / current;
  return Math.max(0, nextWindow + into * windowMs - nowMs);
}
