/**
 * The sluice benchmark harness: what every `*.bench.ts` file uses to declare what it measures.
 *
 * Vocabulary:
 * - A **suite** is what one bench file registers (`suite('ring-deque', ...)`); the name filter of
 *   `pnpm bench <filter>` matches suite and group names.
 * - A **group** is one table: several **cases** measured side by side in the same process,
 *   interleaved in rounds (round r runs every case once, the order rotated by r), so that a
 *   drift of the machine (another tenant, a thermal step, a GC of an earlier group) lands on
 *   every case instead of on whichever ran last. One case per comparison set is the **floor**
 *   (the baseline of the `× floor` column); cases may carry a `param` (say the queue depth) and
 *   then ratios compare cases with the same `param` only.
 * - A **time** case is a function timed by mitata's `measure()` (a generated, batched loop; the
 *   value of a round is the p50 of the batch means). A **macro** case is a whole run (say 100k
 *   tasks) timed with `process.hrtime.bigint()` and divided by its op count. A **metrics** case
 *   reports extra columns (heap bytes per item, heap retained after draining...).
 *
 * The result of a case is the median over rounds of ns/op, with spread = (max − min) / median
 * and the min..max over rounds.
 *
 * Pitfall this API is shaped around — **give each case its own function body**. V8 keeps type
 * feedback (which hidden classes a property access or call site has seen) per function literal,
 * shared by every closure created from that literal. Cases built by one factory
 * (`const mk = (q) => () => { q.push(x); q.shift(); }`) therefore share one set of call sites:
 * after the second implementation ran, the first is measured through polymorphic (or, past four
 * shapes, megamorphic) sites and looks slower than it is. So `time()` takes the body itself, and
 * the harness warns on stderr when two cases of one comparison set have identical source text.
 * For the same reason each case gets its own mitata loop: the loop's source text is made unique
 * per case, so no compilation cache can hand two cases the same `$fn()` call site.
 *
 * @example
 * ```ts
 * import { suite } from '../../../bench/harness.ts';
 *
 * suite('clock', (s) => {
 *   s.group('clock read', { note: 'One op = one read of the clock.' }, (g) => {
 *     g.floor('empty function', () => {});
 *     g.time('Date.now()', () => Date.now());
 *     g.time('performance.now()', () => performance.now());
 *   });
 * });
 * ```
 */
import { do_not_optimize, measure } from 'mitata';

// ---------------------------------------------------------------------------------------------
// Public types

/** A value of an extra column: a number in the column's unit, or a text such as "n/a (...)". */
export type MetricValue = number | string;
/** Extra column values of one row, keyed by {@link MetricColumn.key}. */
export type Metrics = Readonly<Record<string, MetricValue | undefined>>;

/** How an extra column's numbers are printed. */
export type MetricFormat =
  /** bytes, as B / KiB / MiB */
  | 'bytes'
  /** bytes with two decimals (bytes per queued item) */
  | 'bytes-per-item'
  /** nanoseconds, as ns / µs / ms */
  | 'ns'
  /** a plain count with thousands separators */
  | 'count'
  /** a ratio with two decimals */
  | 'ratio'
  /** a share (0–1) shown as a percentage with two decimals */
  | 'percent';

/** An extra column of a group's table. */
export interface MetricColumn {
  /** Key in {@link Metrics}. */
  readonly key: string;
  /** Column header. */
  readonly label: string;
  readonly format: MetricFormat;
}

/** Options of a group (one table). */
export interface GroupOptions {
  /** The method note printed under the table heading: what one op is, what was held constant. */
  readonly note: string;
  /** Header of the leading parameter column (e.g. `D`); cases then pass `param`. */
  readonly param?: string;
  /**
   * Names of cases to add ratio columns for (`× denque`): each row divided by the case of that
   * name with the same `param`.
   */
  readonly compare?: readonly string[];
  /** Add an `added ns/op` column: the row's median minus its floor's. */
  readonly added?: boolean;
  /** Extra columns, filled by cases' `metrics` probes. */
  readonly columns?: readonly MetricColumn[];
  /** Header of the floor ratio column; default `× floor`. */
  readonly floorLabel?: string;
  /** Measured rounds after the warm-up round; default {@link DEFAULT_ROUNDS}. */
  readonly rounds?: number;
  /** mitata time budget per time case per round, in ms; default {@link DEFAULT_BUDGET_MS}. */
  readonly budgetMs?: number;
}

