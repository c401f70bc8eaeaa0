/**
 * SVG charts for RESULTS.md, drawn from the stored group records (no dependencies: plain SVG
 * text). One chart per timed group that has a floor — a bar per row, its median over the
 * floor's — and an overview of every hot path: sluice's best row and the best peer's, each over
 * the floor of its table.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { GroupRecord } from './report.ts';

/** Colours of the bars: the floor, sluice's rows, the peers'. */
const COLOURS = { floor: '#9aa0a6', sluice: '#1a7f8e', peer: '#d9822b' } as const;

type Kind = keyof typeof COLOURS;

interface Bar {
  readonly label: string;
  readonly ratio: number;
  readonly kind: Kind;
}

/** Row names that measure a peer library or a plain-JavaScript reference, not sluice. */
const PEER =
  /^(p-limit|p-queue|bottleneck|cockatiel|opossum|rate-limiter-flexible|limiter |async-sema|denque|array |reference|seed design|redis-benchmark|raw |ioredis )/i;

/** Whether a row is the table's floor, a peer's (by its name), or sluice's. */
function kindOf(name: string, floor: boolean): Kind {
  if (floor) return 'floor';
  return PEER.test(name) ? 'peer' : 'sluice';
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function formatRatio(ratio: number): string {
  return ratio >= 100 ? `${ratio.toFixed(0)}×` : ratio >= 10 ? `${ratio.toFixed(1)}×` : `${ratio.toFixed(2)}×`;
}

/**
 * A horizontal bar chart of ratios on a log scale (peers can be 100× slower than the floor while
 * sluice sits near 1×), with a line at 1× (the floor).
 */
export function barChart(title: string, bars: readonly Bar[]): string {
  const labelWidth = 400;
  const plotWidth = 420;
  const rowHeight = 22;
  const top = 34;
  const height = top + bars.length * rowHeight + 30;
  const width = labelWidth + plotWidth + 70;
  const max = Math.max(2, ...bars.map((b) => b.ratio));
  const min = Math.min(0.5, ...bars.map((b) => b.ratio));
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  const x = (ratio: number): number => labelWidth + ((Math.log10(ratio) - lo) / (hi - lo)) * plotWidth;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect width="100%" height="100%" fill="#ffffff"/>`);
  out.push(`<text x="8" y="20" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  bars.forEach((bar, i) => {
    const y = top + i * rowHeight;
    const start = x(min);
    const end = x(bar.ratio);
    out.push(
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(bar.label.length > 60 ? `${bar.label.slice(0, 59)}…` : bar.label)}</text>`,
    );
    out.push(
      `<rect x="${start.toFixed(1)}" y="${y + 4}" width="${Math.max(1, end - start).toFixed(1)}" height="${rowHeight - 8}" fill="${COLOURS[bar.kind]}"/>`,
    );
    out.push(`<text x="${(end + 4).toFixed(1)}" y="${y + 15}">${formatRatio(bar.ratio)}</text>`);
  });
  const one = x(1);
  out.push(
    `<line x1="${one.toFixed(1)}" y1="${top - 4}" x2="${one.toFixed(1)}" y2="${top + bars.length * rowHeight}" stroke="#333" stroke-dasharray="3,3"/>`,
  );
  out.push(`<text x="${one.toFixed(1)}" y="${top + bars.length * rowHeight + 16}" text-anchor="middle">1× floor (log scale)</text>`);
  const legendY = height - 6;
  (['floor', 'sluice', 'peer'] as const).forEach((kind, i) => {
    const lx = 8 + i * 90;
    out.push(
      `<rect x="${lx}" y="${legendY - 10}" width="10" height="10" fill="${COLOURS[kind]}"/><text x="${lx + 14}" y="${legendY}">${kind}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** The bars of one group: every timed row over the floor (none when the table has no floor). */
export function groupBars(record: GroupRecord): Bar[] {
  const floors = record.rows.filter((r) => r.floor && r.median !== undefined);
  if (floors.length === 0) return [];
  return record.rows
    .filter((r) => r.ratios.floor !== undefined || (r.floor && r.median !== undefined))
    .map((r) => ({
      label: `${r.param === undefined ? '' : `${record.param ?? ''}=${r.param} · `}${r.name}`,
      ratio: r.floor ? 1 : (r.ratios.floor as number),
      kind: kindOf(r.name, r.floor),
    }));
}

/** The file name (under `bench/charts/`) of a group's chart. */
export function chartFile(record: GroupRecord): string {
  return `${record.id}.svg`;
}

/**
 * Writes every chart into `dir` (removing stale ones) and returns the ids of the groups that
 * got one, plus the overview chart's file name when there is something to compare.
 */
export function writeCharts(
  records: readonly GroupRecord[],
  dir: string,
): { readonly charted: ReadonlySet<string>; readonly overview: string | undefined } {
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(dir)) if (file.endsWith('.svg')) rmSync(path.join(dir, file));
  const charted = new Set<string>();
  // the overload example's timeline, drawn under its group's table
  const timelineFile = path.join(dir, '..', 'timelines', 'overload-service.json');
  const overloadRecord = records.find((r) => r.suite === 'overload-service');
  if (existsSync(timelineFile) && overloadRecord !== undefined) {
    writeFileSync(path.join(dir, `${overloadRecord.id}.svg`), timelineChart(JSON.parse(readFileSync(timelineFile, 'utf8'))));
    charted.add(overloadRecord.id);
  }
  const overview: Bar[] = [];
  for (const record of records) {
    const bars = groupBars(record);
    if (bars.length < 2) continue;
    writeFileSync(path.join(dir, chartFile(record)), barChart(`${record.suite} › ${record.group} (median ÷ floor)`, bars));
    charted.add(record.id);
    // the overview compares rows of the table's first parameter value only
    const first = record.rows[0]?.param;
    const sameParam = groupBars({ ...record, rows: record.rows.filter((r) => r.param === first) });
    const best = (kind: Kind): Bar | undefined => sameParam.filter((b) => b.kind === kind).sort((a, b) => a.ratio - b.ratio)[0];
    const ours = best('sluice');
    const theirs = best('peer');
    if (ours !== undefined && theirs !== undefined) {
      overview.push({ label: `${record.suite} › ${record.group}`, ratio: ours.ratio, kind: 'sluice' });
      overview.push({ label: `best peer: ${theirs.label}`, ratio: theirs.ratio, kind: 'peer' });
    }
  }
  if (overview.length === 0) return { charted, overview: undefined };
  writeFileSync(
    path.join(dir, 'overview.svg'),
    barChart('Every hot path: sluice’s best row and the best peer’s (median ÷ floor)', overview),
  );
  return { charted, overview: 'overview.svg' };
}

/** One second of a timeline (as the overload example's load generator records it). */
interface TimelinePoint {
  readonly second: number;
  readonly admitted: number;
  readonly p99Ms: number;
}

/** A line of a panel: points (x, y), a colour and a legend label. */
interface Series {
  readonly label: string;
  readonly colour: string;
  readonly points: readonly (readonly [number, number])[];
}

function panel(
  out: string[],
  top: number,
  height: number,
  width: number,
  title: string,
  series: readonly Series[],
  log: boolean,
  unit: string,
  target?: number,
): void {
  const left = 70;
  const plotWidth = width - left - 20;
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = series.flatMap((s) => s.points.map((p) => p[1])).filter((y) => y > 0);
  const xMax = Math.max(1, ...xs);
  const yMax = Math.max(1, ...ys) * 1.1;
  const yMin = log ? Math.max(1, Math.min(...ys) / 2) : 0;
  const x = (v: number) => left + (v / xMax) * plotWidth;
  const y = (v: number) => {
    const share = log ? (Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : v / yMax;
    return top + height - share * height;
  };
  out.push(`<text x="8" y="${top - 8}" font-size="13" font-weight="bold">${escapeXml(title)}</text>`);
  out.push(`<line x1="${left}" y1="${top + height}" x2="${left + plotWidth}" y2="${top + height}" stroke="#333"/>`);
  out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + height}" stroke="#333"/>`);
  const ticks = log ? [yMin, Math.sqrt(yMin * yMax), yMax] : [0, yMax / 2, yMax];
  for (const tick of ticks) {
    out.push(
      `<text x="${left - 6}" y="${y(tick) + 4}" text-anchor="end" font-size="11">${Math.round(tick).toLocaleString('en-US')} ${unit}</text>`,
    );
    out.push(`<line x1="${left}" y1="${y(tick)}" x2="${left + plotWidth}" y2="${y(tick)}" stroke="#e0e0e0"/>`);
  }
  for (let second = 0; second <= xMax; second += Math.max(1, Math.round(xMax / 10))) {
    out.push(`<text x="${x(second)}" y="${top + height + 14}" text-anchor="middle" font-size="11">${second} s</text>`);
  }
  for (const s of series) {
    const shown = s.points.filter((p) => !log || p[1] > 0);
    const points = shown.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${s.colour}" stroke-width="2" points="${points}"/>`);
    for (const p of shown) out.push(`<circle cx="${x(p[0]).toFixed(1)}" cy="${y(p[1]).toFixed(1)}" r="3" fill="${s.colour}"/>`);
  }
  if (target !== undefined) {
    out.push(
      `<line x1="${left}" y1="${y(target).toFixed(1)}" x2="${left + plotWidth}" y2="${y(target).toFixed(1)}" stroke="#c62828" stroke-dasharray="5,4"/>`,
    );
    out.push(
      `<text x="${left + plotWidth}" y="${(y(target) - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#c62828">target ${target} ${unit}</text>`,
    );
  }
}

/**
 * The overload example's run as a chart: admitted requests per second and their p99 latency per
 * second, unprotected against protected (from `bench/timelines/overload-service.json`).
 */
export function timelineChart(timeline: {
  readonly serviceMs: number;
  readonly modes: Readonly<Record<string, readonly TimelinePoint[]>>;
}): string {
  const width = 760;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="470" viewBox="0 0 ${width} 470" font-family="sans-serif" font-size="12">`,
  );
  out.push('<rect width="100%" height="100%" fill="#ffffff"/>');
  const colour = (mode: string) => (mode === 'protected' ? COLOURS.sluice : COLOURS.peer);
  const modes = Object.entries(timeline.modes);
  panel(
    out,
    40,
    160,
    width,
    'Admitted requests: p99 latency per second (log scale)',
    modes.map(([mode, points]) => ({ label: mode, colour: colour(mode), points: points.map((p) => [p.second, p.p99Ms] as const) })),
    true,
    'ms',
    2 * timeline.serviceMs,
  );
  panel(
    out,
    260,
    160,
    width,
    'Admitted requests per second',
    modes.map(([mode, points]) => ({ label: mode, colour: colour(mode), points: points.map((p) => [p.second, p.admitted] as const) })),
    false,
    '/s',
  );
  modes.forEach(([mode], i) => {
    const lx = 70 + i * 140;
    out.push(
      `<rect x="${lx}" y="452" width="10" height="10" fill="${colour(mode)}"/><text x="${lx + 14}" y="461">${escapeXml(mode)}</text>`,
    );
  });
  out.push(`<text x="330" y="461">by scheduled second; unprotected: later requests all timed out</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
