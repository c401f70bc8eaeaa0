import { describe, expect, it } from 'vitest';
import { ControlledGate, VirtualClock, simulateLoad, summarize } from '@sluice/testing';

describe('summarize', () => {
  it('computes nearest-rank percentiles', () => {
    expect(summarize([5, 1, 3])).toEqual({ count: 3, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 });
    const hundred = summarize(Array.from({ length: 100 }, (_, i) => i + 1));
    expect([hundred.p50, hundred.p90, hundred.p99, hundred.max]).toEqual([50, 90, 99, 100]);
    expect(summarize([])).toEqual({ count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 });
  });
});

describe('simulateLoad', () => {
  it('is reproducible: same seed, same result', async () => {
    const run = () =>
      simulateLoad({
        clock: new VirtualClock(),
        seed: 9,
        durationMs: 5_000,
        arrivalsPerSecond: 50,
        serviceTimeMs: (r) => r.exponential(15),
        servers: 2,
      });
    expect(await run()).toEqual(await run());
  });

  it('offers the configured Poisson load, and leaves no timer of its own when it ends', async () => {
    const clock = new VirtualClock();
    const result = await simulateLoad({ clock, durationMs: 60_000, arrivalsPerSecond: 100, serviceTimeMs: 1, servers: 10 });
    expect(clock.pendingTimers).toBe(0);
    expect(result.offered).toBeGreaterThan(5_700);
    expect(result.offered).toBeLessThan(6_300);
    expect(result.admitted).toBe(result.offered);
    expect(result.completed).toBe(result.offered);
    expect(result.unfinished).toBe(0);
    expect(result.latency.p50).toBe(1);
  });

  it('shows an unprotected backend collapsing under 5× its capacity, and a gate keeping latency bounded', async () => {
    const overload = { durationMs: 20_000, arrivalsPerSecond: 500, serviceTimeMs: 10, servers: 1, drainMs: 0 } as const;
    const open = await simulateLoad({ clock: new VirtualClock(), ...overload });
    expect(open.maxBackendQueue).toBeGreaterThan(7_000); // ~10,000 offered, ~2,000 served
    expect(open.latency.p99).toBeGreaterThan(10_000);

    const clock = new VirtualClock();
    const gate = new ControlledGate({ capacity: 2, queueLimit: 0, clock }); // one running, one queued at the backend
    const guarded = await simulateLoad({ clock, ...overload, gate });
    expect(guarded.refusedTotal).toBeGreaterThan(guarded.offered * 0.7);
    expect(guarded.refused.exhausted).toBe(guarded.refusedTotal);
    expect(guarded.maxBackendQueue).toBeLessThanOrEqual(1);
    expect(guarded.latency.p99).toBeLessThanOrEqual(20);
    // admitted + refused accounts for every arrival
    expect(guarded.admitted + guarded.refusedTotal).toBe(guarded.offered);
  });

  it('waits for admission in "wait" mode and reports the admission wait and failures', async () => {
    const clock = new VirtualClock();
    const gate = new ControlledGate({ capacity: 1, queueLimit: 5, clock });
    const result = await simulateLoad({
      clock,
      durationMs: 5_000,
      arrivalsPerSecond: 150,
      serviceTimeMs: 10,
      failureRate: 0.5,
      gate,
      admission: 'wait',
      requestOptions: () => ({ maxWaitMs: 40 }),
    });
    expect(result.admissionWait.max).toBeGreaterThan(0);
    expect(result.admissionWait.max).toBeLessThanOrEqual(40);
    expect((result.refused.timeout ?? 0) + (result.refused['queue-full'] ?? 0)).toBe(result.refusedTotal);
    expect(result.failed / result.completed).toBeGreaterThan(0.35);
    expect(result.failed / result.completed).toBeLessThan(0.65);
    expect(gate.releases.filter((r) => r.outcome?.ok === false)).toHaveLength(result.failed);
  });

  it('rejects bad options', async () => {
    const clock = new VirtualClock();
    await expect(simulateLoad({ clock, durationMs: 1, arrivalsPerSecond: 0, serviceTimeMs: 1 })).rejects.toThrow(
      /arrivalsPerSecond must be a finite number > 0/,
    );
    await expect(simulateLoad({ clock, durationMs: 1, arrivalsPerSecond: 1, serviceTimeMs: 1, servers: 0 })).rejects.toThrow(/servers/);
  });
});