/** Options every case accepts. */
export interface CaseOptions {
  /** The comparison set this case belongs to (e.g. the queue depth); shown in the param column. */
  readonly param?: string | number;
  /** Marks the baseline of its comparison set (the `× floor` column). */
  readonly floor?: boolean;
  /** Extra column values, computed once after the timed rounds. */
  readonly metrics?: () => Metrics | Promise<Metrics>;
}

/** Options of a time case. */
export interface TimeCaseOptions extends CaseOptions {
  /**
   * Probe the case before measuring it (a few direct calls); when one call takes longer than
   * this, the case is not run and its row says so (with `slowReason`) — for O(n) cases at large n.
   */
  readonly maxNsPerOp?: number;
  /** Text of the row when the probe finds the case too slow; default `not run (too slow)`. */
  readonly slowReason?: string;
}

/** A macro case: one run of `ops` operations, timed as a whole. */
export interface MacroSpec {
  /** Operations per run; the row shows total / ops. */
  readonly ops: number;
  /** Untimed preparation before each run (fresh state); a full GC follows it. */
  readonly before?: () => void | Promise<void>;
  /** The timed run. */
  readonly run: () => unknown;
}

/** A time case body: no parameters (mitata treats functions with parameters differently). */
export type CaseBody = () => unknown;

/** What a group's build function uses to declare its cases. Called only when the group runs. */
export interface GroupBuilder {
  /** A time case that is the floor of its comparison set. */
  floor(name: string, body: CaseBody, options?: TimeCaseOptions): void;
  /** A time case: `body` is called in a batched loop; a returned promise is awaited. */
  time(name: string, body: CaseBody, options?: TimeCaseOptions): void;
  /** A macro case: a whole run timed with `process.hrtime.bigint()`. */
  macro(name: string, spec: MacroSpec, options?: CaseOptions): void;
  /** A row that only has extra columns (memory), computed by `probe`. */
  metrics(name: string, probe: () => Metrics | Promise<Metrics>, options?: { readonly param?: string | number }): void;
  /** A row that is shown but not run, with `reason` in place of the numbers. */
  skip(
    name: string,
    reason: string,
    options?: { readonly param?: string | number; readonly metrics?: () => Metrics | Promise<Metrics> },
  ): void;
  /** Called after the group ran (or failed): drop big structures, close gates. */
  teardown(fn: () => void | Promise<void>): void;
}

/** What a suite's define function uses to declare groups. */
export interface SuiteBuilder {
  /**
   * Declares a group. `build` runs only when the group is selected by the filter, right before
   * it is measured, so expensive setup (a million-item queue) costs nothing when filtered out.
   */
  group(name: string, options: GroupOptions, build: (g: GroupBuilder) => void | Promise<void>): void;
}

/** A declared group, as the runner sees it. */
export interface RegisteredGroup {
  readonly suite: string;
  readonly name: string;
  /** Position within its suite (tables are rendered in declaration order). */
  readonly order: number;
  readonly options: GroupOptions;
  readonly build: (g: GroupBuilder) => void | Promise<void>;
}

/** A declared suite. `source` is the bench file it came from, set by the runner. */
export interface RegisteredSuite {
  readonly name: string;
  readonly groups: RegisteredGroup[];
  source: string | undefined;
}

/** One row of a measured group. */
export interface RowResult {
  readonly name: string;
  readonly param: string | number | undefined;
  readonly floor: boolean;
  readonly kind: 'time' | 'macro' | 'metrics' | 'skip';
  /** Why the row has no timing (skipped cases, too-slow probes). */
  readonly skipped: string | undefined;
  /** ns/op of each measured round, in round order. */
  readonly rounds: readonly number[];
  /** Median over rounds of ns/op; undefined when not timed. */
  readonly median: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
  /** (max − min) / median. */
  readonly spread: number | undefined;
  /** Operations per run (macro cases). */
  readonly opsPerRun: number | undefined;
  /** Ratios keyed `floor` and by compared case name. */
  readonly ratios: Readonly<Record<string, number>>;
  /** Median minus the floor's median (when the group asks for it). */
  readonly added: number | undefined;
  readonly metrics: Metrics;
}

