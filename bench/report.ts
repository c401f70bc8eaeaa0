/**
 * Storing and rendering benchmark results: one JSON file per group under `bench/results/`, and
 * `bench/RESULTS.md` re-rendered from all of them (so a filtered run replaces only its groups).
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { GroupResult, MetricColumn, MetricFormat, MetricValue, RowResult } from './harness.ts';

// ---------------------------------------------------------------------------------------------
// Machine

/** Where and when a run happened. */
export interface MachineInfo {
  readonly nproc: number;
  readonly cpu: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly clocksource: string | undefined;
  readonly node: string;
  readonly v8: string;
  readonly platform: string;
  /** 1, 5 and 15 minute load averages when the run started. */
  readonly loadAvg: readonly string[];
  /** ISO time the run started. */
  readonly startedAt: string;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Describes this machine and process; call it once at the start of a run. */
export function describeMachine(): MachineInfo {
  const cpuinfo = readText('/proc/cpuinfo');
  const model = cpuinfo?.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    nproc: typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length,
    cpu: model,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    kernel: os.release(),
    clocksource: readText('/sys/devices/system/clocksource/clocksource0/current_clocksource')?.trim(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform}-${process.arch}`,
    loadAvg: os.loadavg().map((x) => x.toFixed(2)),
    startedAt: new Date().toISOString(),
  };
}

// ---------------------------------------------------------------------------------------------
// Stored records

/** What is stored per group: the measured group plus where it came from. */
export interface GroupRecord extends GroupResult {
  readonly schema: 1;
  /** Stable id, also the file name: `<suite>--<group>` slugged. */
  readonly id: string;
  /** The bench file, relative to the repository root. */
  readonly source: string;
  readonly machine: MachineInfo;
}

function slug(text: string): string {
  return text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 80);
}

/** The stable id (and file stem) of a group. */
export function groupId(suite: string, group: string): string {
  return `${slug(suite)}--${slug(group)}`;
}

/** Writes one group's record to `<dir>/<id>.json`. */
export function writeRecord(dir: string, record: GroupRecord): string {
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${record.id}.json`);
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
  return file;
}

/** Reads every stored record. */
export function readRecords(dir: string): GroupRecord[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(path.join(dir, name), 'utf8')) as GroupRecord)
    .filter((record) => record.schema === 1);
}

/**
 * Deletes stale records: those whose bench file is gone, and, for every suite that ran
 * completely in this run, those of its groups that no longer exist. Returns the deleted ids.
 */
export function pruneRecords(dir: string, root: string, completeSuites: ReadonlyMap<string, ReadonlySet<string>>): string[] {
  const deleted: string[] = [];
  for (const record of readRecords(dir)) {
    const ids = completeSuites.get(record.suite);
    const gone = !existsSync(path.join(root, record.source)) || (ids !== undefined && !ids.has(record.id));
    if (gone) {
      rmSync(path.join(dir, `${record.id}.json`), { force: true });
      deleted.push(record.id);
    }
  }
  return deleted;
}

// ---------------------------------------------------------------------------------------------
// Number formats (compact, like the peer baseline tables)

/** ns/op: `1.46`, `15.7`, `3375`, `10.5 µs`, `2.29 ms`, `3109.1 ms`, `12.34 s`. */
export function formatNs(ns: number): string {
  if (!Number.isFinite(ns)) return String(ns);
  if (ns < 10) return ns.toFixed(2);
  if (ns < 100) return ns.toFixed(1);
  if (ns < 10_000) return ns.toFixed(0);
  if (ns < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (ns < 1e8) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns < 1e10) return `${(ns / 1e6).toFixed(1)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** ops/s: `686 M`, `10.33 M`, `664.8 k`, `322`. */
export function formatRate(perSecond: number): string {
  if (!Number.isFinite(perSecond)) return String(perSecond);
  if (perSecond >= 1e8) return `${(perSecond / 1e6).toFixed(0)} M`;
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)} M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)} k`;
  return perSecond.toFixed(0);
}

/** A share as percent: `0.9%`, `61%`. */
export function formatPercent(share: number): string {
  const percent = share * 100;
  return percent < 10 ? `${percent.toFixed(1)}%` : `${percent.toFixed(0)}%`;
}

