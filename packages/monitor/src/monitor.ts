import {
  InvalidArgumentError,
  checkName,
  checkNumber,
  checkOptions,
  optionKeys,
  systemClock,
  type BufferStats,
  type Clock,
  type Disposer,
  type GateStats,
  type TimerHandle,
  checkClock,
} from '@sluice/core';
import { LogLinearHistogram } from './histogram.js';
import { EwmaRate } from './rate.js';

/** What a watched component is: a gate (limiter, breaker, shedder, pipeline…) or an item buffer. */
export type ComponentKind = 'gate' | 'buffer';

/**
 * One watched component's metrics at a sample. Rates are items per second (EWMA over
 * `rateWindowMs`); waits are ms over the last one to two `waitWindowMs` windows.
 */
export interface QueueMetrics {
  /** The name it was watched under. */
  readonly name: string;
  /** Gate or buffer. */
  readonly kind: ComponentKind;
  /** Requests waiting (gate) or items held (buffer) now. */
  readonly depth: number;
  /** Its capacity: the largest count (gate) or the most items (buffer). */
  readonly capacity: number;
  /** Arrivals per second: requests (gate) or items offered (buffer). */
  readonly enqueueRate: number;
  /** Departures per second: admissions (gate) or items taken (buffer). */
  readonly dequeueRate: number;
  /** Mean wait, ms: request arrival → admission (gate), item entry → take (buffer). `NaN` with no sample. */
  readonly avgWaitMs: number;
  /** Longest wait seen in the window, ms (0 with no sample). */
  readonly maxWaitMs: number;
  /** Median wait, ms (`NaN` with no sample). */
  readonly p50WaitMs: number;
  /** 90th-percentile wait, ms. */
  readonly p90WaitMs: number;
  /** 99th-percentile wait, ms. */
  readonly p99WaitMs: number;
  /** Items dropped so far (buffers; 0 for gates). */
  readonly dropCount: number;
  /** Drops per second (EWMA). */
  readonly dropRate: number;
  /** Requests or items refused so far. */
  readonly refusedCount: number;
  /** Refusals per second (EWMA). */
  readonly refusedRate: number;
  /** The component's pressure, 0 idle to 1 at its limit. */
  readonly pressure: number;
  /** A circuit breaker's state (`closed`, `open`, `half-open`, `isolated`), when it has one. */
  readonly state: string | undefined;
  /** Units a request could be granted now (gates), when the gate reports it. */
  readonly available: number | undefined;
  /** Monotonic time of the sample, ms. */
  readonly sampledAt: number;
}

/** Options of {@link QueueMonitor}. */
export interface QueueMonitorOptions {
  /** How often components are sampled and alerts evaluated, ms; default 1,000. */
  readonly sampleEveryMs?: number;
  /** Smoothing window of the rates, ms; default 10,000. */
  readonly rateWindowMs?: number;
  /** Waits are summarised over the last one to two windows of this length, ms; default 60,000. */
  readonly waitWindowMs?: number;
  /**
   * Upper bounds of the exported wait buckets (Prometheus `le`), ms, ascending; default 1, 5,
   * 10, 25, 50, 100, 250, 500, 1,000, 2,500, 5,000, 10,000. Counted exactly for every wait.
   */
  readonly waitBucketsMs?: readonly number[];
  /** Time source; default `systemClock`. Sampling runs on its timers, which never keep a process alive. */
  readonly clock?: Clock;
}

/** Options of {@link QueueMonitor.watch}. */
export interface WatchOptions {
  /** Extra labels for the exported series (Prometheus / OpenTelemetry). */
  readonly labels?: Readonly<Record<string, string>>;
  /**
   * Record waits. Default `true` for gates — their queued admissions are reported and the
   * immediate ones counted as 0, so the fast path pays nothing — and `false` for buffers, which
   * must stamp every item's entry time (a clock read per `offer`) to report holding times.
   */
  readonly waits?: boolean;
}

/** A condition over a component's metrics, evaluated at every sample. */
export type AlertCondition = (metrics: QueueMetrics) => boolean;

