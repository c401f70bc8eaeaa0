import type { ModeReport, Progress } from './harness.js';
import { percentile, type ClientProfile } from './load.js';

/** RSS is "flat" when it grew by less than this over the run (end − start), bytes. */
export const FLAT_RSS_BYTES = 20 * 1024 * 1024;

const MB = 1024 * 1024;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isNaN(n) ? '-' : `${int(n)} ms`);
const mb = (bytes: number) => `${Math.round(bytes / MB)}`;
const signedMb = (bytes: number) => `${bytes >= 0 ? '+' : '−'}${Math.abs(Math.round(bytes / MB))} MB`;

/** Latency and error figures of a mode, as the targets see them. */
export interface Headline {
  readonly p50: number;
  readonly p99: number;
  /** Everything that was neither admitted nor refused with `Retry-After`. */
  readonly errors: number;
  readonly rssGrowth: number;
}

export function headline(report: ModeReport): Headline {
  const l = report.load;
  return {
    p50: percentile(l.admittedLatencies, 0.5),
    p99: percentile(l.admittedLatencies, 0.99),
    errors: l.otherStatus + l.refusedWithoutRetryAfter + l.timeouts + l.socketErrors,
    rssGrowth: report.rss.end - report.rss.start,
  };
}

/** One progress line. */
export function progressLine(p: Progress): string {
  const l = p.load;
  const s = p.service;
  const waiting = l.sent - l.settled;
  return (
    `${p.mode.padEnd(11)} ${String(Math.min(p.seconds, Math.round(p.elapsedMs / 1000))).padStart(2)}/${p.seconds} s` +
    `  sent ${int(l.sent).padStart(6)}  2xx ${int(l.admitted).padStart(5)}  429 ${int(l.refused429).padStart(6)}` +
    `  503 ${int(l.refused503).padStart(6)}  timed out ${int(l.timeouts).padStart(6)}  awaiting ${int(waiting).padStart(6)}` +
    (s === undefined ? '' : `  | service rss ${mb(s.rss).padStart(4)} MB, backend queue ${int(s.backend.queued)}`)
  );
}

