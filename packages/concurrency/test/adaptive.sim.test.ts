import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { VirtualClock, simulateLoad, type LoadSimulationResult } from '@sluice/testing';

// A backend with 10 workers and 20 ms of work per request serves 500 requests/s; 800/s are
// offered. Little's law: 500/s × 20 ms = 10 requests in flight keep it busy without a queue. A
// fixed limit of 100 lets ~90 wait at the backend (~180 ms per request). The adaptive limit
// starts at that same 100 and must find the right size by itself.
const overload = { durationMs: 60_000, arrivalsPerSecond: 800, serviceTimeMs: 20, servers: 10, admission: 'wait', drainMs: 5_000 } as const;

async function run(adaptive: ConstructorParameters<typeof ConcurrencyLimiter>[0]['adaptive']): Promise<{
  result: LoadSimulationResult;
  limiter: ConcurrencyLimiter;
  samples: { at: number; limit: number }[];
}> {
  const clock = new VirtualClock();
  const limiter = new ConcurrencyLimiter({ maxConcurrent: 100, queueLimit: 200, clock, ...(adaptive === undefined ? {} : { adaptive }) });
  // the limit, once a second
  const samples: { at: number; limit: number }[] = [];
  const sample = (): void => {
    samples.push({ at: clock.now(), limit: limiter.limit });
    if (clock.now() < overload.durationMs) clock.setTimer(sample, 1_000);
  };
  clock.setTimer(sample, 1_000);
  const result = await simulateLoad({ clock, gate: limiter, ...overload, requestOptions: () => ({ maxWaitMs: 100 }) });
  return { result, limiter, samples };
}

describe('adaptive limit under load (virtual time)', () => {
  it('gradient: shrinks from a guessed 100 to near what the backend serves, and stays there', async () => {
    const fixed = await run(undefined);
    const { result, samples } = await run({ algorithm: 'gradient', minLimit: 2, maxLimit: 200, windowMs: 500 });
    // steady state: the second half of the run, probe windows (at minLimit) left out
    const settled = samples.filter((s) => s.at >= 30_000 && s.limit > 2).map((s) => s.limit);
    expect(settled.length).toBeGreaterThan(20);
    for (const limit of settled) {
      expect(limit).toBeGreaterThanOrEqual(10); // never starves the backend's 10 workers
      expect(limit).toBeLessThanOrEqual(40);
    }
    // Little's law: the settled limit is about throughput × latency
    const throughputPerMs = result.completed / overload.durationMs;
    const inFlightByLittle = throughputPerMs * result.serviceLatency.p50;
    const last = settled[settled.length - 1] as number;
    expect(Math.abs(last - inFlightByLittle) / last).toBeLessThan(0.6);
    // the backend stays busy (≥ 95 % of its 500/s) while work waits far less than with 100
    expect(result.completed).toBeGreaterThan(0.95 * 500 * 60);
    expect(result.serviceLatency.p50).toBeLessThan(fixed.result.serviceLatency.p50 / 3);
  }, 30_000); // a long virtual run: seconds of real time on a loaded machine

  it('aimd: backs off on slow windows and settles near the backend too', async () => {
    const fixed = await run(undefined);
    const { result, limiter } = await run({ algorithm: 'aimd', minLimit: 2, maxLimit: 200, windowMs: 500, timeoutMs: 60 });
    expect(limiter.limit).toBeGreaterThanOrEqual(10);
    expect(limiter.limit).toBeLessThanOrEqual(40);
    expect(result.completed).toBeGreaterThan(0.95 * 500 * 60);
    expect(result.serviceLatency.p50).toBeLessThan(fixed.result.serviceLatency.p50 / 2);
  });

  it('slow start: a limit that starts too low doubles while latency shows no queueing', async () => {
    const clock = new VirtualClock();
    const limiter = new ConcurrencyLimiter({
      maxConcurrent: 1,
      queueLimit: 2_000,
      clock,
      adaptive: { minLimit: 1, maxLimit: 64, windowMs: 200 },
    });
    const limits: number[] = [];
    limiter.onLimitChange((change) => limits.push(change.to));
    // a backend with no queue of its own: 25 ms per request, any concurrency
    const tasks: Promise<unknown>[] = [];
    for (let i = 0; i < 2_000; i++) {
      tasks.push(
        limiter
          .run(() => new Promise<void>((resolve) => clock.setTimer(resolve, 25)), { maxWaitMs: 60_000 })
          .catch((error: unknown) => error),
      );
      if (i % 20 === 19) await clock.advance(5);
    }
    const settled = await clock.settle(Promise.all(tasks), { maxMs: 120_000 });
    expect(settled.filter((s) => s instanceof Error)).toEqual([]);
    expect(limits.slice(0, 4)).toEqual([2, 4, 8, 16]);
  });

  it('AdaptiveLimit rejects bad parameters', () => {
    expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { windowMs: 0 } })).toThrow(/adaptive.windowMs/);
    expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { tolerance: 0.5 } })).toThrow(
      /adaptive.tolerance must be a finite number ≥ 1/,
    );
    expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { minLimit: 3 } })).toThrow(/maxConcurrent/);
    expect(() => new ConcurrencyLimiter({ maxConcurrent: 2, adaptive: { probeWindows: 1 } })).toThrow(/probeWindows/);
  });
});
