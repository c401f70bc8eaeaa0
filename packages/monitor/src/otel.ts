import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import { checkOptions, optionKeys } from '@sluice/core';
import type { QueueMetrics, QueueMonitor } from './monitor.js';

/** Options of {@link registerOpenTelemetry}. */
export interface OpenTelemetryBridgeOptions {
  /** Prefix of every instrument name; default `"sluice."`. */
  readonly prefix?: string;
}

const OTEL_KEYS = optionKeys<OpenTelemetryBridgeOptions>()({ prefix: true });

/**
 * Publishes a monitor's metrics through an OpenTelemetry `Meter` (from `@opentelemetry/api`, a
 * peer dependency): observable gauges `queue.depth`, `queue.pressure`, `enqueue.rate`,
 * `dequeue.rate` (per second), `wait.p50`, `wait.p99`, `wait.avg` (ms), `available`, and
 * observable counters `refused`, `dropped` — each with a `component` attribute and the watch's
 * labels. Every collection samples the monitor once. Returns a function that unregisters.
 *
 * Import it from `@sluice/monitor/otel`.
 *
 * @example
 * ```ts
 * import { metrics } from '@opentelemetry/api';
 * const stop = registerOpenTelemetry(monitor, metrics.getMeter('my-service'));
 * ```
 */
export function registerOpenTelemetry(monitor: QueueMonitor, meter: Meter, options: OpenTelemetryBridgeOptions = {}): () => void {
  checkOptions('registerOpenTelemetry', options, OTEL_KEYS);
  const prefix = options.prefix ?? 'sluice.';
  const gauge = (name: string, description: string, unit: string) => meter.createObservableGauge(`${prefix}${name}`, { description, unit });
  const counter = (name: string, description: string) => meter.createObservableCounter(`${prefix}${name}`, { description });
  const instruments: [Observable, (m: QueueMetrics) => number | undefined][] = [
    [gauge('queue.depth', 'Requests waiting (gates) or items held (buffers).', '{item}'), (m) => m.depth],
    [gauge('queue.pressure', 'Pressure, 0 idle to 1 at the limit.', '1'), (m) => m.pressure],
    [gauge('enqueue.rate', 'Arrivals per second (EWMA).', '{item}/s'), (m) => m.enqueueRate],
    [gauge('dequeue.rate', 'Departures per second (EWMA).', '{item}/s'), (m) => m.dequeueRate],
    [gauge('wait.avg', 'Mean wait over the summary window.', 'ms'), (m) => finite(m.avgWaitMs)],
    [gauge('wait.p50', 'Median wait over the summary window.', 'ms'), (m) => finite(m.p50WaitMs)],
    [gauge('wait.p99', '99th-percentile wait over the summary window.', 'ms'), (m) => finite(m.p99WaitMs)],
    [gauge('available', 'Units a request could be granted now.', '{unit}'), (m) => m.available],
    [counter('refused', 'Requests or items refused.'), (m) => m.refusedCount],
    [counter('dropped', 'Items dropped by a buffer policy.'), (m) => (m.kind === 'buffer' ? m.dropCount : undefined)],
  ];
  const callback = (result: BatchObservableResult): void => {
    for (const m of monitor.sample()) {
      const attributes: Attributes = { ...monitor.labelsOf(m.name), component: m.name };
      for (const [instrument, read] of instruments) {
        const value = read(m);
        if (value !== undefined) result.observe(instrument, value, attributes);
      }
    }
  };
  const observables = instruments.map(([instrument]) => instrument);
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}

function finite(value: number): number | undefined {
  return Number.isFinite(value) ? value : undefined;
}
