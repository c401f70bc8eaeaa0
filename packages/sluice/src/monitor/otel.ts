/** `sluice/monitor/otel`: `@sluice/monitor/otel` (OpenTelemetry bridge; `@opentelemetry/api` is a peer). @module */
export * from '@sluice/monitor/otel';
