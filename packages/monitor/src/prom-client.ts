import type { QueueMonitor } from './monitor.js';
import { checkExportOptions, collectFamilies, type MetricFamily, type PrometheusExportOptions } from './export.js';

/** The part of a prom-client `Registry` the bridge uses. */
export interface PromRegistryLike {
  /** Adds a collector. */
  registerMetric(metric: never): void;
  /** Removes a collector by name. */
  removeSingleMetric(name: string): void;
}

/** One series as prom-client's registry reads it. */
interface PromValue {
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
  readonly metricName?: string;
}

/**
 * Registers a monitor's metrics in a `prom-client` registry (a peer dependency), so an
 * application that already serves `registry.metrics()` gets them with its own: one collector per
 * family of {@link collectFamilies}, all filled from a single sample per scrape. Returns a
 * function that removes them.
 *
 * Import it from `@sluice/monitor/prom-client`.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * registerPromClient(monitor, register);
 * ```
 */
export function registerPromClient(monitor: QueueMonitor, registry: PromRegistryLike, options: PrometheusExportOptions = {}): () => void {
  checkExportOptions('registerPromClient', options);
  // one sample per scrape: the registry asks every collector within the same tick
  let cached: MetricFamily[] | undefined;
  const families = (): MetricFamily[] => {
    if (cached === undefined) {
      cached = collectFamilies(monitor, options);
      queueMicrotask(() => (cached = undefined));
    }
    return cached;
  };
  const names = [
    'queue_depth',
    'queue_capacity',
    'pressure',
    'enqueue_rate',
    'dequeue_rate',
    'refused_total',
    'dropped_total',
    'available',
    'wait_seconds',
    'breaker_state',
  ].map((suffix) => `${options.prefix ?? 'sluice'}_${suffix}`);
  const types: Record<string, string> = { refused_total: 'counter', dropped_total: 'counter', wait_seconds: 'histogram' };
  for (const name of names) {
    const suffix = name.slice(name.indexOf('_') + 1);
    const collector = {
      name,
      help: name,
      type: types[suffix] ?? 'gauge',
      aggregator: 'sum',
      get: async () => {
        const family = families().find((f) => f.name === name);
        return {
          name,
          help: family?.help ?? name,
          type: family?.type ?? collector.type,
          aggregator: 'sum',
          values: family === undefined ? [] : valuesOf(family),
        };
      },
    };
    registry.registerMetric(collector as never);
  }
  return () => {
    for (const name of names) registry.removeSingleMetric(name);
  };
}

function valuesOf(family: MetricFamily): PromValue[] {
  if (family.type !== 'histogram') return family.samples.map((s) => ({ labels: s.labels, value: s.value }));
  const values: PromValue[] = [];
  for (const h of family.samples) {
    for (const [le, count] of h.buckets)
      values.push({ labels: { ...h.labels, le: le === Infinity ? '+Inf' : le }, value: count, metricName: `${family.name}_bucket` });
    values.push({ labels: h.labels, value: h.sum, metricName: `${family.name}_sum` });
    values.push({ labels: h.labels, value: h.count, metricName: `${family.name}_count` });
  }
  return values;
}
