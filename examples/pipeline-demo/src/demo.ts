import { passThrough, pipeline, type Clock, type RefusalReason } from '@sluice/core';
import { Drain } from './drain.js';

/** One second of the demo. */
export interface SecondReport {
  readonly second: number;
  readonly offered: number;
  readonly admitted: number;
  readonly refused: number;
  readonly reasons: Partial<Record<RefusalReason, number>>;
  /** Mean `retryAfterMs` of this second's refusals (`undefined` when none refused). */
  readonly meanRetryAfterMs: number | undefined;
  readonly pressure: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly clock: Clock;
  /** How long the producer runs, in ms. */
  readonly durationMs: number;
  /** Jobs the producer offers per second. */
  readonly producerPerSecond: number;
  /** Jobs the consumer can take per second. */
  readonly consumerPerSecond: number;
  /** Called once per second of the run. */
  readonly onSecond?: (report: SecondReport) => void;
  /** Advances time when running on a virtual clock; on the system clock, waits in real time. */
  readonly sleep: (ms: number) => Promise<void>;
}

/** What the whole run did. */
export interface DemoSummary {
  readonly offered: number;
  readonly admitted: number;
  readonly refused: number;
  /** Refusals that carried a `retryAfterMs` hint. */
  readonly refusedWithHint: number;
  readonly seconds: readonly SecondReport[];
}

/**
 * A producer offering `producerPerSecond` jobs in front of a consumer that takes
 * `consumerPerSecond`, through `pipeline(intake, drain)`. Every job asks `tryAcquire()`: it goes
 * ahead, or it is refused with the reason and the time after which a retry can succeed.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const { clock } = options;
  const intake = passThrough({ name: 'intake', clock });
  const drain = new Drain({ perSecond: options.consumerPerSecond, burst: 5, clock });
  const frontDoor = pipeline({ name: 'front-door', clock }, intake, drain);

  const seconds: SecondReport[] = [];
  let offered = 0;
  let admitted = 0;
  let refused = 0;
  let refusedWithHint = 0;
  let window = { offered: 0, admitted: 0, refused: 0, retrySum: 0, retryCount: 0, reasons: {} as Partial<Record<RefusalReason, number>> };

  const intervalMs = 1000 / options.producerPerSecond;
  const start = clock.now();
  let nextJobAt = start;
  let nextReportAt = start + 1000;
  const end = start + options.durationMs;

  const report = (): void => {
    const second: SecondReport = {
      second: seconds.length + 1,
      offered: window.offered,
      admitted: window.admitted,
      refused: window.refused,
      reasons: window.reasons,
      meanRetryAfterMs: window.retryCount === 0 ? undefined : window.retrySum / window.retryCount,
      pressure: frontDoor.pressure,
    };
    seconds.push(second);
    options.onSecond?.(second);
    window = { offered: 0, admitted: 0, refused: 0, retrySum: 0, retryCount: 0, reasons: {} };
    nextReportAt += 1000;
  };

  while (clock.now() < end) {
    while (nextJobAt <= clock.now()) {
      nextJobAt += intervalMs;
      offered++;
      window.offered++;
      const result = frontDoor.tryAcquire();
      if (result.granted) {
        admitted++;
        window.admitted++;
        result.release({ ok: true }); // the consumer took the job
      } else {
        refused++;
        window.refused++;
        window.reasons[result.reason] = (window.reasons[result.reason] ?? 0) + 1;
        if (result.retryAfterMs !== undefined) {
          refusedWithHint++;
          window.retrySum += result.retryAfterMs;
          window.retryCount++;
        }
      }
    }
    if (clock.now() >= nextReportAt) report();
    await options.sleep(Math.max(1, Math.min(nextJobAt, nextReportAt) - clock.now()));
  }
  if (clock.now() >= nextReportAt) report();
  frontDoor.close();
  return { offered, admitted, refused, refusedWithHint, seconds };
}
