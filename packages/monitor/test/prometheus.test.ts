import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@sluice/core';
import { CircuitBreaker, consecutiveFailures } from '@sluice/breaker';
import { BoundedBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import {
  PROMETHEUS_CONTENT_TYPE,
  PrometheusWriter,
  QueueMonitor,
  formatPrometheusValue,
  prometheusFetchHandler,
  prometheusHandler,
  prometheusText,
} from '@sluice/monitor';
import { VirtualClock } from '@sluice/testing';

/**
 * A strict check of the text exposition format (version 0.0.4): every line is a HELP or TYPE
 * comment or a sample; a family's TYPE comes before its samples, which are contiguous; sample
 * names belong to the family (with _bucket/_sum/_count for histograms); label values are
 * properly escaped strings; values parse; no series repeats; histogram buckets are cumulative
 * and end with le="+Inf" equal to _count. Returns the samples by series.
 */
function parseExposition(text: string): Map<string, number> {
  expect(text.endsWith('\n')).toBe(true);
  const series = new Map<string, number>();
  const types = new Map<string, string>();
  const closed = new Set<string>();
  let family: string | undefined;
  const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (\S+)$/;
  const histogramState = new Map<string, { last: number; count?: number; inf?: number }>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const name = line.split(' ')[2] as string;
      if (family !== undefined && family !== name) closed.add(family);
      expect(closed.has(name)).toBe(false);
      family = name;
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(types.has(name as string)).toBe(false);
      types.set(name as string, type as string);
      family = name;
      continue;
    }
    const match = sampleLine.exec(line);
    expect(match, `not a sample line: ${line}`).not.toBeNull();
    const [, name, , labels, value] = match as RegExpExecArray;
    const base = types.get(name as string) === undefined ? (name as string).replace(/_(bucket|sum|count)$/, '') : (name as string);
    expect(base).toBe(family);
    expect(types.has(base)).toBe(true);
    expect(value).toMatch(/^(\+Inf|-Inf|NaN|-?\d+(\.\d+)?([eE][-+]?\d+)?)$/);
    const key = `${name}{${labels ?? ''}}`;
    expect(series.has(key), `repeated series ${key}`).toBe(false);
    const numeric = value === '+Inf' ? Infinity : value === '-Inf' ? -Infinity : Number(value);
    series.set(key, numeric);
    if (types.get(base) === 'histogram') {
      const id = `${base}{${(labels ?? '').replace(/,?le="[^"]*"/, '')}}`;
      const state = histogramState.get(id) ?? { last: 0 };
      if ((name as string).endsWith('_bucket')) {
        expect(numeric).toBeGreaterThanOrEqual(state.last);
        state.last = numeric;
        if ((labels ?? '').includes('le="+Inf"')) state.inf = numeric;
      } else if ((name as string).endsWith('_count')) {
        state.count = numeric;
        expect(state.inf).toBe(numeric);
      }
      histogramState.set(id, state);
    }
  }
  return series;
}

describe('PrometheusWriter', () => {
  it('escapes help text and label values, and formats values as the format requires', () => {
    const w = new PrometheusWriter();
    w.family('odd_total', 'counter', 'Help with a \\ backslash\nand a newline.').sample({ path: 'C:\\tmp\\"x"\nnext' }, 3);
    w.family('ratio', 'gauge', 'Ratios.').sample({}, 0.25).sample({ kind: 'inf' }, Infinity).sample({ kind: 'nan' }, Number.NaN);
    expect(w.text()).toBe(
      '# HELP odd_total Help with a \\\\ backslash\\nand a newline.\n' +
        '# TYPE odd_total counter\n' +
        'odd_total{path="C:\\\\tmp\\\\\\"x\\"\\nnext"} 3\n' +
        '# HELP ratio Ratios.\n# TYPE ratio gauge\nratio 0.25\nratio{kind="inf"} +Inf\nratio{kind="nan"} NaN\n',
    );
    parseExposition(w.text());
    expect([formatPrometheusValue(1e21), formatPrometheusValue(-Infinity), formatPrometheusValue(12)]).toEqual(['1e+21', '-Inf', '12']);
  });

  it('refuses bad names, reserved labels, repeated families and non-cumulative buckets', () => {
    expect(() => new PrometheusWriter().family('9lives', 'gauge', 'x')).toThrow(InvalidArgumentError);
    expect(() => new PrometheusWriter().family('a-b', 'gauge', 'x')).toThrow(InvalidArgumentError);
    expect(() => new PrometheusWriter().family('ok', 'gauge', 'x').sample({ __name__: 'x' }, 1)).toThrow(/__/);
    expect(() => new PrometheusWriter().family('ok', 'gauge', 'x').sample({ 'bad-label': 'x' }, 1)).toThrow(InvalidArgumentError);
    expect(() => new PrometheusWriter().family('ok', 'gauge', 'x').family('ok', 'gauge', 'x')).toThrow(/once/);
    expect(() => new PrometheusWriter().sample({}, 1)).toThrow(/family/);
    expect(() =>
      new PrometheusWriter().family('h', 'histogram', 'x').histogram(
        {},
        [
          [1, 5],
          [2, 3],
        ],
        10,
        5,
      ),
    ).toThrow(/cumulative/);
    expect(() => new PrometheusWriter().family('h', 'histogram', 'x').histogram({ le: 'x' }, [[1, 1]], 1, 1)).toThrow(/le/);
    expect(() =>
      new PrometheusWriter().family('h', 'histogram', 'x').histogram(
        {},
        [
          [1, 1],
          [Infinity, 2],
        ],
        1,
        3,
      ),
    ).toThrow(/\+Inf/);
    expect(() => new PrometheusWriter().family('g', 'gauge', 'x').sample({ a: '1' }, 1).sample({ a: '1' }, 2)).toThrow(/once/);
    expect(() => new PrometheusWriter().family('h', 'histogram', 'x').family('h_count', 'gauge', 'x')).toThrow(/clashing/);
  });

  it('writes histograms with cumulative buckets ending in +Inf = _count', () => {
    const w = new PrometheusWriter().family('wait_seconds', 'histogram', 'Waits.');
    w.histogram(
      { q: 'a' },
      [
        [0.1, 2],
        [1, 5],
      ],
      3.5,
      7,
    );
    const series = parseExposition(w.text());
    expect(series.get('wait_seconds_bucket{q="a",le="+Inf"}')).toBe(7);
    expect(series.get('wait_seconds_count{q="a"}')).toBe(7);
  });
});

