import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PrometheusWriter } from '@sluice/monitor';

/** Lines of an exposition text, blank lines dropped and label pairs sorted, for comparison. */
function normalise(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => {
      const match = /^([^{ ]+)\{(.*)\} (.+)$/.exec(line);
      if (match === null) return line;
      const labels = (match[2] as string).split(/,(?=[a-zA-Z_][a-zA-Z0-9_]*=")/).sort();
      return `${match[1]}{${labels.join(',')}} ${match[3]}`;
    })
    .sort();
}

describe('PrometheusWriter against prom-client', () => {
  it('writes the same lines prom-client writes for the same counters, gauges and histograms', async () => {
    const registry = new Registry();
    const counter = new Counter({
      name: 'jobs_refused_total',
      help: 'Refused jobs with a \\ and a\nnewline.',
      labelNames: ['queue'],
      registers: [registry],
    });
    counter.inc({ queue: 'mail "urgent"\nnow' }, 7);
    counter.inc({ queue: 'C:\\path' }, 2);
    const gauge = new Gauge({ name: 'jobs_pressure', help: 'Pressure.', labelNames: ['queue'], registers: [registry] });
    gauge.set({ queue: 'a' }, 0.25);
    gauge.set({ queue: 'b' }, 1e6);
    gauge.set({ queue: 'c' }, -1.5);
    const histogram = new Histogram({
      name: 'jobs_wait_seconds',
      help: 'Waits.',
      labelNames: ['queue'],
      buckets: [0.01, 0.1, 1],
      registers: [registry],
    });
    for (const v of [0.005, 0.05, 0.05, 0.5, 2]) histogram.observe({ queue: 'a' }, v);

    const w = new PrometheusWriter();
    w.family('jobs_refused_total', 'counter', 'Refused jobs with a \\ and a\nnewline.');
    w.sample({ queue: 'mail "urgent"\nnow' }, 7).sample({ queue: 'C:\\path' }, 2);
    w.family('jobs_pressure', 'gauge', 'Pressure.').sample({ queue: 'a' }, 0.25).sample({ queue: 'b' }, 1e6).sample({ queue: 'c' }, -1.5);
    w.family('jobs_wait_seconds', 'histogram', 'Waits.').histogram(
      { queue: 'a' },
      [
        [0.01, 1],
        [0.1, 3],
        [1, 4],
      ],
      0.005 + 0.05 + 0.05 + 0.5 + 2,
      5,
    );
    expect(normalise(w.text())).toEqual(normalise(await registry.metrics()));
  });
});

describe('registerPromClient', () => {
  it('serves the monitor through a prom-client registry, as prometheusText writes it, and unregisters', async () => {
    const { ConcurrencyLimiter } = await import('@sluice/concurrency');
    const { QueueMonitor, prometheusText } = await import('@sluice/monitor');
    const { registerPromClient } = await import('@sluice/monitor/prom-client');
    const { VirtualClock } = await import('@sluice/testing');
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 4, clock });
    const monitor = new QueueMonitor({ clock });
    monitor.watch('jobs', limiter, { labels: { team: 'core' } });
    const held = await limiter.acquire();
    const waiting = limiter.acquire();
    await clock.advance(40);
    held.release();
    (await waiting).release();
    const registry = new Registry();
    const sample = monitor.sample.bind(monitor);
    let samples = 0;
    monitor.sample = () => (samples++, sample());
    const stop = registerPromClient(monitor, registry);
    const served = await registry.metrics();
    expect(samples).toBe(1); // one sample for the whole scrape
    const ours = normalise(prometheusText(monitor));
    const theirs = normalise(served);
    // the same series; prom-client also keeps HELP/TYPE lines for families with no series (dropped, breaker state)
    expect(theirs.filter((line) => !line.startsWith('#'))).toEqual(ours.filter((line) => !line.startsWith('#')));
    expect(theirs).toEqual(expect.arrayContaining(ours));
    expect(theirs.filter((line) => line.startsWith('# TYPE'))).toHaveLength(10);
    expect(served).toMatch(/^sluice_wait_seconds_bucket\{[^}]*le="0.05"[^}]*\} 2$/m);
    stop();
    expect(await registry.metrics()).toBe('\n');
    monitor.close();
  });
});
