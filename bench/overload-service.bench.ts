/**
 * The overload example (examples/overload-service, the `npm run demo`) as a benchmark group: the
 * same HTTP service offered 5,000 req/s against a backend of 100 req/s, unprotected and behind
 * sluice, over real HTTP on 127.0.0.1. Each row is one run of one mode; the per-second timeline
 * of both runs goes to `bench/timelines/overload-service.json`, drawn as
 * `bench/charts/overload-service-timeline.svg`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMode, type ModeReport } from '../examples/overload-service/src/harness.ts';
import { percentile } from '../examples/overload-service/src/load.ts';
import { suite, type Metrics } from './harness.ts';

const RATE = 5_000;
const SECONDS = 10;
const WORKERS = 10;
const SERVICE_MS = 100;
const timelines: Record<string, ModeReport['load']['timeline']> = {};
const timelineFile = path.join(path.dirname(fileURLToPath(import.meta.url)), 'timelines', 'overload-service.json');

function metricsOf(report: ModeReport): Metrics {
  const load = report.load;
  const latencies = load.admittedLatencies;
  timelines[report.mode] = load.timeline;
  mkdirSync(path.dirname(timelineFile), { recursive: true });
  writeFileSync(
    timelineFile,
    `${JSON.stringify({ rate: RATE, seconds: SECONDS, workers: WORKERS, serviceMs: SERVICE_MS, modes: timelines }, null, 1)}\n`,
  );
  return {
    offered: load.achievedPerSecond,
    admitted: load.admitted / report.seconds,
    refused: load.refused429 + load.refused503,
    failed: load.timeouts + load.socketErrors + load.otherStatus + load.refusedWithoutRetryAfter,
    p50: latencies.length === 0 ? Number.NaN : percentile(latencies, 0.5) * 1e6,
    p99: latencies.length === 0 ? Number.NaN : percentile(latencies, 0.99) * 1e6,
    rssStart: report.rss.start,
    rssPeak: report.rss.peak,
    rssEnd: report.rss.end,
  };
}

suite('overload-service', (s) => {
  s.group(
    `the Traffic Dam: ${RATE.toLocaleString('en-US')} req/s against a ${(WORKERS * 1000) / SERVICE_MS} req/s backend`,
    {
      note:
        `examples/overload-service over real HTTP on 127.0.0.1: a backend of ${WORKERS} workers × ${SERVICE_MS} ms, offered ` +
        `${RATE.toLocaleString('en-US')} req/s open-loop for ${SECONDS} s (keep-alive pool of 256 sockets, 2 s client timeout), ` +
        'the service in its own process. Unprotected: an unbounded queue in front of the backend. Protected: per-client ' +
        'quota → breaker → priority shedder → concurrency 10, no queue; refusals are 429/503 with Retry-After. Latency of ' +
        'admitted requests from their scheduled time. Target (protected): p99 ≤ 2 × the service time, 0 errors among ' +
        'admitted, RSS flat. One run per row; the timeline is charted below the table.',
      columns: [
        { key: 'offered', label: 'offered/s', format: 'count' },
        { key: 'admitted', label: 'admitted/s', format: 'count' },
        { key: 'refused', label: 'refused (429/503 + Retry-After)', format: 'count' },
        { key: 'failed', label: 'timeouts + errors', format: 'count' },
        { key: 'p50', label: 'admitted p50', format: 'ns' },
        { key: 'p99', label: 'admitted p99', format: 'ns' },
        { key: 'rssStart', label: 'service RSS start', format: 'bytes' },
        { key: 'rssPeak', label: 'peak', format: 'bytes' },
        { key: 'rssEnd', label: 'end', format: 'bytes' },
      ],
    },
    (g) => {
      for (const mode of ['unprotected', 'protected'] as const) {
        g.metrics(mode, async () =>
          metricsOf(await runMode({ mode, ratePerSecond: RATE, seconds: SECONDS, workers: WORKERS, serviceMs: SERVICE_MS })),
        );
      }
    },
  );
});