describe('prometheusText from a monitor', () => {
  it('counts wait buckets exactly at their bounds, whatever the histogram resolution', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 10, clock });
    const monitor = new QueueMonitor({ clock, waitBucketsMs: [249, 250, 999, 1_000] });
    monitor.watch('jobs', limiter);
    const first = await limiter.acquire(); // waited 0
    const second = limiter.acquire();
    const third = limiter.acquire();
    await clock.advance(250);
    first.release(); // second waited 250 ms
    const s2 = await second;
    await clock.advance(750);
    s2.release(); // third waited 1,000 ms
    (await third).release();
    expect(monitor.waitBuckets('jobs')).toEqual([
      [249, 1],
      [250, 2],
      [999, 2],
      [1_000, 3],
      [Infinity, 3],
    ]);
    const series = parseExposition(prometheusText(monitor));
    expect(series.get('sluice_wait_seconds_bucket{component="jobs",le="0.25"}')).toBe(2);
    expect(series.get('sluice_wait_seconds_bucket{component="jobs",le="0.999"}')).toBe(2);
    expect(series.get('sluice_wait_seconds_count{component="jobs"}')).toBe(3);
    expect(() => monitor.watch('x', limiter, { labels: { le: '1' } })).toThrow(/le/);
    expect(() => monitor.watch('x', limiter, { labels: { state: 'a' } })).toThrow(/state/);
    expect(() => new QueueMonitor({ waitBucketsMs: [5, 1] })).toThrow(/ascending/);
    monitor.close();
  });

  it('exports every watched component in valid exposition text, with handlers for Node and fetch runtimes', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 10, clock });
    const buffer = new BoundedBuffer<string>({ capacity: 3, clock });
    const breaker = new CircuitBreaker({ trip: consecutiveFailures(1), halfOpenAfterMs: 1_000, clock });
    const monitor = new QueueMonitor({ clock });
    monitor.watch('jobs', limiter, { labels: { region: 'eu "west"' } });
    monitor.watch('feed', buffer);
    monitor.watch('upstream', breaker);
    const held = await limiter.acquire();
    const waiting = limiter.acquire();
    await clock.advance(250);
    held.release();
    (await waiting).release();
    buffer.offer('a');
    await breaker.run(() => Promise.reject(new Error('down'))).catch(() => {});
    const text = prometheusText(monitor);
    const series = parseExposition(text);
    expect(series.get('sluice_queue_capacity{region="eu \\"west\\"",component="jobs"}')).toBe(1);
    expect(series.get('sluice_queue_depth{component="feed"}')).toBe(1);
    expect(series.get('sluice_wait_seconds_count{region="eu \\"west\\"",component="jobs"}')).toBe(2);
    expect(series.get('sluice_wait_seconds_bucket{region="eu \\"west\\"",component="jobs",le="0.1"}')).toBe(1); // the one that waited 0
    expect(series.get('sluice_wait_seconds_bucket{region="eu \\"west\\"",component="jobs",le="0.25"}')).toBe(2); // 250 ms ≤ 0.25 s
    expect(series.get('sluice_wait_seconds_bucket{region="eu \\"west\\"",component="jobs",le="0.5"}')).toBe(2);
    expect(series.get('sluice_breaker_state{component="upstream",state="open"}')).toBe(1);
    expect(series.get('sluice_breaker_state{component="upstream",state="closed"}')).toBe(0);
    expect(text).toContain('# TYPE sluice_refused_total counter');

    const response = prometheusFetchHandler(monitor)();
    expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
    parseExposition(await response.text());
    const sent: { status?: number; type?: string; body?: string } = {};
    prometheusHandler(monitor)(undefined, {
      set statusCode(code: number) {
        sent.status = code;
      },
      get statusCode() {
        return sent.status ?? 0;
      },
      setHeader: (_name: string, value: string) => (sent.type = value),
      end: (body: string) => (sent.body = body),
    });
    expect(sent.status).toBe(200);
    expect(sent.type).toBe(PROMETHEUS_CONTENT_TYPE);
    parseExposition(sent.body as string);
    monitor.close();
    expect(prometheusText(monitor)).toBe('');
  });
});
