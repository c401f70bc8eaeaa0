import { metrics, type Meter } from '@opentelemetry/api';
import { QueueMonitor } from '@sluice/monitor';
import { registerOpenTelemetry } from '@sluice/monitor/otel';

const meter: Meter = metrics.getMeter('app');
const unregister: () => void = registerOpenTelemetry(new QueueMonitor(), meter);
unregister();
