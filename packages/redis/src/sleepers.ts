import type { Clock, TimerHandle } from '@sluice/core';

/**
 * Callers sleeping until their reservation comes due, on one clock: each sleep is woken early by
 * its signal's abort or by {@link Sleepers.wakeAll} (on `close()`), and then gives its
 * reservation back through `giveBack` (best effort: the store may be down) before rejecting.
 */
export class Sleepers {
  private readonly waking = new Set<(error: unknown) => void>();
  /** Give-backs started by a wake (abort or wakeAll), until they settle. */
  private readonly returning = new Set<Promise<unknown>>();

  constructor(private readonly clock: Clock) {}

  /** Resolves after `ms`; rejects with the signal's reason on abort, or the wakeAll error. */
  sleep(ms: number, signal: AbortSignal | undefined, giveBack?: () => Promise<unknown> | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: TimerHandle | undefined;
      const finish = (error?: unknown): void => {
        if (timer !== undefined) this.clock.clearTimer(timer);
        signal?.removeEventListener('abort', aborted);
        this.waking.delete(finish);
        if (error === undefined) {
          resolve();
          return;
        }
        const back = giveBack?.()?.catch(() => {});
        if (back !== undefined) {
          this.returning.add(back);
          void back.then(() => this.returning.delete(back));
        }
        reject(error);
      };
      const aborted = (): void => finish(signal?.reason);
      if (signal?.aborted === true) {
        finish(signal.reason);
        return;
      }
      // rounded up: a timer may fire within its last millisecond, before the reservation is due
      timer = this.clock.setTimer(() => finish(), Math.ceil(ms), { keepAlive: true });
      signal?.addEventListener('abort', aborted, { once: true });
      this.waking.add(finish);
    });
  }

  /** Wakes every sleeper with `error`; resolves when their give-backs (and earlier ones) have settled. */
  wakeAll(error: unknown): Promise<void> {
    for (const wake of [...this.waking]) wake(error);
    return Promise.all([...this.returning]).then(() => undefined);
  }
}
