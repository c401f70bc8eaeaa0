import { checkOptions, optionKeys } from '@sluice/core';
import type { QueueMetrics, QueueMonitor } from './monitor.js';
import { PROMETHEUS_CONTENT_TYPE, PrometheusWriter, type PrometheusLabels } from './prometheus.js';

/** Options of {@link prometheusText}. */
export interface PrometheusExportOptions {
  /** Prefix of every metric name; default `"sluice"`. */
  readonly prefix?: string;
}

const EXPORT_KEYS = optionKeys<PrometheusExportOptions>()({ prefix: true });

/** Checks the options of an exporter named `where` (an unknown key throws). */
export function checkExportOptions(where: string, options: PrometheusExportOptions | undefined): PrometheusExportOptions {
  return checkOptions(where, options, EXPORT_KEYS);
}

const BREAKER_STATES = Object.freeze(['closed', 'open', 'half-open', 'isolated']);

/** One series of a {@link MetricFamily}: its labels and value. */
export interface MetricSample {
  /** Labels, unescaped. */
  readonly labels: PrometheusLabels;
  /** The value. */
  readonly value: number;
}

/** One histogram series of a {@link MetricFamily}. */
export interface HistogramSample {
  /** Labels, unescaped (without `le`). */
  readonly labels: PrometheusLabels;
  /** `[upperBound, cumulativeCount]`, ascending, ending with `[Infinity, count]`; bounds in seconds. */
  readonly buckets: readonly (readonly [number, number])[];
  /** Sum of the observations, seconds. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
}

/** A counter or gauge family; see {@link MetricFamily}. */
export interface ScalarFamily {
  /** Metric name. */
  readonly name: string;
  /** HELP text. */
  readonly help: string;
  /** Counter or gauge. */
  readonly type: 'counter' | 'gauge';
  /** Its series. */
  readonly samples: readonly MetricSample[];
}

/** A histogram family; see {@link MetricFamily}. */
export interface HistogramFamily {
  /** Metric name (series add `_bucket`, `_sum`, `_count`). */
  readonly name: string;
  /** HELP text. */
  readonly help: string;
  /** Always `histogram`. */
  readonly type: 'histogram';
  /** Its series. */
  readonly samples: readonly HistogramSample[];
}

/** A metric family as the exporters emit it. */
export type MetricFamily = ScalarFamily | HistogramFamily;

/**
 * Samples the monitor once and returns its metrics as families (prefix `sluice`):
 * `_queue_depth`, `_queue_capacity`, `_pressure` (gauges), `_enqueue_rate`, `_dequeue_rate`
 * (gauges, per second), `_refused_total`, `_dropped_total` (counters), `_wait_seconds`
 * (histogram over the whole watch, exact at the monitor's `waitBucketsMs`), `_available`
 * (gauge, gates that report it) and `_breaker_state` (one series per state, 1 for the current
 * one). Series carry `component` and the watch's labels. Families without series are left out.
 */
export function collectFamilies(monitor: QueueMonitor, options: PrometheusExportOptions = {}): MetricFamily[] {
  checkExportOptions('collectFamilies', options);
  const prefix = options.prefix ?? 'sluice';
  const metrics = monitor.sample();
  const families: MetricFamily[] = [];
  const labelsOf = (m: QueueMetrics): PrometheusLabels => ({ ...monitor.labelsOf(m.name), component: m.name });
  const simple = (name: string, help: string, value: (m: QueueMetrics) => number | undefined, type: 'gauge' | 'counter' = 'gauge') => {
    const samples: MetricSample[] = [];
    for (const m of metrics) {
      const v = value(m);
      if (v !== undefined) samples.push({ labels: labelsOf(m), value: v });
    }
    if (samples.length > 0) families.push({ name: `${prefix}_${name}`, help, type, samples });
  };
  simple('queue_depth', 'Requests waiting (gates) or items held (buffers).', (m) => m.depth);
  simple('queue_capacity', 'Largest count (gates) or most items (buffers).', (m) => m.capacity);
  simple('pressure', 'Pressure, 0 idle to 1 at the limit.', (m) => m.pressure);
  simple('enqueue_rate', 'Arrivals per second (EWMA).', (m) => m.enqueueRate);
  simple('dequeue_rate', 'Departures per second (EWMA).', (m) => m.dequeueRate);
  simple('refused_total', 'Requests or items refused.', (m) => m.refusedCount, 'counter');
  simple('dropped_total', 'Items dropped by a buffer policy.', (m) => (m.kind === 'buffer' ? m.dropCount : undefined), 'counter');
  simple('available', 'Units a request could be granted now.', (m) => m.available);
  const waits: HistogramSample[] = [];
  for (const m of metrics) {
    const histogram = monitor.waitHistogram(m.name, 'all');
    const buckets = monitor.waitBuckets(m.name);
    if (histogram === undefined || buckets === undefined) continue;
    waits.push({
      labels: labelsOf(m),
      buckets: buckets.map(([ms, count]) => [ms / 1000, count] as const),
      sum: histogram.sum / 1000,
      count: histogram.count,
    });
  }
  if (waits.length > 0) {
    families.push({
      name: `${prefix}_wait_seconds`,
      help: 'Wait from arrival to admission (gates) or from entry to take (buffers).',
      type: 'histogram',
      samples: waits,
    });
  }
  const states: MetricSample[] = [];
  for (const m of metrics) {
    if (m.state === undefined) continue;
    for (const state of BREAKER_STATES) states.push({ labels: { ...labelsOf(m), state }, value: m.state === state ? 1 : 0 });
  }
  if (states.length > 0)
    families.push({
      name: `${prefix}_breaker_state`,
      help: 'Circuit breaker state: 1 for the current one.',
      type: 'gauge',
      samples: states,
    });
  return families;
}

/** Every watched component's metrics in the Prometheus text exposition format; see {@link collectFamilies}. */
export function prometheusText(monitor: QueueMonitor, options: PrometheusExportOptions = {}): string {
  checkExportOptions('prometheusText', options);
  const w = new PrometheusWriter();
  for (const family of collectFamilies(monitor, options)) {
    w.family(family.name, family.type, family.help);
    if (family.type === 'histogram') for (const h of family.samples) w.histogram(h.labels, h.buckets, h.sum, h.count);
    else for (const sample of family.samples) w.sample(sample.labels, sample.value);
  }
  return w.text();
}

/** The part of a Node `http.ServerResponse` the handler uses. */
export interface NodeResponseLike {
  /** Sets the status. */
  statusCode: number;
  /** Sets a header. */
  setHeader(name: string, value: string): unknown;
  /** Ends the response with a body. */
  end(body: string): unknown;
}

/**
 * A Node `http` request handler serving {@link prometheusText}: mount it at `/metrics`
 * (`http.createServer((req, res) => req.url === '/metrics' ? handler(req, res) : …)`).
 */
export function prometheusHandler(
  monitor: QueueMonitor,
  options?: PrometheusExportOptions,
): (request: unknown, response: NodeResponseLike) => void {
  checkExportOptions('prometheusHandler', options);
  return (_request, response) => {
    const body = prometheusText(monitor, options);
    response.statusCode = 200;
    response.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
    response.end(body);
  };
}

/** A `Request` → `Response` handler (Deno, Bun, workers, service workers) serving {@link prometheusText}. */
export function prometheusFetchHandler(monitor: QueueMonitor, options?: PrometheusExportOptions): (request?: Request) => Response {
  checkExportOptions('prometheusFetchHandler', options);
  return () => new Response(prometheusText(monitor, options), { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } });
}