/** Options of {@link QueueMonitor.alert}. */
export interface AlertOptions {
  /** The condition must hold this long before the alert fires, ms; default 0 (at the first sample it holds). */
  readonly forMs?: number;
  /** Called once when the alert fires. */
  readonly onFire?: (event: AlertEvent) => void;
  /** Called once when a fired alert's condition stops holding. */
  readonly onResolve?: (event: AlertEvent) => void;
}

/** What an alert's callbacks receive. */
export interface AlertEvent {
  /** The alert's component. */
  readonly component: string;
  /** The alert's label (`alert`'s `label` option or the condition's name). */
  readonly label: string;
  /** The metrics at the sample that fired or resolved it. */
  readonly metrics: QueueMetrics;
  /** Since when the condition held (fire) or how long it held (resolve), ms. */
  readonly since: number;
}

/** The parts of a gate the monitor reads. */
interface WatchableGate {
  readonly capacity: number;
  readonly pressure: number;
  stats(): GateStats;
  onAdmit(listener: (count: number, waitedMs: number) => void): Disposer;
  onWait?(listener: (count: number, waitedMs: number) => void): Disposer;
  readonly state?: unknown;
}

/** The parts of a buffer the monitor reads. */
interface WatchableBuffer {
  readonly capacity: number;
  readonly pressure: number;
  stats(): BufferStats;
  onTake?(listener: (item: unknown, heldMs: number) => void): Disposer;
}

/** What the monitor keeps per component: its rates, wait histograms and subscriptions. */
class Watched {
  readonly enqueue: EwmaRate;
  readonly dequeue: EwmaRate;
  readonly drops: EwmaRate;
  readonly refusals: EwmaRate;
  /** Waits of the current window and of the one before. */
  current: LogLinearHistogram;
  previous: LogLinearHistogram;
  /** Every wait that left the summary window: with `previous` and `current`, the whole history (for counters). */
  readonly retired = new LogLinearHistogram();
  /** Scratch for merged views, reused. */
  readonly scratch = new LogLinearHistogram();
  /** Exact counts per export bucket: slot i holds waits in (bound[i−1], bound[i]], the last slot the rest. */
  readonly slots: Float64Array;
  windowStart: number;
  last: QueueMetrics | undefined;
  /** With `onWait`: admissions reported as waits so far, and the counters at the last sample. */
  waited = 0;
  countsZeros = false;
  lastAdmitted = 0;
  lastWaited = 0;
  readonly disposers: Disposer[] = [];

  constructor(
    readonly name: string,
    readonly kind: ComponentKind,
    readonly component: WatchableGate | WatchableBuffer,
    readonly labels: Readonly<Record<string, string>>,
    rateWindowMs: number,
    now: number,
    private readonly bounds: readonly number[],
  ) {
    this.slots = new Float64Array(bounds.length + 1);
    this.enqueue = new EwmaRate({ windowMs: rateWindowMs });
    this.dequeue = new EwmaRate({ windowMs: rateWindowMs });
    this.drops = new EwmaRate({ windowMs: rateWindowMs });
    this.refusals = new EwmaRate({ windowMs: rateWindowMs });
    this.current = new LogLinearHistogram();
    this.previous = new LogLinearHistogram();
    this.windowStart = now;
  }

  recordWait(ms: number): void {
    this.waited++;
    this.current.record(ms);
    this.countSlot(ms, 1);
  }

  /** Adds `n` waits of `ms` to the export bucket holding it (binary search over a dozen bounds). */
  countSlot(ms: number, n: number): void {
    const bounds = this.bounds;
    let lo = 0;
    let hi = bounds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((bounds[mid] as number) < ms) lo = mid + 1;
      else hi = mid;
    }
    this.slots[lo] = (this.slots[lo] as number) + n;
  }
}

interface AlertState {
  readonly component: string;
  readonly label: string;
  readonly condition: AlertCondition;
  readonly forMs: number;
  readonly onFire: ((event: AlertEvent) => void) | undefined;
  readonly onResolve: ((event: AlertEvent) => void) | undefined;
  heldSince: number | undefined;
  firing: boolean;
}

