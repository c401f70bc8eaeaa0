import type { QueueMetrics, QueueMonitor } from './monitor.js';
import { PROMETHEUS_CONTENT_TYPE, PrometheusWriter, type PrometheusLabels } from './prometheus.js';

/** Options of {@link prometheusText}. */
export interface PrometheusExportOptions {
  /** Prefix of every metric name; default `"sluice"`. */
  readonly prefix?: string;
}

const BREAKER_STATES = Object.freeze(['closed', 'open', 'half-open', 'isolated']);

/**
 * Every watched component's metrics in the Prometheus text exposition format (samples them
 * first). Series carry `component` and the watch's labels. Families (prefix `sluice`):
 * `_queue_depth`, `_queue_capacity`, `_pressure` (gauges), `_enqueue_rate`, `_dequeue_rate`
 * (gauges, per second), `_refused_total`, `_dropped_total` (counters), `_wait_seconds`
 * (histogram over the whole watch, exact at the monitor's `waitBucketsMs`), `_available`
 * (gauge, gates that report it) and
 * `_breaker_state` (one series per state, 1 for the current one).
 */
export function prometheusText(monitor: QueueMonitor, options: PrometheusExportOptions = {}): string {
  const prefix = options.prefix ?? 'sluice';
  const metrics = monitor.sample();
  const w = new PrometheusWriter();
  const labelsOf = (m: QueueMetrics): PrometheusLabels => ({ ...monitor.labelsOf(m.name), component: m.name });
  const gauge = (name: string, help: string, value: (m: QueueMetrics) => number | undefined, type: 'gauge' | 'counter' = 'gauge') => {
    const rows = metrics.map((m) => [m, value(m)] as const).filter(([, v]) => v !== undefined);
    if (rows.length === 0) return;
    w.family(`${prefix}_${name}`, type, help);
    for (const [m, v] of rows) w.sample(labelsOf(m), v as number);
  };
  gauge('queue_depth', 'Requests waiting (gates) or items held (buffers).', (m) => m.depth);
  gauge('queue_capacity', 'Largest count (gates) or most items (buffers).', (m) => m.capacity);
  gauge('pressure', 'Pressure, 0 idle to 1 at the limit.', (m) => m.pressure);
  gauge('enqueue_rate', 'Arrivals per second (EWMA).', (m) => m.enqueueRate);
  gauge('dequeue_rate', 'Departures per second (EWMA).', (m) => m.dequeueRate);
  gauge('refused_total', 'Requests or items refused.', (m) => m.refusedCount, 'counter');
  gauge('dropped_total', 'Items dropped by a buffer policy.', (m) => (m.kind === 'buffer' ? m.dropCount : undefined), 'counter');
  gauge('available', 'Units a request could be granted now.', (m) => m.available);
  if (metrics.length > 0) {
    w.family(`${prefix}_wait_seconds`, 'histogram', 'Wait from arrival to admission (gates) or from entry to take (buffers).');
    for (const m of metrics) {
      const waits = monitor.waitHistogram(m.name, 'all');
      const buckets = monitor.waitBuckets(m.name);
      if (waits === undefined || buckets === undefined) continue;
      w.histogram(labelsOf(m), buckets.map(([ms, count]) => [ms / 1000, count] as const), waits.sum / 1000, waits.count);
    }
  }
  const breakers = metrics.filter((m) => m.state !== undefined);
  if (breakers.length > 0) {
    w.family(`${prefix}_breaker_state`, 'gauge', 'Circuit breaker state: 1 for the current one.');
    for (const m of breakers) for (const state of BREAKER_STATES) w.sample({ ...labelsOf(m), state }, m.state === state ? 1 : 0);
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
export function prometheusHandler(monitor: QueueMonitor, options?: PrometheusExportOptions): (request: unknown, response: NodeResponseLike) => void {
  return (_request, response) => {
    const body = prometheusText(monitor, options);
    response.statusCode = 200;
    response.setHeader('content-type', PROMETHEUS_CONTENT_TYPE);
    response.end(body);
  };
}

/** A `Request` → `Response` handler (Deno, Bun, workers, service workers) serving {@link prometheusText}. */
export function prometheusFetchHandler(monitor: QueueMonitor, options?: PrometheusExportOptions): (request?: Request) => Response {
  return () => new Response(prometheusText(monitor, options), { status: 200, headers: { 'content-type': PROMETHEUS_CONTENT_TYPE } });
}
