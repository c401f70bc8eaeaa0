import type { Clock } from '@sluice/core';

/**
 * One priority level of a {@link LoadShedderOptions}: requests whose `priority` is at least
 * `priority` (and below the next level up) belong to it, and are admitted while utilisation,
 * counting them, stays at or below `admitUpTo`.
 */
export interface ShedLevel {
  /** Name, for metrics and refusals. */
  readonly name: string;
  /** Smallest request `priority` in this level. */
  readonly priority: number;
  /** Highest utilisation (in-flight / capacity, after admitting) this level is admitted to: (0, 1]. */
  readonly admitUpTo: number;
}

/** A source of load besides in-flight work (event-loop lag, CPU, a downstream signal). */
export interface LoadSignal {
  /** Current load, 0 (none) to 1 (saturated); read on every admission decision, so keep it a field. */
  readonly value: number;
}

/** CoDel-style queue-delay control; see {@link LoadShedderOptions.codel}. */
export interface CodelOptions {
  /** Queueing delay considered acceptable, ms; default 5. */
  readonly targetMs?: number;
  /**
   * How long the queueing delay must stay above the target before the shedder counts as
   * overloaded, ms; default 100. Must exceed `targetMs`.
   */
  readonly intervalMs?: number;
  /** While overloaded, serve the newest waiter first (adaptive LIFO); default `false`. */
  readonly lifo?: boolean;
}

/** Options of `LoadShedder`. */
export interface LoadShedderOptions {
  /** In-flight units at 100 % utilisation. Required: an integer ≥ 1. */
  readonly capacity: number;
  /**
   * Utilisation below which everything is admitted, and up to which the lowest level is
   * admitted; default 0.9.
   */
  readonly shedThreshold?: number;
  /**
   * The levels, any order; default `high` (priority 1, up to 0.98), `normal` (priority 0, up to
   * 0.95), `low` (priority −1, up to `shedThreshold`). A request below every level belongs to the
   * lowest. A more important level may not be admitted to less than a less important one.
   */
  readonly levels?: readonly ShedLevel[];
  /**
   * Most units that may wait for their level's room (0: refuse at once, the seed's rule);
   * default 0. With a queue, `codel` decides when waiting has become pointless.
   */
  readonly queueLimit?: number;
  /**
   * Queue-delay shedding: when the queue has not been empty, and no request got through within
   * `targetMs`, for a whole `intervalMs` (the minimum queueing delay over the interval stayed
   * above the target), the shedder is overloaded: new work of every level but the highest is shed at
   * once, waiters that have waited more than 2 × `targetMs` are dropped, and with `lifo` the
   * newest waiter is served first. Default `{ targetMs: 5, intervalMs: 100, lifo: false }` when
   * `queueLimit` > 0; `false` turns it off (waiters then wait until their level has room, their
   * `maxWaitMs` or their signal).
   */
  readonly codel?: CodelOptions | false;
  /** Other load to take into account: utilisation is the largest of in-flight / capacity and these. */
  readonly signals?: readonly LoadSignal[];
  /** Name used in refusals, errors and metrics; default `"shedder"`. */
  readonly name?: string;
  /** Time source; default `systemClock`. */
  readonly clock?: Clock;
}
