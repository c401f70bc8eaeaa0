import { InvalidArgumentError } from '@sluice/core';

/** Content type of the Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Prometheus metric types this writer emits. */
export type PrometheusType = 'counter' | 'gauge' | 'histogram';

/** Labels of one sample: names to (unescaped) values. */
export type PrometheusLabels = Readonly<Record<string, string>>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** `\` and newline escaped, as HELP text needs. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** `\`, `"` and newline escaped, as label values need. */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** A sample value as the exposition format writes it: `+Inf`, `-Inf`, `NaN`, or the number. */
export function formatPrometheusValue(value: number): string {
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  if (Number.isNaN(value)) return 'NaN';
  return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(0) : String(value);
}

function checkMetricName(name: string): void {
  if (typeof name !== 'string' || !METRIC_NAME.test(name)) {
    throw new InvalidArgumentError('Prometheus', 'metric name', 'a name matching [a-zA-Z_:][a-zA-Z0-9_:]*', name);
  }
}

function renderLabels(labels: PrometheusLabels, extra?: readonly [string, string]): string {
  const parts: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || (extra !== undefined && name === extra[0])) {
      throw new InvalidArgumentError(
        'Prometheus',
        'label name',
        'a name matching [a-zA-Z_][a-zA-Z0-9_]*, not starting with "__" (nor "le" on a histogram)',
        name,
      );
    }
    parts.push(`${name}="${escapeLabelValue(String(value))}"`);
  }
  if (extra !== undefined) parts.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return parts.length === 0 ? '' : `{${parts.join(',')}}`;
}

/**
 * Writes metric families in the Prometheus text exposition format: one `# HELP` and `# TYPE`
 * line per family, then its samples, contiguous; help text and label values escaped; names
 * checked. Histograms get cumulative `_bucket{le="…"}` series ending with `le="+Inf"`, then
 * `_sum` and `_count`.
 *
 * @example
 * ```ts
 * const w = new PrometheusWriter();
 * w.family('jobs_waiting', 'gauge', 'Jobs waiting.').sample({ queue: 'mail' }, 3);
 * w.text(); // "# HELP jobs_waiting Jobs waiting.\n# TYPE jobs_waiting gauge\njobs_waiting{queue=\"mail\"} 3\n"
 * ```
 */
export class PrometheusWriter {
  private readonly lines: string[] = [];
  /** Names taken: families, and a histogram's `_bucket`, `_sum` and `_count`. */
  private readonly families = new Set<string>();
  private readonly series = new Set<string>();

  /**
   * Starts a family; its samples follow. @throws InvalidArgumentError for a bad or repeated name.
   */
  family(name: string, type: PrometheusType, help: string): this {
    checkMetricName(name);
    const taken = type === 'histogram' ? [name, `${name}_bucket`, `${name}_sum`, `${name}_count`] : [name];
    if (taken.some((n) => this.families.has(n))) {
      throw new InvalidArgumentError('Prometheus', 'metric name', "a family written once, not clashing with a histogram's series", name);
    }
    for (const n of taken) this.families.add(n);
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    this.current = { name, type };
    return this;
  }

  /** A counter or gauge sample of the current family. */
  sample(labels: PrometheusLabels, value: number): this {
    const family = this.requireFamily('sample');
    if (family.type === 'histogram')
      throw new InvalidArgumentError('Prometheus', 'sample', 'a counter or gauge family (use histogram())', family.name);
    this.push(family.name, renderLabels(labels), value);
    return this;
  }

  /**
   * A histogram of the current family: `buckets` as `[upperBound, cumulativeCount]` in
   * increasing bound order (a `+Inf` bucket equal to `count` is added when missing), `sum` and
   * `count`.
   */
  histogram(labels: PrometheusLabels, buckets: readonly (readonly [number, number])[], sum: number, count: number): this {
    const family = this.requireFamily('histogram');
    if (family.type !== 'histogram') throw new InvalidArgumentError('Prometheus', 'histogram', 'a histogram family', family.name);
    let previousBound = -Infinity;
    let previousCount = 0;
    let sawInf = false;
    for (const [bound, cumulative] of buckets) {
      if (!(bound > previousBound) || cumulative < previousCount) {
        throw new InvalidArgumentError('Prometheus', 'buckets', 'increasing bounds with cumulative counts', buckets);
      }
      previousBound = bound;
      previousCount = cumulative;
      if (bound === Infinity) {
        sawInf = true;
        if (cumulative !== count)
          throw new InvalidArgumentError('Prometheus', 'buckets', `a +Inf bucket equal to count (${count})`, cumulative);
      }
      this.push(`${family.name}_bucket`, renderLabels(labels, ['le', formatPrometheusValue(bound)]), cumulative);
    }
    if (count < previousCount) throw new InvalidArgumentError('Prometheus', 'count', `at least the last bucket (${previousCount})`, count);
    if (!sawInf) this.push(`${family.name}_bucket`, renderLabels(labels, ['le', '+Inf']), count);
    this.push(`${family.name}_sum`, renderLabels(labels), sum);
    this.push(`${family.name}_count`, renderLabels(labels), count);
    return this;
  }

  /** The exposition text, ending with a newline (empty when nothing was written). */
  text(): string {
    return this.lines.length === 0 ? '' : `${this.lines.join('\n')}\n`;
  }

  private current: { readonly name: string; readonly type: PrometheusType } | undefined;

  private push(name: string, labels: string, value: number): void {
    const key = name + labels;
    if (this.series.has(key)) throw new InvalidArgumentError('Prometheus', 'series', 'each series written once', key);
    this.series.add(key);
    this.lines.push(`${key} ${formatPrometheusValue(value)}`);
  }

  private requireFamily(what: string): { readonly name: string; readonly type: PrometheusType } {
    if (this.current === undefined) throw new InvalidArgumentError('Prometheus', what, 'a family() first', undefined);
    return this.current;
  }
}