/** A measured group, ready to be stored and rendered. */
export interface GroupResult {
  readonly suite: string;
  readonly group: string;
  readonly order: number;
  readonly note: string;
  readonly param: string | undefined;
  readonly compare: readonly string[];
  readonly added: boolean;
  readonly floorLabel: string;
  readonly columns: readonly MetricColumn[];
  readonly rounds: number;
  readonly budgetMs: number;
  readonly rows: readonly RowResult[];
  /** Wall time the group took, in ms. */
  readonly elapsedMs: number;
}

/** Measured rounds per group unless it says otherwise. */
export const DEFAULT_ROUNDS = 5;
/** mitata budget per time case per round unless the group says otherwise, in ms. */
export const DEFAULT_BUDGET_MS = 150;

// ---------------------------------------------------------------------------------------------
// Registration

const registry: RegisteredSuite[] = [];

/**
 * Registers a suite. Call it at the top level of a bench file; `define` runs at once and only
 * declares groups (it must not measure or allocate much).
 */
export function suite(name: string, define: (s: SuiteBuilder) => void): void {
  if (registry.some((existing) => existing.name === name)) throw new Error(`bench: suite "${name}" is registered twice`);
  const registered: RegisteredSuite = { name, groups: [], source: undefined };
  define({
    group(groupName, options, build) {
      if (registered.groups.some((g) => g.name === groupName)) {
        throw new Error(`bench: group "${groupName}" appears twice in suite "${name}"`);
      }
      registered.groups.push({ suite: name, name: groupName, order: registered.groups.length, options, build });
    },
  });
  registry.push(registered);
}

/** Every suite registered so far, in registration order. */
export function registeredSuites(): readonly RegisteredSuite[] {
  return registry;
}

// ---------------------------------------------------------------------------------------------
// Small helpers for bench files

/**
 * Keeps `value` alive and observable so the optimizer cannot drop the computation that made it.
 * Not needed when the body has side effects anyway (a push and a shift).
 */
export function blackhole(value: unknown): void {
  do_not_optimize(value);
}

/** The median of `values` (mean of the middle two for an even count). Does not mutate. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const mid = sorted.length >>> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

type GcFunction = () => void;

function exposedGc(): GcFunction | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? (gc as GcFunction) : undefined;
}

/** `globalThis.gc`, or a clear error when Node was started without `--expose-gc`. */
export function requireGc(): GcFunction {
  const gc = exposedGc();
  if (gc === undefined) throw new Error('bench: memory measurements need `node --expose-gc` (pnpm bench passes it)');
  return gc;
}

