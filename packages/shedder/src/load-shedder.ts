import {
  GateBase,
  InvalidArgumentError,
  checkName,
  checkNumber,
  checkOptions,
  optionKeys,
  type Outcome,
  type QueuedWaiter,
  type RefusalReason,
  type WaiterQueue,
} from '@sluice/core';
import type { CodelOptions, LoadShedderOptions, LoadSignal, ShedLevel } from './options.js';

/** Default of {@link LoadShedderOptions.shedThreshold}. */
export const DEFAULT_SHED_THRESHOLD = 0.9;

/**
 * The default levels for a given shed threshold: `high` (priority ≥ 1) to 98 %, `normal`
 * (priority 0) to 95 %, `low` (below 0) up to the threshold — and no level below the threshold.
 */
export function defaultLevels(shedThreshold = DEFAULT_SHED_THRESHOLD): readonly ShedLevel[] {
  return Object.freeze([
    Object.freeze({ name: 'high', priority: 1, admitUpTo: Math.max(0.98, shedThreshold) }),
    Object.freeze({ name: 'normal', priority: 0, admitUpTo: Math.max(0.95, shedThreshold) }),
    Object.freeze({ name: 'low', priority: -1, admitUpTo: shedThreshold }),
  ]);
}

/** Length of one drain-rate measurement window, ms; windows are blended 70/30 into the estimate. */
const DRAIN_WINDOW_MS = 100;

const LOAD_SHEDDER_KEYS = optionKeys<LoadShedderOptions>()({
  capacity: true,
  shedThreshold: true,
  levels: true,
  queueLimit: true,
  codel: true,
  signals: true,
  name: true,
  clock: true,
});

/**
 * A load shedder: it protects the work already admitted by refusing new work early, least
 * important first, instead of letting everything slow down together.
 *
 * - **Priority thresholds** (the default rule): utilisation = in-flight / `capacity`. Below
 *   `shedThreshold` everything is admitted; above it each level is admitted only up to its own
 *   share (by default `high` to 98 %, `normal` to 95 %, `low` not at all). Refusals say `shed`
 *   and carry `retryAfterMs` from the measured rate at which in-flight work completes (at
 *   least 1 ms; none before the first ~100 ms of completions were measured).
 * - **Queue-delay shedding** (with `queueLimit` > 0): a request over its level's share waits,
 *   and CoDel watches the wait. When the queue has not been empty, and nothing got through
 *   within `codel.targetMs`, for a whole `codel.intervalMs` (the *minimum* queueing delay over
 *   the interval stayed above the target), a queue is standing: new work of every level but the highest is shed
 *   at once, waiters older than 2 × target are dropped, and with `codel.lifo` the newest waiter
 *   is served first, so callers who are still waiting get answers.
 * - **Other load** (`signals`): utilisation is the largest of in-flight / capacity and each
 *   signal's value — e.g. `eventLoopLag()` from `@sluice/shedder/node`, so a CPU-saturated
 *   process sheds instead of timing everything out.
 * - `shedBelow(priority)` sheds every level below a priority on demand (an alert's action).
 *
 * Deciding is O(levels) (a handful) and a refusal allocates nothing (refusals are reused while
 * their retry hint is unchanged).
 *
 * @example
 * ```ts
 * const shedder = new LoadShedder({ capacity: 100 });
 * const result = shedder.tryAcquire(1, { priority: request.isInteractive ? 1 : -1 });
 * if (!result.granted) return reply(503, { retryAfterMs: result.retryAfterMs });
 * try { await handle(request); } finally { result.release({ ok: true }); }
 * ```
 */
export class LoadShedder extends GateBase {
  /** In-flight units at 100 % utilisation (and the largest count one request may ask for). */
  readonly capacity: number;
  /** Utilisation below which everything is admitted. */
  readonly shedThreshold: number;
  /** The levels, most important first. */
  readonly levels: readonly ShedLevel[];

