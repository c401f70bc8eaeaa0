import { describe, expect, it } from 'vitest';
import { consecutiveFailures } from '@sluice/breaker';
import { overloadProtection } from '@sluice/overload';
import { VirtualClock, simulateLoad } from '@sluice/testing';

// A backend of 2 workers × 100 ms serves 20 requests/s. Clients offer 50× that, 1,000/s, for
// ten virtual minutes (600,000 requests).
const SERVICE_MS = 100;
const SERVERS = 2;
const CAPACITY_PER_SECOND = (SERVERS * 1000) / SERVICE_MS;
const OFFERED_PER_SECOND = 50 * CAPACITY_PER_SECOND;
const DURATION_MS = 10 * 60_000;
/** The same seeded traffic and backend for both runs. */
const LOAD = {
  seed: 7,
  durationMs: DURATION_MS,
  arrivalsPerSecond: OFFERED_PER_SECOND,
  serviceTimeMs: SERVICE_MS,
  servers: SERVERS,
} as const;

describe('overload protection under 50× load for 10 virtual minutes', () => {
  it('with the preset: admitted work completes within 2× its service time at p99, queues stay bounded, goodput holds', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const door = overloadProtection({
      breaker: { trip: consecutiveFailures(20), halfOpenAfterMs: 1_000 },
      shedder: { capacity: 2 * SERVERS },
      limiter: { ratePerSecond: CAPACITY_PER_SECOND * 1.05, burst: SERVERS, queueLimit: 0 },
      concurrency: { maxConcurrent: SERVERS, queueLimit: SERVERS },
      clock,
    });
    let maxWaiting = 0;
    const sample = () => {
      maxWaiting = Math.max(maxWaiting, door.stats().waiting);
      if (clock.now() < DURATION_MS) clock.setTimer(sample, 1_000);
    };
    sample();
    const result = await simulateLoad({
      ...LOAD,
      clock,
      gate: door,
      admission: 'wait',
      requestOptions: (request) => ({ priority: request.index % 10 === 0 ? 1 : 0, maxWaitMs: 2 * SERVICE_MS }),
    });
    door.close();
    const expectedOffered = (OFFERED_PER_SECOND * DURATION_MS) / 1000;
    expect(result.offered).toBeGreaterThan(expectedOffered * 0.98);
    expect(result.offered).toBeLessThan(expectedOffered * 1.02);
    // admitted work: arrival → response within 2 × the service time at p99
    expect(result.latency.p99).toBeLessThanOrEqual(2 * SERVICE_MS);
    expect(result.failed).toBe(0);
    expect(result.unfinished).toBe(0);
    // nothing piles up: not at the backend, not in the gate
    expect(result.maxBackendQueue).toBeLessThanOrEqual(1);
    expect(maxWaiting).toBeLessThanOrEqual(2 * SERVERS + 2);
    // and the backend stays busy: at least 90 % of what it can do is admitted and done
    const capacityInRun = (CAPACITY_PER_SECOND * DURATION_MS) / 1000;
    expect(result.completed).toBeGreaterThan(0.9 * capacityInRun);
    expect(result.admitted + result.refusedTotal).toBe(result.offered);
    expect(result.refused.shed).toBeGreaterThan(0);
  }, 120_000);

  it('without it: the backend queue and the latency grow for as long as the overload lasts', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const result = await simulateLoad({
      ...LOAD,
      clock,
      sampleEveryMs: 60_000,
      drainMs: 0,
    });
    const depths = result.backendQueueSamples.map(([, depth]) => depth);
    // the queue grows minute after minute, by about (offered − capacity) × 60 s each time
    for (let i = 1; i < depths.length; i++) expect(depths[i] as number).toBeGreaterThan(depths[i - 1] as number);
    expect(depths[depths.length - 1] as number).toBeGreaterThan(0.9 * (OFFERED_PER_SECOND - CAPACITY_PER_SECOND) * (DURATION_MS / 1000));
    // the requests that were answered at all waited minutes, not milliseconds
    expect(result.latency.p99).toBeGreaterThan(100 * SERVICE_MS);
    expect(result.latency.max).toBeGreaterThan(DURATION_MS * 0.9);
    expect(result.completed).toBeLessThan(0.03 * result.offered);
  }, 120_000);
});