/** Bytes in use on the V8 heap after two full collections (the second catches what the first freed late). */
export function settledHeapBytes(): number {
  const gc = requireGc();
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

// Holds the structure under measurement. Locals are avoided on purpose: a stale interpreter
// register from the previous sample could keep that sample's structure alive through the next
// sample's "before" reading, which then cancels out the delta.
const holder: { value: unknown } = { value: undefined };

/** What {@link measureRetention} measures: a structure filled with `items` entries. */
export interface RetentionProbe<S> {
  /** Entries to add (e.g. 1,000,000 references to one small object created beforehand). */
  readonly items: number;
  /** Creates the empty structure. */
  readonly create: () => S;
  /** Adds `items` entries. */
  readonly fill: (structure: S, items: number) => void;
  /** Removes every entry; omit when draining is impractical (the column then shows `notDrained`). */
  readonly drain?: (structure: S) => void;
  /** Runs; the median is reported. Default 3. */
  readonly samples?: number;
}

/** Result of {@link measureRetention}. */
export interface Retention {
  /** (heap after filling − heap before creating) / items, after full GCs. Median of samples. */
  readonly bytesPerItem: number;
  /** Heap still held after draining to 0 (the structure itself is kept alive); undefined without `drain`. */
  readonly retainedAfterDrain: number | undefined;
}

/**
 * Measures heap bytes per retained item and what a structure keeps after draining to 0, with
 * full GCs around each step (needs `--expose-gc`). The drained structure stays reachable while
 * the heap is read, so the number is what the structure itself holds on to.
 */
export function measureRetention<S>(probe: RetentionProbe<S>): Retention {
  const perItem: number[] = [];
  const afterDrain: number[] = [];
  for (let sample = 0; sample < (probe.samples ?? 3); sample++) {
    const [bytes, drained] = retentionSample(probe);
    perItem.push(bytes / probe.items);
    if (drained !== undefined) afterDrain.push(Math.max(0, drained));
  }
  return {
    bytesPerItem: median(perItem),
    retainedAfterDrain: afterDrain.length === 0 ? undefined : median(afterDrain),
  };
}

/** One sample in its own frame, so nothing of it outlives the call. */
function retentionSample<S>(probe: RetentionProbe<S>): [filled: number, drained: number | undefined] {
  const before = settledHeapBytes();
  holder.value = probe.create();
  probe.fill(holder.value as S, probe.items);
  const filled = settledHeapBytes() - before;
  let drained: number | undefined;
  if (probe.drain !== undefined) {
    probe.drain(holder.value as S);
    drained = settledHeapBytes() - before;
  }
  holder.value = undefined;
  return [filled, drained];
}

/** A block of `ops` operations timed as a whole with `process.hrtime.bigint()`. */
export interface BlockTiming {
  /** Operations `run` performs. */
  readonly ops: number;
  /** Untimed, before each sample (e.g. refill the queue to depth N). */
  readonly reset?: () => void;
  /** The timed block. */
  readonly run: () => void;
  /** Samples; the median is reported. Default 3. */
  readonly samples?: number;
  /**
   * Unrecorded samples first, so `run` and what it calls reach optimized code before anything
   * is recorded (a short block otherwise measures the interpreter). Default 3.
   */
  readonly warmup?: number;
}

/** ns per op of a block of operations, median of samples (after `warmup` unrecorded ones). */
export function timeBlock(block: BlockTiming): number {
  const results: number[] = [];
  const warmup = block.warmup ?? 3;
  for (let sample = -warmup; sample < (block.samples ?? 3); sample++) {
    block.reset?.();
    const start = process.hrtime.bigint();
    block.run();
    if (sample >= 0) results.push(Number(process.hrtime.bigint() - start) / block.ops);
  }
  return median(results);
}

// ---------------------------------------------------------------------------------------------
// Running a group

interface CaseBase {
  readonly name: string;
  readonly param: string | number | undefined;
  readonly floor: boolean;
  readonly metrics: (() => Metrics | Promise<Metrics>) | undefined;
}
type CaseDef =
  | (CaseBase & {
      readonly kind: 'time';
      readonly body: CaseBody;
      readonly maxNsPerOp: number | undefined;
      readonly slowReason: string | undefined;
    })
  | (CaseBase & { readonly kind: 'macro'; readonly spec: MacroSpec })
  | (CaseBase & { readonly kind: 'metrics' })
  | (CaseBase & { readonly kind: 'skip'; readonly reason: string });

/** Where progress lines go (stderr in the runner). */
export type ProgressLog = (line: string) => void;

/** Settings the runner may override for every group (e.g. `--quick`). */
export interface RunSettings {
  /** Overrides every group's `rounds`. */
  readonly rounds?: number;
  /** Overrides every group's `budgetMs`. */
  readonly budgetMs?: number;
}

// Makes every time case's generated mitata loop unique (see the module comment).
let loopSalt = 0;

function label(c: { readonly name: string; readonly param: string | number | undefined }, paramLabel: string | undefined): string {
  return c.param === undefined ? c.name : `${paramLabel ?? 'param'}=${c.param} · ${c.name}`;
}

function shortNs(ns: number): string {
  if (ns < 1_000) return `${ns.toFixed(ns < 10 ? 2 : 1)} ns`;
  if (ns < 1_000_000) return `${(ns / 1_000).toFixed(1)} µs`;
  return `${(ns / 1_000_000).toFixed(2)} ms`;
}

async function probeNsPerOp(body: CaseBody): Promise<number> {
  // Three direct calls; the first one includes compilation, so take the last.
  let last = 0;
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    const value = body();
    if (value instanceof Promise) await value;
    last = Number(process.hrtime.bigint() - start);
  }
  return last;
}

async function runMacroOnce(spec: MacroSpec, gc: GcFunction | undefined): Promise<number> {
  await spec.before?.();
  gc?.();
  const start = process.hrtime.bigint();
  const value = spec.run();
  if (value instanceof Promise) await value;
  return Number(process.hrtime.bigint() - start) / spec.ops;
}