  /** Per level (same order): the most units in flight it is admitted to. */
  private readonly admitLimits: Float64Array;
  private readonly signals: readonly LoadSignal[];
  private readonly codel: Required<CodelOptions> | undefined;
  private inFlightCount = 0;
  private minimumPriority = Number.NEGATIVE_INFINITY;

  private overloaded = false;
  /** Last time the queue was seen empty or a request got through within the target, ms. */
  private lastGoodAt = 0;

  private drainPerMs = 0;
  private drainSince = Number.NaN;
  private drainedUnits = 0;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: LoadShedderOptions) {
    const o = checkOptions('LoadShedder', options, LOAD_SHEDDER_KEYS);
    const name = checkName('LoadShedder', o.name, 'shedder');
    const capacity = checkNumber(name, 'capacity', o.capacity, { min: 1, integer: true });
    const shedThreshold = checkNumber(name, 'shedThreshold', o.shedThreshold ?? DEFAULT_SHED_THRESHOLD, {
      min: 0,
      exclusiveMin: true,
      max: 1,
    });
    const queueLimit = checkNumber(name, 'queueLimit', o.queueLimit ?? 0, { min: 0, integer: true });
    super({ name, clock: o.clock, queueLimit, maxStarvationMs: Infinity });
    this.capacity = capacity;
    this.shedThreshold = shedThreshold;
    this.levels = checkLevels(name, o.levels ?? defaultLevels(shedThreshold), shedThreshold);
    this.admitLimits = Float64Array.from(this.levels, (level) => Math.floor(level.admitUpTo * capacity + 1e-9));
    const signals = o.signals ?? [];
    if (!Array.isArray(signals) || signals.some((s) => typeof s !== 'object' || s === null || typeof s.value !== 'number')) {
      throw new InvalidArgumentError(name, 'signals', 'an array of LoadSignal ({ value: number })', signals);
    }
    this.signals = Object.freeze(signals.slice());
    this.codel = o.codel === false || (queueLimit === 0 && o.codel === undefined) ? undefined : checkCodel(name, o.codel ?? {});
    if (this.codel !== undefined) {
      this.lastGoodAt = this.clock.now();
      this.onAdmit((_count, waitedMs) => this.sampleDelay(waitedMs));
    }
  }

  /** Units in flight now. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** Utilisation now: the largest of in-flight / capacity and every signal. */
  get utilisation(): number {
    let load = this.inFlightCount / this.capacity;
    for (const signal of this.signals) if (signal.value > load) load = signal.value;
    return load;
  }

  /** 1 with requests queued, else the utilisation (capped at 1). */
  override get pressure(): number {
    if (this.waiterCount > 0) return 1;
    const load = this.utilisation;
    return load >= 1 ? 1 : load;
  }

  /** True while CoDel judges the queue to be standing (lower levels are shed on arrival). */
  get isOverloaded(): boolean {
    return this.overloaded;
  }

  /**
   * Sheds every request whose priority is below `priority` until called again (`undefined`
   * stops it): the action of an alert ("turn on low-priority shedding").
   */
  shedBelow(priority: number | undefined): void {
    this.minimumPriority =
      priority === undefined ? Number.NEGATIVE_INFINITY : checkNumber(this.name, 'priority', priority, { allowInfinity: false });
    this.serve();
  }

  /** The level a request of `priority` belongs to. */
  levelOf(priority: number): ShedLevel {
    return this.levels[this.levelIndex(priority)] as ShedLevel;
  }

  // ---- GateBase ----

  /** Shedding on arrival: below `shedBelow`, lower levels while overloaded, other load above the level's share. */
  protected override arrivalRefusal(count: number, priority: number): RefusalReason | undefined {
    void count;
    if (priority < this.minimumPriority) return 'shed';
    const index = this.levelIndex(priority);
    if (this.codel !== undefined) {
      this.judge(this.clock.now());
      if (this.overloaded && index !== 0) return 'shed';
    }
    const signals = this.signals;
    if (signals.length !== 0) {
      const limit = this.admitLimits[index] as number;
      for (let i = 0; i < signals.length; i++) {
        if ((signals[i] as LoadSignal).value * this.capacity > limit) return 'shed';
      }
    }
    return undefined;
  }

  /** In-flight against the level's share: over it, `shed` without a queue, else wait. */
  protected tryTake(count: number, priority: number): boolean {
    const limit = this.admitLimits[this.levelIndex(priority)] as number;
    const inFlight = this.inFlightCount;
    if (inFlight + (count === 0 ? 1 : count) > limit) return false;
    this.inFlightCount = inFlight + count;
    return true;
  }

  protected availableUnits(): number {
    const free = (this.admitLimits[0] as number) - this.inFlightCount;
    return free > 0 ? free : 0;
  }

  protected override refusalReason(): RefusalReason {
    return this.queueLimit === 0 ? 'shed' : 'exhausted';
  }

  /**
   * The retry hint (and the wait estimate) from the drain rate: the units over the level's
   * share, `(inFlight + unitsAhead + count − share) / drain rate`. A request shed for another
   * reason (a signal, `shedBelow`, a standing queue) is told the time for the waiting work and
   * its own units to drain — the soonest the load can have changed. At least 1 ms, never 0;
   * `undefined` until a drain rate was measured (the first ~100 ms window of completions).
   */
  protected override estimateWaitMs(count: number, unitsAhead: number, priority: number): number | undefined {
    const drainPerMs = this.drainPerMs;
    if (drainPerMs <= 0) return undefined;
    const index = this.levelIndex(priority);
    const excess = this.inFlightCount + unitsAhead + count - (this.admitLimits[index] as number);
    let ms = excess / drainPerMs;
    if (excess <= 0) {
      // the level has room: the request waits only behind others, or was shed on arrival
      ms = this.shedsOnArrival(priority, index) ? (this.waitingUnits + count) / drainPerMs : 0;
    }
    return ms > 1 ? ms : 1;
  }

  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    void outcome;
    this.inFlightCount -= count;
    this.measureDrain(count);
    this.serve();
  }

  protected override nextWaiter(queue: WaiterQueue<unknown, unknown>): QueuedWaiter<unknown> | undefined {
    const codel = this.codel;
    if (codel === undefined) return queue.peek();
    const now = this.clock.now();
    this.judge(now);
    if (this.overloaded) {
      // slough: a waiter that has waited more than twice the target will not get a useful answer
      for (let oldest = queue.peek(); oldest !== undefined && now - oldest.enqueuedAt > 2 * codel.targetMs; oldest = queue.peek()) {
        this.dropWaiter(oldest, 'shed', this.sloughHintMs());
      }
      if (codel.lifo) return queue.peekNewest();
    }
    return queue.peek();
  }

  // ---- internals ----

  /**
   * True when a request of `priority` (at level `index`) is shed on arrival whatever the
   * in-flight count: below `shedBelow`, a lower level while overloaded, or a signal over its
   * share. Reads the overload state as last judged; changes nothing.
   */
  private shedsOnArrival(priority: number, index: number): boolean {
    if (priority < this.minimumPriority || (this.overloaded && index !== 0)) return true;
    const limit = this.admitLimits[index] as number;
    for (const signal of this.signals) if (signal.value * this.capacity > limit) return true;
    return false;
  }

  /** The hint of a waiter dropped from a standing queue: the rest of the queue's drain time, whole ms, at least 1. */
  private sloughHintMs(): number | undefined {
    const drainPerMs = this.drainPerMs;
    return drainPerMs <= 0 ? undefined : Math.max(1, Math.ceil(this.waitingUnits / drainPerMs - 1e-6));
  }

  private levelIndex(priority: number): number {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) if (priority >= (levels[i] as ShedLevel).priority) return i;
    return levels.length - 1;
  }

  /**
   * CoDel on a request queue: overloaded while the queue has not been empty, and no request got
   * through within the target, for a whole interval — the minimum queueing delay over the
   * interval stayed above the target. Judged lazily, on arrivals and when a waiter is picked.
   */
  private judge(now: number): void {
    if (this.waiterCount === 0) {
      this.lastGoodAt = now;
      this.overloaded = false;
    } else {
      this.overloaded = now - this.lastGoodAt >= (this.codel as Required<CodelOptions>).intervalMs;
    }
  }

  /**
   * An admission within the target shows the queue is not standing — except one served LIFO
   * while overloaded, whose short wait says nothing about the requests behind it.
   */
  private sampleDelay(waitedMs: number): void {
    const codel = this.codel as Required<CodelOptions>;
    if (waitedMs <= codel.targetMs && !(this.overloaded && codel.lifo)) this.lastGoodAt = this.clock.now();
  }

  /** Completion rate in units per ms, blended over windows of ~100 ms. */
  private measureDrain(count: number): void {
    const now = this.clock.now();
    if (Number.isNaN(this.drainSince)) {
      // the first completion only starts the clock
      this.drainSince = now;
      return;
    }
    this.drainedUnits += count;
    const elapsed = now - this.drainSince;
    if (elapsed >= DRAIN_WINDOW_MS) {
      const rate = this.drainedUnits / elapsed;
      this.drainPerMs = this.drainPerMs === 0 ? rate : this.drainPerMs * 0.7 + rate * 0.3;
      this.drainSince = now;
      this.drainedUnits = 0;
    }
  }
}