const WATCH_KEYS = optionKeys<WatchOptions>()({ labels: true, waits: true });
const ALERT_KEYS = optionKeys<AlertOptions & { readonly label?: string }>()({ forMs: true, onFire: true, onResolve: true, label: true });
const QUEUE_MONITOR_KEYS = optionKeys<QueueMonitorOptions>()({
  sampleEveryMs: true,
  rateWindowMs: true,
  waitWindowMs: true,
  waitBucketsMs: true,
  clock: true,
});

/**
 * Watches gates and buffers and turns their counters and events into metrics operators use:
 * depth, arrival and departure rates, wait percentiles, drops, refusals, pressure, breaker state
 * — sampled on the injected clock, with alerts that fire once on entering a condition and
 * resolve once on leaving it, and Prometheus text / OpenTelemetry export.
 *
 * Watching costs a gate nothing on its hot path: counters are read at each sample, and only
 * admissions that waited in the queue are reported (the others count as waits of 0). Buffers
 * report holding times only when watched with `waits: true` (they then stamp every item).
 *
 * @example
 * ```ts
 * const monitor = new QueueMonitor({ sampleEveryMs: 1_000 });
 * monitor.watch('api', frontDoor);
 * monitor.alert('api', waitAbove(500, 'p99'), { forMs: 30_000, onFire: () => shedder.shedBelow(0), onResolve: () => shedder.shedBelow(undefined) });
 * ```
 */