function warnSharedBodies(cases: readonly CaseDef[], group: RegisteredGroup, log: ProgressLog): void {
  const seen = new Map<string, string>();
  for (const c of cases) {
    if (c.kind !== 'time') continue;
    const key = `${String(c.param)}\u0000${c.body.toString()}`;
    const other = seen.get(key);
    if (other !== undefined) {
      log(
        `  warning: [${group.name}] "${other}" and "${c.name}" have identical source text; if one factory builds both, ` +
          'they share V8 type feedback and the later one skews the earlier. Give each case its own body.',
      );
    } else {
      seen.set(key, c.name);
    }
  }
}

/**
 * Builds and measures one group: a probe of cases that declare `maxNsPerOp`, one warm-up round
 * (discarded), `rounds` measured rounds in rotated order, then the metrics probes.
 */
export async function runGroup(group: RegisteredGroup, settings: RunSettings, log: ProgressLog): Promise<GroupResult> {
  const startedAt = performance.now();
  const options = group.options;
  const rounds = settings.rounds ?? options.rounds ?? DEFAULT_ROUNDS;
  const budgetMs = settings.budgetMs ?? options.budgetMs ?? DEFAULT_BUDGET_MS;
  const gc = exposedGc();
  if (gc === undefined) log('  warning: no --expose-gc; mitata cannot collect between cases and memory probes will fail');

  const cases: CaseDef[] = [];
  const teardowns: (() => void | Promise<void>)[] = [];
  const add = (c: CaseDef): void => {
    if (cases.some((other) => other.name === c.name && other.param === c.param)) {
      throw new Error(`bench: case "${label(c, options.param)}" appears twice in group "${group.name}"`);
    }
    cases.push(c);
  };
  const timeCase = (name: string, body: CaseBody, opts: TimeCaseOptions | undefined, floor: boolean): void => {
    if (typeof body !== 'function' || body.length !== 0) throw new Error(`bench: case "${name}" needs a body without parameters`);
    add({
      kind: 'time',
      name,
      body,
      param: opts?.param,
      floor: floor || opts?.floor === true,
      metrics: opts?.metrics,
      maxNsPerOp: opts?.maxNsPerOp,
      slowReason: opts?.slowReason,
    });
  };
  const builder: GroupBuilder = {
    floor: (name, body, opts) => timeCase(name, body, opts, true),
    time: (name, body, opts) => timeCase(name, body, opts, false),
    macro: (name, spec, opts) => {
      if (!(spec.ops > 0)) throw new Error(`bench: macro case "${name}" needs ops > 0`);
      add({ kind: 'macro', name, spec, param: opts?.param, floor: opts?.floor === true, metrics: opts?.metrics });
    },
    metrics: (name, probe, opts) => add({ kind: 'metrics', name, param: opts?.param, floor: false, metrics: probe }),
    skip: (name, reason, opts) => add({ kind: 'skip', name, reason, param: opts?.param, floor: false, metrics: opts?.metrics }),
    teardown: (fn) => {
      teardowns.push(fn);
    },
  };

  try {
    await group.build(builder);
    warnSharedBodies(cases, group, log);

    const skipped = new Map<CaseDef, string>();
    for (const c of cases) {
      if (c.kind === 'skip') skipped.set(c, c.reason);
      if (c.kind === 'time' && c.maxNsPerOp !== undefined) {
        const probe = await probeNsPerOp(c.body);
        if (probe > c.maxNsPerOp) {
          const reason = `${c.slowReason ?? 'not run (too slow)'}; probe ≈ ${shortNs(probe)}/op`;
          skipped.set(c, reason);
          log(`  [${group.name}] ${label(c, options.param)}: ${reason}`);
        }
      }
    }

    const timed = cases.filter((c) => (c.kind === 'time' || c.kind === 'macro') && !skipped.has(c));
    // Each case keeps its own mitata options object for every round, so its loop text is stable
    // across rounds (re-used, already warm) and distinct from every other case's.
    const mitataOptions = new Map<CaseDef, { min_cpu_time: number; max_samples: number; gc: GcFunction | false }>();
    for (const c of timed) {
      if (c.kind !== 'time') continue;
      mitataOptions.set(c, { min_cpu_time: budgetMs * 1e6, max_samples: 1_000_000_000 + loopSalt++, gc: gc ?? false });
    }
    const results = new Map<CaseDef, number[]>(timed.map((c) => [c, []]));

    const measureOnce = async (c: CaseDef): Promise<number> => {
      if (c.kind === 'macro') return runMacroOnce(c.spec, gc);
      if (c.kind !== 'time') throw new Error('unreachable');
      // A fresh copy each time: mitata fills in defaults on the object it is given.
      const stats = await measure(c.body, { ...(mitataOptions.get(c) as object) });
      return stats.p50;
    };

    for (let round = -1; round < rounds; round++) {
      const order = round < 0 ? timed : timed.map((_, i) => timed[(i + round) % timed.length] as CaseDef);
      const roundName = round < 0 ? 'warm-up' : `round ${round + 1}/${rounds}`;
      for (const c of order) {
        const ns = await measureOnce(c);
        if (round >= 0) (results.get(c) as number[]).push(ns);
        log(`  [${group.name}] ${roundName} · ${label(c, options.param)}: ${shortNs(ns)}/op`);
      }
    }

    const metrics = new Map<CaseDef, Metrics>();
    for (const c of cases) {
      if (c.metrics === undefined) continue;
      log(`  [${group.name}] metrics · ${label(c, options.param)} ...`);
      const values = await c.metrics();
      metrics.set(c, values);
      log(`  [${group.name}] metrics · ${label(c, options.param)}: ${JSON.stringify(values)}`);
    }

    const rows = buildRows(cases, results, skipped, metrics, options);
    return {
      suite: group.suite,
      group: group.name,
      order: group.order,
      note: options.note,
      param: options.param,
      compare: options.compare ?? [],
      added: options.added === true,
      floorLabel: options.floorLabel ?? '× floor',
      columns: options.columns ?? [],
      rounds,
      budgetMs,
      rows,
      elapsedMs: performance.now() - startedAt,
    };
  } finally {
    for (const fn of teardowns) await fn();
  }
}

