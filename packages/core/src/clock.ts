/**
 * Opaque handle of a timer armed through a {@link Clock}. Only the clock that made it can clear it.
 */
export type TimerHandle = {
  /** Brand only: a handle has no readable fields. */
  readonly __sluiceTimer: unique symbol;
};

/** Options of {@link Clock.setTimer}. */
export interface TimerOptions {
  /**
   * Keep the process alive until the timer fires (Node, Deno, Bun). Default `false`: timers are
   * unref'd so an idle component never holds a process open. Components set it only while a
   * caller is awaiting the timer's outcome (a queued `acquire`), so an awaited permit is still
   * delivered in a script that has nothing else to do.
   */
  readonly keepAlive?: boolean;
}

/**
 * Time as every sluice component sees it: monotonic milliseconds and timers.
 *
 * Every component takes a `clock` option. The default is {@link systemClock} (the runtime's
 * `performance.now` and `setTimeout`); `VirtualClock` from `@sluice/testing` implements the same
 * interface so tests and simulations run hours of traffic in milliseconds, deterministically.
 *
 * @example
 * ```ts
 * import { systemClock } from '@sluice/core';
 * const start = systemClock.now();
 * const timer = systemClock.setTimer(() => console.log('100 ms later'), 100);
 * systemClock.clearTimer(timer);
 * ```
 */
export interface Clock {
  /** Monotonic time in milliseconds (fractional). Never goes backwards for the system clock. */
  now(): number;
  /**
   * Calls `callback` once, `delayMs` milliseconds from now (negative or NaN delays count as 0).
   * Timers are unref'd unless `options.keepAlive` is set.
   */
  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle;
  /** Cancels a timer armed by this clock. Clearing a timer that already fired is a no-op. */
  clearTimer(handle: TimerHandle): void;
}

/** Largest delay the runtimes' `setTimeout` accepts (2^31 − 1 ms, about 24.8 days). */
const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** A frozen `{ keepAlive: true }`, so components arm keep-alive timers without allocating. */
export const KEEP_ALIVE: TimerOptions = /* @__PURE__ */ Object.freeze({ keepAlive: true });

interface RuntimeTimer {
  unref?: () => unknown;
}

interface RuntimeGlobals {
  performance?: { now?: () => number };
  setTimeout: (callback: () => void, ms: number) => unknown;
  clearTimeout: (handle: unknown) => void;
  Deno?: { unrefTimer?: (id: number) => void };
}

/**
 * Finds the best monotonic time source once. Bound once, because reading the global
 * `performance.now` on every call costs ~40 ns more than a captured bound reference.
 */
function resolveMonotonicNow(): () => number {
  const g = globalThis as unknown as RuntimeGlobals;
  const performance = g.performance;
  if (performance !== undefined && typeof performance.now === 'function') {
    return performance.now.bind(performance);
  }
  // Why: a runtime without `performance` only has wall time; clamp it so it never runs backwards.
  let last = -Infinity;
  return () => {
    const wall = Date.now();
    if (wall > last) last = wall;
    return last;
  };
}

class SystemClock implements Clock {
  /**
   * Replaced by the bound runtime source on first use (lazily: importing sluice reads nothing,
   * and a polyfill installed after import is still seen).
   */
  now(): number {
    const read = resolveMonotonicNow();
    this.now = read;
    return read();
  }

  setTimer(callback: () => void, delayMs: number, options?: TimerOptions): TimerHandle {
    const g = globalThis as unknown as RuntimeGlobals;
    // Why: NaN/negative would fire at once anyway; above 2^31−1 runtimes fire after 1 ms. Callers
    // always re-check the time when a timer fires, so firing early at the cap is safe.
    const ms = delayMs > 0 ? Math.min(delayMs, MAX_TIMER_DELAY_MS) : 0;
    const handle = g.setTimeout(callback, ms);
    if (options?.keepAlive !== true) unrefTimer(g, handle);
    return handle as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    (globalThis as unknown as RuntimeGlobals).clearTimeout(handle);
  }
}

function unrefTimer(g: RuntimeGlobals, handle: unknown): void {
  if (typeof handle === 'object' && handle !== null) {
    const timer = handle as RuntimeTimer;
    if (typeof timer.unref === 'function') timer.unref();
  } else if (typeof handle === 'number' && typeof g.Deno?.unrefTimer === 'function') {
    g.Deno.unrefTimer(handle);
  }
}

/**
 * The runtime's clock: `performance.now()` (bound lazily on first use) and `setTimeout`, with
 * timers unref'd unless asked to keep the process alive. The default `clock` of every component.
 */
export const systemClock: Clock = /* @__PURE__ */ new SystemClock();