export class QueueMonitor {
  /** Sampling interval, ms. */
  readonly sampleEveryMs: number;
  /** Rate smoothing window, ms. */
  readonly rateWindowMs: number;
  /** Wait summary window, ms. */
  readonly waitWindowMs: number;
  /** Upper bounds of the exported wait buckets, ms. */
  readonly waitBucketsMs: readonly number[];
  private readonly clock: Clock;
  private readonly watched = new Map<string, Watched>();
  private readonly alerts: AlertState[] = [];
  private timer: TimerHandle | undefined;
  private closed = false;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: QueueMonitorOptions = {}) {
    const o = checkOptions('QueueMonitor', options, QUEUE_MONITOR_KEYS);
    this.sampleEveryMs = checkNumber('QueueMonitor', 'sampleEveryMs', o.sampleEveryMs ?? 1_000, { min: 1 });
    this.rateWindowMs = checkNumber('QueueMonitor', 'rateWindowMs', o.rateWindowMs ?? 10_000, { min: 1 });
    this.waitWindowMs = checkNumber('QueueMonitor', 'waitWindowMs', o.waitWindowMs ?? 60_000, { min: 1 });
    const bounds = o.waitBucketsMs ?? DEFAULT_WAIT_BUCKETS_MS;
    if (
      !Array.isArray(bounds) ||
      bounds.some((b, i) => !(typeof b === 'number' && b >= 0 && b < Infinity) || (i > 0 && b <= (bounds[i - 1] as number)))
    ) {
      throw new InvalidArgumentError('QueueMonitor', 'waitBucketsMs', 'ascending finite numbers ≥ 0', bounds);
    }
    this.waitBucketsMs = Object.freeze(bounds.slice());
    this.clock = checkClock('QueueMonitor', o.clock) ?? systemClock;
  }

  /** Names of the watched components, in the order they were watched. */
  get names(): readonly string[] {
    return [...this.watched.keys()];
  }

  /**
   * Starts watching a gate or buffer under `name` (unique). Returns a function that stops
   * watching it (its listeners removed).
   *
   * @throws InvalidArgumentError for a taken name or something that is neither a gate nor a buffer.
   */
  watch(name: string, component: object, options: WatchOptions = {}): Disposer {
    checkName('QueueMonitor.watch', name, '');
    if (this.closed) throw new InvalidArgumentError('QueueMonitor', 'watch', 'a monitor that is not closed', name);
    if (this.watched.has(name)) throw new InvalidArgumentError('QueueMonitor', 'name', 'a name not already watched', name);
    const kind = kindOf(component);
    if (kind === undefined) {
      throw new InvalidArgumentError('QueueMonitor', name, 'a gate (stats, onAdmit) or a buffer (stats, offer, poll)', component);
    }
    checkOptions('QueueMonitor.watch', options, WATCH_KEYS);
    const labels = checkLabels(options.labels ?? {});
    const entry = new Watched(
      name,
      kind,
      component as WatchableGate | WatchableBuffer,
      labels,
      this.rateWindowMs,
      this.clock.now(),
      this.waitBucketsMs,
    );
    const waits = options.waits ?? kind === 'gate';
    if (waits && kind === 'gate') {
      const gate = component as WatchableGate;
      if (typeof gate.onWait === 'function') {
        // only queued admissions are reported; the immediate ones are counted as 0 at each sample
        entry.countsZeros = true;
        entry.lastAdmitted = gate.stats().admitted;
        entry.disposers.push(gate.onWait((_count, waitedMs) => entry.recordWait(waitedMs)));
      } else {
        entry.disposers.push(gate.onAdmit((_count, waitedMs) => entry.recordWait(waitedMs)));
      }
    } else if (waits) {
      const buffer = component as WatchableBuffer;
      if (typeof buffer.onTake === 'function') entry.disposers.push(buffer.onTake((_item, heldMs) => entry.recordWait(heldMs)));
    }
    this.watched.set(name, entry);
    this.sampleOne(entry, this.clock.now()); // baseline the rates
    this.arm();
    return () => this.unwatch(name);
  }

  /** Stops watching `name`; returns whether it was watched. Its alerts are removed too. */
  unwatch(name: string): boolean {
    const entry = this.watched.get(name);
    if (entry === undefined) return false;
    for (const dispose of entry.disposers) dispose();
    this.watched.delete(name);
    for (let i = this.alerts.length - 1; i >= 0; i--) if ((this.alerts[i] as AlertState).component === name) this.alerts.splice(i, 1);
    if (this.watched.size === 0) this.disarm();
    return true;
  }

  /**
   * Fires `onFire` once when `condition` has held over `component`'s metrics for `forMs`, and
   * `onResolve` once when it stops holding — never once per sample. Returns a function that
   * removes the alert.
   */
  alert(component: string, condition: AlertCondition, options: AlertOptions & { readonly label?: string } = {}): Disposer {
    if (!this.watched.has(component)) throw new InvalidArgumentError('QueueMonitor.alert', 'component', 'a watched component', component);
    if (typeof condition !== 'function')
      throw new InvalidArgumentError('QueueMonitor.alert', 'condition', 'a function of the metrics', condition);
    const o = checkOptions('QueueMonitor.alert', options, ALERT_KEYS);
    const state: AlertState = {
      component,
      label: o.label ?? (condition.name || 'alert'),
      condition,
      forMs: checkNumber('QueueMonitor.alert', 'forMs', o.forMs ?? 0, { min: 0 }),
      onFire: o.onFire,
      onResolve: o.onResolve,
      heldSince: undefined,
      firing: false,
    };
    this.alerts.push(state);
    return () => {
      const i = this.alerts.indexOf(state);
      if (i >= 0) this.alerts.splice(i, 1);
    };
  }

  /** The latest metrics of `name` (sampled now if it was never sampled); `undefined` if not watched. */
  snapshot(name: string): QueueMetrics | undefined {
    const entry = this.watched.get(name);
    if (entry === undefined) return undefined;
    return entry.last ?? this.sampleOne(entry, this.clock.now());
  }

  /** The latest metrics of every watched component. */
  snapshots(): QueueMetrics[] {
    const out: QueueMetrics[] = [];
    for (const entry of this.watched.values()) out.push(entry.last ?? this.sampleOne(entry, this.clock.now()));
    return out;
  }

  /** Samples every component and evaluates the alerts now (the timer does it every `sampleEveryMs`). */
  sample(): QueueMetrics[] {
    const now = this.clock.now();
    const out: QueueMetrics[] = [];
    for (const entry of this.watched.values()) out.push(this.sampleOne(entry, now));
    this.evaluate(now);
    return out;
  }

  /**
   * The waits of `name` as a new histogram: over the summary window (the last one to two
   * `waitWindowMs`), or over its whole watch (`'all'`, what exporters turn into counters).
   */
  waitHistogram(name: string, span: 'window' | 'all' = 'window'): LogLinearHistogram | undefined {
    const entry = this.watched.get(name);
    if (entry === undefined) return undefined;
    const merged = new LogLinearHistogram();
    if (span === 'all') merged.merge(entry.retired);
    merged.merge(entry.previous);
    merged.merge(entry.current);
    return merged;
  }

  /**
   * Exact cumulative wait counts of `name` over its whole watch at each of `waitBucketsMs`, as
   * `[boundMs, count]`, then `[Infinity, total]`: a Prometheus histogram's `le` series.
   */
  waitBuckets(name: string): (readonly [number, number])[] | undefined {
    const entry = this.watched.get(name);
    if (entry === undefined) return undefined;
    const out: (readonly [number, number])[] = [];
    let cumulative = 0;
    this.waitBucketsMs.forEach((bound, i) => {
      cumulative += entry.slots[i] as number;
      out.push([bound, cumulative] as const);
    });
    out.push([Infinity, cumulative + (entry.slots[this.waitBucketsMs.length] as number)] as const);
    return out;
  }

  /** The labels `name` was watched with. */
  labelsOf(name: string): Readonly<Record<string, string>> | undefined {
    return this.watched.get(name)?.labels;
  }

  /** Stops sampling and unwatches everything; no timer is left. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const name of [...this.watched.keys()]) this.unwatch(name);
    this.alerts.length = 0;
    this.disarm();
  }

  // ---- internals ----

  private arm(): void {
    if (this.timer !== undefined || this.closed) return;
    this.timer = this.clock.setTimer(() => this.tick(), this.sampleEveryMs);
  }

  private disarm(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.timer = undefined;
    this.sample();
    this.arm();
  }

  private sampleOne(entry: Watched, now: number): QueueMetrics {
    if (now - entry.windowStart >= this.waitWindowMs) {
      // rotate: the current window becomes the previous one
      const recycled = entry.previous;
      entry.retired.merge(recycled);
      recycled.reset();
      entry.previous = entry.current;
      entry.current = recycled;
      entry.windowStart = now;
    }
    const component = entry.component;
    let depth: number;
    let enqueued: number;
    let dequeued: number;
    let refused: number;
    let dropped = 0;
    let available: number | undefined;
    if (entry.kind === 'gate') {
      const stats = (component as WatchableGate).stats();
      depth = stats.waiting;
      enqueued = stats.admitted + stats.refused + stats.cancelled + stats.waiting;
      dequeued = stats.admitted;
      refused = stats.refused;
      if (entry.countsZeros) {
        const immediate = stats.admitted - entry.lastAdmitted - (entry.waited - entry.lastWaited);
        if (immediate > 0) {
          entry.current.record(0, immediate);
          entry.countSlot(0, immediate);
        }
        entry.lastAdmitted = stats.admitted;
        entry.lastWaited = entry.waited;
      }
      available = Number.isFinite(stats.available) ? stats.available : undefined;
    } else {
      const stats = (component as WatchableBuffer).stats();
      depth = stats.size;
      enqueued = stats.offered;
      dequeued = stats.taken;
      refused = stats.refused;
      dropped = stats.dropped;
    }
    entry.enqueue.observe(enqueued, now);
    entry.dequeue.observe(dequeued, now);
    entry.refusals.observe(refused, now);
    entry.drops.observe(dropped, now);
    const waits = entry.scratch;
    waits.reset();
    waits.merge(entry.previous);
    waits.merge(entry.current);
    const any = waits.count > 0;
    const state = (component as { readonly state?: unknown }).state;
    const metrics: QueueMetrics = {
      name: entry.name,
      kind: entry.kind,
      depth,
      capacity: component.capacity,
      enqueueRate: entry.enqueue.perSecond,
      dequeueRate: entry.dequeue.perSecond,
      avgWaitMs: any ? waits.mean : Number.NaN,
      maxWaitMs: any ? waits.max : 0,
      p50WaitMs: any ? waits.percentile(50) : Number.NaN,
      p90WaitMs: any ? waits.percentile(90) : Number.NaN,
      p99WaitMs: any ? waits.percentile(99) : Number.NaN,
      dropCount: dropped,
      dropRate: entry.drops.perSecond,
      refusedCount: refused,
      refusedRate: entry.refusals.perSecond,
      pressure: component.pressure,
      state: typeof state === 'string' ? state : undefined,
      available,
      sampledAt: now,
    };
    entry.last = metrics;
    return metrics;
  }

  private evaluate(now: number): void {
    for (const alert of [...this.alerts]) {
      const metrics = this.watched.get(alert.component)?.last;
      if (metrics === undefined) continue;
      let holds: boolean;
      try {
        holds = alert.condition(metrics) === true;
      } catch {
        holds = false; // a broken condition never fires
      }
      if (holds) {
        alert.heldSince ??= now;
        if (!alert.firing && now - alert.heldSince >= alert.forMs) {
          alert.firing = true;
          alert.onFire?.({ component: alert.component, label: alert.label, metrics, since: alert.heldSince });
        }
      } else {
        if (alert.firing) {
          alert.firing = false;
          alert.onResolve?.({ component: alert.component, label: alert.label, metrics, since: now - (alert.heldSince ?? now) });
        }
        alert.heldSince = undefined;
      }
    }
  }
}

const DEFAULT_WAIT_BUCKETS_MS = Object.freeze([1, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000]);

function kindOf(component: unknown): ComponentKind | undefined {
  if (typeof component !== 'object' || component === null) return undefined;
  const c = component as Record<string, unknown>;
  if (typeof c.stats !== 'function') return undefined;
  if (typeof c.tryAcquire === 'function' && typeof c.onAdmit === 'function') return 'gate';
  if (typeof c.offer === 'function' && typeof c.poll === 'function') return 'buffer';
  return undefined;
}

/** Labels the exporters set themselves. */
const RESERVED_LABELS: readonly string[] = ['component', 'le', 'state'];

