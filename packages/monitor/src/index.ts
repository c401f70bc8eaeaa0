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
  prometheusFetchHandler,
  prometheusHandler,
  prometheusText,
  type NodeResponseLike,
  type PrometheusExportOptions,
} from './export.js';
