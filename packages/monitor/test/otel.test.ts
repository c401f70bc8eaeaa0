import { describe, expect, it, vi } from 'vitest';
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { DroppingBuffer } from '@sluice/buffer';
import { QueueMonitor } from '@sluice/monitor';
import { registerOpenTelemetry } from '@sluice/monitor/otel';
import { VirtualClock } from '@sluice/testing';

describe('OpenTelemetry bridge', () => {
  it('exports every watched component through the SDK’s in-memory metric reader', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 10, clock });
    const buffer = new DroppingBuffer<number>({ capacity: 2, strategy: 'drop-oldest', clock });
    const monitor = new QueueMonitor({ clock });
    monitor.watch('jobs', limiter, { labels: { team: 'core' } });
    monitor.watch('feed', buffer);
    const held = await limiter.acquire();
    const waiting = limiter.acquire();
    waiting.catch(() => {});
    for (let i = 0; i < 5; i++) buffer.offer(i);

    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
    const provider = new MeterProvider({ readers: [reader] });
    const stop = registerOpenTelemetry(monitor, provider.getMeter('sluice-test'));
    await reader.forceFlush();
    const points = new Map<string, number>();
    for (const batch of exporter.getMetrics()) {
      for (const scope of batch.scopeMetrics) {
        for (const metric of scope.metrics) {
          for (const point of metric.dataPoints) {
            points.set(`${metric.descriptor.name}{${String(point.attributes.component)}}`, point.value as number);
            if (point.attributes.component === 'jobs') expect(point.attributes.team).toBe('core');
          }
        }
      }
    }
    expect(points.get('sluice.queue.depth{jobs}')).toBe(1);
    expect(points.get('sluice.queue.depth{feed}')).toBe(2);
    expect(points.get('sluice.dropped{feed}')).toBe(3);
    expect(points.get('sluice.queue.pressure{jobs}')).toBe(1);
    expect(points.has('sluice.dropped{jobs}')).toBe(false);
    expect(points.get('sluice.wait.p50{jobs}')).toBe(0);

    // unregistered: collections no longer sample the monitor
    const sample = vi.spyOn(monitor, 'sample');
    await reader.forceFlush();
    expect(sample).toHaveBeenCalledTimes(1); // one sample per collection, for every instrument
    sample.mockClear();
    stop();
    await reader.forceFlush();
    expect(sample).not.toHaveBeenCalled();
    await provider.shutdown();
    held.release();
    monitor.close();
    limiter.close();
  });
});