/** A ratio: `0.02`, `1.35`, `28.92`, `921`. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return String(ratio);
  return ratio < 100 ? ratio.toFixed(2) : ratio.toFixed(0);
}

/** Bytes: `386 B`, `12.4 KiB`, `8.0 MiB`. */
export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs < 1024) return `${bytes.toFixed(0)} B`;
  if (abs < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (abs < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

function formatMetric(value: MetricValue | undefined, format: MetricFormat): string {
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  switch (format) {
    case 'bytes':
      return formatBytes(value);
    case 'bytes-per-item':
      return value.toFixed(2);
    case 'ns':
      return formatNs(value);
    case 'count':
      return Math.round(value).toLocaleString('en-US');
    case 'ratio':
      return formatRatio(value);
    case 'percent':
      return `${(value * 100).toFixed(2)} %`;
  }
}

/** Signed ns, for the `added ns/op` column. */
function formatAdded(ns: number): string {
  return ns < 0 ? `−${formatNs(-ns)}` : formatNs(ns);
}

// ---------------------------------------------------------------------------------------------
// Tables

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function markdownTable(header: readonly string[], align: readonly ('l' | 'r')[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.map(escapeCell).join(' | ')} |`;
  return [line(header), line(align.map((a) => (a === 'r' ? '---:' : '---'))), ...rows.map(line)].join('\n');
}

interface Column {
  readonly header: string;
  readonly align: 'l' | 'r';
  readonly cell: (row: RowResult) => string;
}

/** The columns of a group's table, chosen from what its rows carry. */
function columnsOf(group: GroupResult): Column[] {
  const rows = group.rows;
  const timing = rows.some((r) => r.median !== undefined);
  const columns: Column[] = [];
  if (group.param !== undefined)
    columns.push({ header: group.param, align: 'r', cell: (r) => (r.param === undefined ? '' : String(r.param)) });
  columns.push({ header: 'case', align: 'l', cell: (r) => r.name });
  if (timing) {
    const skipText = (r: RowResult): string => r.skipped ?? '';
    columns.push(
      { header: 'ns/op (median)', align: 'r', cell: (r) => (r.median === undefined ? skipText(r) : formatNs(r.median)) },
      { header: 'ops/s', align: 'r', cell: (r) => (r.median === undefined || r.median <= 0 ? '' : formatRate(1e9 / r.median)) },
      { header: 'spread', align: 'r', cell: (r) => (r.spread === undefined ? '' : formatPercent(r.spread)) },
      {
        header: 'min..max',
        align: 'r',
        cell: (r) => (r.min === undefined || r.max === undefined ? '' : `${formatNs(r.min)}..${formatNs(r.max)}`),
      },
    );
    if (rows.some((r) => r.opsPerRun !== undefined)) {
      columns.push({
        header: 'run total (median)',
        align: 'r',
        cell: (r) =>
          r.opsPerRun === undefined || r.median === undefined
            ? ''
            : `${formatNs(r.median * r.opsPerRun)} / ${r.opsPerRun.toLocaleString('en-US')} ops`,
      });
    }
    if (rows.some((r) => r.floor)) {
      columns.push({
        header: group.floorLabel,
        align: 'r',
        cell: (r) => (r.ratios.floor === undefined ? '' : formatRatio(r.ratios.floor)),
      });
    }
    for (const name of group.compare) {
      columns.push({ header: `× ${name}`, align: 'r', cell: (r) => (r.ratios[name] === undefined ? '' : formatRatio(r.ratios[name])) });
    }
    if (group.added) {
      columns.push({ header: 'added ns/op', align: 'r', cell: (r) => (r.added === undefined ? '' : formatAdded(r.added)) });
    }
  } else {
    // A metrics-only table still shows why a row has no numbers.
    if (rows.some((r) => r.skipped !== undefined)) columns.push({ header: 'note', align: 'l', cell: (r) => r.skipped ?? '' });
  }
  for (const metric of group.columns as readonly MetricColumn[]) {
    columns.push({ header: metric.label, align: 'r', cell: (r) => formatMetric(r.metrics[metric.key], metric.format) });
  }
  return columns;
}

/** One group as a markdown table (no heading). */
export function renderTable(group: GroupResult): string {
  const columns = columnsOf(group);
  return markdownTable(
    columns.map((c) => c.header),
    columns.map((c) => c.align),
    group.rows.map((row) => columns.map((c) => c.cell(row))),
  );
}

function formatMachineRows(machine: MachineInfo): string[][] {
  return [
    ['nproc', String(machine.nproc)],
    ['CPU', machine.cpu],
    ['memory', `${machine.memoryGiB.toFixed(1)} GiB`],
    ['kernel', `${machine.kernel}${machine.clocksource === undefined ? '' : ` (clocksource ${machine.clocksource})`}`],
    ['node', `${machine.node} (V8 ${machine.v8}), ${machine.platform}`],
    ['load avg at start', machine.loadAvg.join(' ')],
    ['date', machine.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')],
  ];
}

function sameHost(a: MachineInfo, b: MachineInfo): boolean {
  return a.cpu === b.cpu && a.nproc === b.nproc && a.node === b.node && a.kernel === b.kernel;
}

function roundsNote(record: GroupRecord): string {
  const kinds = new Set(record.rows.filter((r) => r.median !== undefined).map((r) => r.kind));
  if (kinds.size === 0) return 'metrics measured once per row';
  const budget = kinds.has('time') ? `, ${record.budgetMs} ms mitata budget per time case per round` : '';
  return `${record.rounds} measured round${record.rounds === 1 ? '' : 's'} after a warm-up round${budget}`;
}

/** Renders the whole RESULTS.md from stored records. */
export function renderResults(
  records: readonly GroupRecord[],
  packages: readonly { name: string; version: string }[],
  charts: { readonly charted: ReadonlySet<string>; readonly overview: string | undefined } = { charted: new Set(), overview: undefined },
): string {
  const sorted = records.slice().sort((a, b) => a.source.localeCompare(b.source) || a.suite.localeCompare(b.suite) || a.order - b.order);
  const latest = records.slice().sort((a, b) => b.machine.startedAt.localeCompare(a.machine.startedAt))[0];
  const out: string[] = [];
  out.push('# sluice benchmark results', '');
  out.push(
    'Generated by `pnpm bench [filter]` (`bench/run.ts`) from the JSON files in `bench/results/`; do not edit by hand.',
    'A filtered run replaces only the groups it ran; every table says when it was measured.',
    '',
  );
  if (latest !== undefined) {
    out.push('## Machine (most recent run)', '');
    out.push(markdownTable(['machine', ''], ['l', 'l'], formatMachineRows(latest.machine)), '');
  }
  out.push(`Packages (exact pins): ${packages.map((p) => `${p.name}@${p.version}`).join(', ')}`, '');
  if (charts.overview !== undefined) {
    out.push('## Every hot path at a glance', '');
    out.push(`![sluice's best row and the best peer's, each over the floor of its table](charts/${charts.overview})`, '');
  }
  out.push(
    'Method: time cases use mitata `measure()` (a generated loop per case, batched, p50 of the batch means) in',
    'interleaved rounds after one discarded warm-up round (round r runs every case of the table once, in an order',
    'rotated by r); macro cases time whole runs with `process.hrtime.bigint()` the same way, after a warm-up run.',
    'Every number is the median over rounds; spread = (max − min) / median over those rounds; min..max are the',
    'extreme rounds. Memory columns are heap deltas after full GCs (`--expose-gc`). Ratios compare rows of the',
    'same table (and the same parameter) measured in the same process. On a shared 2-core VM treat differences',
    'under ~1.5× as noise unless the spread columns are small.',
    '',
  );
  const seen = new Set<string>();
  for (const record of sorted) {
    if (!seen.has(record.suite)) {
      seen.add(record.suite);
      out.push(`## ${record.suite} (\`${record.source}\`)`, '');
    }
    out.push(`### ${record.group}`, '');
    const when = record.machine.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
    const where =
      latest !== undefined && !sameHost(record.machine, latest.machine)
        ? ` on ${record.machine.cpu}, ${record.machine.nproc} cores, node ${record.machine.node}`
        : '';
    out.push(
      `${record.note} Measured ${when}${where} (load avg at start ${record.machine.loadAvg.join(' ')}); ` + `${roundsNote(record)}.`,
      '',
    );
    out.push(renderTable(record), '');
    if (charts.charted.has(record.id))
      out.push(`![${record.suite} › ${record.group}: median ÷ floor per row](charts/${record.id}.svg)`, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}