function buildRows(
  cases: readonly CaseDef[],
  results: ReadonlyMap<CaseDef, readonly number[]>,
  skipped: ReadonlyMap<CaseDef, string>,
  metrics: ReadonlyMap<CaseDef, Metrics>,
  options: GroupOptions,
): RowResult[] {
  const medians = new Map<CaseDef, number>();
  for (const [c, values] of results) medians.set(c, median(values));
  const medianOf = (predicate: (c: CaseDef) => boolean, param: string | number | undefined): number | undefined => {
    for (const c of cases) if (c.param === param && predicate(c) && medians.has(c)) return medians.get(c);
    return undefined;
  };
  return cases.map((c): RowResult => {
    const values = results.get(c) ?? [];
    const mid = medians.get(c);
    const ratios: Record<string, number> = {};
    let added: number | undefined;
    if (mid !== undefined) {
      const floor = medianOf((other) => other.floor, c.param);
      if (floor !== undefined) {
        ratios.floor = mid / floor;
        if (options.added === true) added = mid - floor;
      }
      for (const name of options.compare ?? []) {
        const against = medianOf((other) => other.name === name, c.param);
        if (against !== undefined) ratios[name] = mid / against;
      }
    }
    const min = values.length > 0 ? Math.min(...values) : undefined;
    const max = values.length > 0 ? Math.max(...values) : undefined;
    return {
      name: c.name,
      param: c.param,
      floor: c.floor,
      kind: skipped.has(c) ? 'skip' : c.kind,
      skipped: skipped.get(c),
      rounds: values,
      median: mid,
      min,
      max,
      spread: mid !== undefined && min !== undefined && max !== undefined && mid > 0 ? (max - min) / mid : undefined,
      opsPerRun: c.kind === 'macro' ? c.spec.ops : undefined,
      ratios,
      added,
      metrics: metrics.get(c) ?? {},
    };
  });
}

/**
 * Heap bytes allocated per call of `op`: the used heap after `ops` calls minus before, right
 * after a full GC, divided by `ops` (median of `samples`). Keep `ops × bytes` well under the
 * young generation (a few MiB), so no scavenge runs inside the loop and hides allocations.
 * Needs `--expose-gc`.
 */
export function bytesAllocatedPerOp(op: () => unknown, ops = 20_000, samples = 5): number {
  const gc = requireGc();
  for (let i = 0; i < ops; i++) op(); // warm up: optimized code allocates less than the interpreter
  const results: number[] = [];
  for (let s = 0; s < samples; s++) {
    gc();
    gc();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < ops; i++) op();
    results.push(Math.max(0, process.memoryUsage().heapUsed - before) / ops);
  }
  return median(results);
}
