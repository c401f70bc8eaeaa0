export {
  QueueMonitor,
  depthAbove,
  dropRateAbove,
  waitAbove,
  type AlertCondition,
  type AlertEvent,
  type AlertOptions,
  type ComponentKind,
  type QueueMetrics,
  type QueueMonitorOptions,
  type WatchOptions,
} from './monitor.js';
export { LogLinearHistogram, type LogLinearHistogramOptions } from './histogram.js';
export { EwmaRate, type EwmaRateOptions } from './rate.js';
export {
  PROMETHEUS_CONTENT_TYPE,
  PrometheusWriter,
  formatPrometheusValue,
  type PrometheusLabels,
  type PrometheusType,
} from './prometheus.js';
export {
  collectFamilies,
  prometheusFetchHandler,
  prometheusHandler,
  prometheusText,
  type HistogramFamily,
  type HistogramSample,
  type ScalarFamily,
  type MetricFamily,
  type MetricSample,
  type NodeResponseLike,
  type PrometheusExportOptions,
} from './export.js';