const SHED_LEVEL_KEYS = optionKeys<ShedLevel>()({ name: true, priority: true, admitUpTo: true });

function checkLevels(name: string, levels: readonly ShedLevel[], shedThreshold: number): readonly ShedLevel[] {
  if (!Array.isArray(levels) || levels.length === 0) {
    throw new InvalidArgumentError(name, 'levels', 'a non-empty array of { name, priority, admitUpTo }', levels);
  }
  const checked = levels.map((level, i) => {
    if (typeof level !== 'object' || level === null) throw new InvalidArgumentError(name, `levels[${i}]`, 'an object', level);
    checkOptions(name, level, SHED_LEVEL_KEYS, `levels[${i}].`);
    if (typeof level.name !== 'string' || level.name.length === 0) {
      throw new InvalidArgumentError(name, `levels[${i}].name`, 'a non-empty string', level.name);
    }
    const priority = checkNumber(name, `levels[${i}].priority`, level.priority);
    const admitUpTo = checkNumber(name, `levels[${i}].admitUpTo`, level.admitUpTo, { min: shedThreshold, max: 1 });
    return Object.freeze({ name: level.name, priority, admitUpTo });
  });
  checked.sort((a, b) => b.priority - a.priority);
  for (let i = 1; i < checked.length; i++) {
    const above = checked[i - 1] as ShedLevel;
    const level = checked[i] as ShedLevel;
    if (level.priority === above.priority) {
      throw new InvalidArgumentError(name, 'levels', 'levels with distinct priorities', levels);
    }
    if (level.admitUpTo > above.admitUpTo) {
      throw new InvalidArgumentError(
        name,
        `levels (${level.name}.admitUpTo)`,
        `≤ ${above.admitUpTo}, the share of the more important level "${above.name}"`,
        level.admitUpTo,
      );
    }
  }
  return Object.freeze(checked);
}

const CODEL_KEYS = optionKeys<CodelOptions>()({ targetMs: true, intervalMs: true, lifo: true });

function checkCodel(name: string, codel: CodelOptions): Required<CodelOptions> {
  const o = checkOptions(name, codel, CODEL_KEYS, 'codel.');
  const targetMs = checkNumber(name, 'codel.targetMs', o.targetMs ?? 5, { min: 0, exclusiveMin: true });
  const intervalMs = checkNumber(name, 'codel.intervalMs', o.intervalMs ?? 100, { min: targetMs, exclusiveMin: true });
  return Object.freeze({ targetMs, intervalMs, lifo: o.lifo ?? false });
}

/** Creates a {@link LoadShedder}. */
export function loadShedder(options: LoadShedderOptions): LoadShedder {
  return new LoadShedder(options);
}