/** The side-by-side table of the modes. */
export function table(reports: readonly ModeReport[]): string {
  const rows: [string, (r: ModeReport) => string][] = [
    ['offered', (r) => `${int(r.load.sent)} (${int(r.load.achievedPerSecond)}/s)`],
    ['admitted (2xx)', (r) => `${int(r.load.admitted)} (${(r.load.admitted / r.seconds).toFixed(1)}/s)`],
    ['refused 429 + Retry-After', (r) => int(r.load.refused429)],
    ['refused 503 + Retry-After', (r) => int(r.load.refused503)],
    [
      'mean retry-after-ms 429 / 503',
      (r) => `${mean(r.load.retryAfterMsSum429, r.load.refused429)} / ${mean(r.load.retryAfterMsSum503, r.load.refused503)}`,
    ],
    [
      'errors / timeouts',
      (r) => `${int(r.load.otherStatus + r.load.refusedWithoutRetryAfter + r.load.socketErrors)} / ${int(r.load.timeouts)}`,
    ],
    ['admitted p50 / p99', (r) => `${ms(headline(r).p50)} / ${ms(headline(r).p99)}`],
    ['admitted max', (r) => ms(r.load.admittedLatencies.at(-1) ?? Number.NaN)],
    ['service RSS start/peak/end', (r) => `${mb(r.rss.start)} / ${mb(r.rss.peak)} / ${mb(r.rss.end)} MB`],
    ['backend queue (max)', (r) => int(r.service.backend.maxQueued)],
    ['backend work for gone clients', (r) => int(r.service.wasted)],
    ['refused by', (r) => refusedBy(r)],
    ['stalls: generator lag / loop delay', (r) => `${ms(r.load.maxSendLagMs)} / ${ms(r.stalls.generatorMs)}`],
    ['stalls: service loop delay', (r) => ms(r.stalls.serviceMs)],
  ];
  const labelWidth = Math.max(...rows.map(([label]) => label.length));
  const cells = rows.map(([, cell]) => reports.map(cell));
  const widths = reports.map((r, i) => Math.max(r.mode.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (label: string, values: readonly string[]) =>
    `${label.padEnd(labelWidth)}  ${values.map((v, i) => v.padStart(widths[i] as number)).join('   ')}`;
  return [
    line(
      '',
      reports.map((r) => r.mode),
    ),
    line(
      '',
      widths.map((w) => '-'.repeat(w)),
    ),
    ...rows.map(([label], i) => line(label, cells[i] as string[])),
  ].join('\n');
}

function mean(sum: number, count: number): string {
  return count === 0 ? '-' : ms(sum / count);
}

function refusedBy(r: ModeReport): string {
  const entries = Object.entries(r.service.refusedBy);
  return entries.length === 0 ? '-' : entries.map(([gate, n]) => `${gate} ${int(n)}`).join(', ');
}

/** Per client: what it offered and what became of it. */
export function clientTable(report: ModeReport, clients: readonly ClientProfile[]): string {
  const head = `${'client'.padEnd(9)} ${'priority'.padEnd(8)} ${'offered'.padStart(8)} ${'2xx/s'.padStart(6)} ${'429'.padStart(7)} ${'503'.padStart(7)} ${'failed'.padStart(7)}`;
  const lines = clients.map((c) => {
    const t = report.load.perClient[c.id];
    if (t === undefined) return '';
    return (
      `${c.id.padEnd(9)} ${c.priority.padEnd(8)} ${int(t.offered).padStart(8)} ${(t.admitted / report.seconds).toFixed(1).padStart(6)}` +
      ` ${int(t.refused429).padStart(7)} ${int(t.refused503).padStart(7)} ${int(t.failed).padStart(7)}  ${c.note}`
    );
  });
  return [head, ...lines].join('\n');
}

/** The targets of the protected run, each with its result. */
export function verdict(protectedRun: ModeReport): { readonly pass: boolean; readonly lines: readonly string[] } {
  const h = headline(protectedRun);
  const budget = 2 * protectedRun.serviceMs;
  const checks = [
    { ok: h.p99 <= budget, text: `admitted p99 ${ms(h.p99)} ≤ ${ms(budget)} (2 × the ${protectedRun.serviceMs} ms service time)` },
    {
      ok: h.errors === 0 && protectedRun.load.admitted > 0,
      text: `errors among admitted: ${int(h.errors)} (every request answered: 2xx, or 429/503 with Retry-After)`,
    },
    { ok: h.rssGrowth < FLAT_RSS_BYTES, text: `RSS flat: end − start ${signedMb(h.rssGrowth)} < ${FLAT_RSS_BYTES / MB} MB` },
  ];
  const lines = checks.map((c) => `  ${c.ok ? 'PASS' : 'FAIL'}  ${c.text}`);
  const stall = Math.max(protectedRun.load.maxSendLagMs, protectedRun.stalls.generatorMs, protectedRun.stalls.serviceMs);
  if (!(checks[0] as { ok: boolean }).ok && stall >= protectedRun.serviceMs) {
    lines.push(
      `        (a process of this run was held up for ${ms(stall)}, see "stalls": the machine was busy with other work;` +
        ' the requests in flight then took that much longer. Run it again on a quieter machine.)',
    );
  }
  return { pass: checks.every((c) => c.ok), lines };
}

/** What the unprotected run shows, next to the protected one. */
export function collapse(unprotectedRun: ModeReport, protectedRun: ModeReport): readonly string[] {
  const u = headline(unprotectedRun);
  const p = headline(protectedRun);
  const l = unprotectedRun.load;
  const backlogSeconds = (unprotectedRun.service.backend.queued * unprotectedRun.serviceMs) / unprotectedRun.workers / 1000;
  return [
    `  admitted p99 ${ms(u.p99)} (${(u.p99 / p.p99).toFixed(0)}× the protected run's); ${int(l.timeouts)} of ${int(l.sent)} requests timed out`,
    `  service RSS ${signedMb(u.rssGrowth)} over the run; at the end the backend queue holds ${int(unprotectedRun.service.backend.queued)} requests ` +
      `(${int(backlogSeconds)} s of work, for clients that have gone)`,
  ];
}