function checkLabels(labels: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  if (typeof labels !== 'object' || labels === null)
    throw new InvalidArgumentError('QueueMonitor.watch', 'labels', 'an object of strings', labels);
  for (const [key, value] of Object.entries(labels)) {
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key) || key.startsWith('__') || RESERVED_LABELS.includes(key)) {
      throw new InvalidArgumentError(
        'QueueMonitor.watch',
        `labels.${key}`,
        'a Prometheus label name not starting with "__" and none of "component", "le", "state"',
        key,
      );
    }
    if (typeof value !== 'string') throw new InvalidArgumentError('QueueMonitor.watch', `labels.${key}`, 'a string', value);
  }
  return Object.freeze({ ...labels });
}

// ---- built-in conditions ----

/** Holds while the component's depth (waiting requests or held items) is above `n`. */
export function depthAbove(n: number): AlertCondition {
  checkNumber('depthAbove', 'n', n, { min: 0 });
  const condition: AlertCondition = (m) => m.depth > n;
  Object.defineProperty(condition, 'name', { value: `depth above ${n}` });
  return condition;
}

/** Holds while the average (`'avg'`) or 99th-percentile (`'p99'`, default) wait is above `ms`. */
export function waitAbove(ms: number, statistic: 'avg' | 'p99' = 'p99'): AlertCondition {
  checkNumber('waitAbove', 'ms', ms, { min: 0 });
  const condition: AlertCondition = statistic === 'avg' ? (m) => m.avgWaitMs > ms : (m) => m.p99WaitMs > ms;
  Object.defineProperty(condition, 'name', { value: `${statistic} wait above ${ms} ms` });
  return condition;
}

/** Holds while drops per second (EWMA) are above `perSecond`. */
export function dropRateAbove(perSecond: number): AlertCondition {
  checkNumber('dropRateAbove', 'perSecond', perSecond, { min: 0 });
  const condition: AlertCondition = (m) => m.dropRate > perSecond;
  Object.defineProperty(condition, 'name', { value: `drop rate above ${perSecond}/s` });
  return condition;
}
