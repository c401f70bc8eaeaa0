import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type Permit } from '@sluice/core';
import { CircuitBreaker, consecutiveFailures } from '@sluice/breaker';
import { DroppingBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { QueueMonitor, depthAbove, dropRateAbove, waitAbove, type AlertEvent } from '@sluice/monitor';
import { VirtualClock } from '@sluice/testing';

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

describe('QueueMonitor: metrics from a scripted schedule (virtual time)', () => {
  it('rates and waits match 20 arrivals/s served 10/s by one slot (within stated tolerance)', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 10_000, clock });
    const monitor = new QueueMonitor({ clock, sampleEveryMs: 1_000, rateWindowMs: 5_000, waitWindowMs: 60_000 });
    monitor.watch('slot', limiter);
    const runs: Promise<void>[] = [];
    // 20 arrivals per second for 30 s; each holds the slot 100 ms: 10 served per second
    for (let i = 0; i < 600; i++) {
      runs.push(limiter.run(() => sleep(clock, 100)));
      await clock.advance(50);
    }
    const m = monitor.snapshot('slot');
    expect(m).toBeDefined();
    const metrics = m as NonNullable<typeof m>;
    // after 30 s = 6 windows of 5 s, the EWMA is within e^-6 (0.25 %) of the steady rates
    expect(metrics.enqueueRate).toBeGreaterThan(20 * 0.97);
    expect(metrics.enqueueRate).toBeLessThan(20 * 1.03);
    expect(metrics.dequeueRate).toBeGreaterThan(10 * 0.97);
    expect(metrics.dequeueRate).toBeLessThan(10 * 1.03);
    // the queue grows by 10 a second: ~300 waiting, and the n-th admission waited ~ n × 50 ms
    expect(metrics.depth).toBeGreaterThan(290);
    expect(metrics.depth).toBeLessThanOrEqual(301);
    const admitted = limiter.stats().admitted;
    const exactWaits = Array.from({ length: admitted }, (_, n) => n * 50); // arrival n·50, start n·100
    const exactAvg = exactWaits.reduce((a, b) => a + b, 0) / admitted;
    expect(Math.abs(metrics.avgWaitMs - exactAvg)).toBeLessThan(exactAvg * 0.02);
    expect(Math.abs(metrics.maxWaitMs - (admitted - 1) * 50)).toBeLessThanOrEqual(50);
    expect(Math.abs(metrics.p50WaitMs - exactWaits[Math.ceil(admitted / 2) - 1]!)).toBeLessThanOrEqual(exactAvg / 16 + 50);
    expect(metrics.pressure).toBe(1);
    limiter.close();
    await clock.settle(Promise.allSettled(runs));
    monitor.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('reads a buffer: depth, drops and their rate, holding time through onTake', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const buffer = new DroppingBuffer<number>({ capacity: 5, strategy: 'drop-oldest', clock });
    const monitor = new QueueMonitor({ clock, sampleEveryMs: 1_000, rateWindowMs: 2_000 });
    monitor.watch('feed', buffer, { labels: { team: 'search' }, waits: true });
    for (let second = 0; second < 10; second++) {
      for (let i = 0; i < 10; i++) buffer.offer(i); // 10 in, 5 held, 5 dropped per second
      await clock.advance(500);
      for (let i = 0; i < 5; i++) buffer.poll(); // the 5 held leave after 500 ms
      await clock.advance(500);
    }
    const m = monitor.snapshot('feed') as NonNullable<ReturnType<QueueMonitor['snapshot']>>;
    expect(m.kind).toBe('buffer');
    expect(m.dropCount).toBe(50);
    expect(m.dropRate).toBeGreaterThan(5 * 0.9);
    expect(m.dropRate).toBeLessThan(5 * 1.1);
    expect(m.enqueueRate).toBeGreaterThan(9);
    expect(m.p50WaitMs).toBeGreaterThan(500 * 0.93);
    expect(m.p50WaitMs).toBeLessThan(500 * 1.07);
    expect(monitor.labelsOf('feed')).toEqual({ team: 'search' });
    monitor.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('reports a breaker state and a gate availability', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const breaker = new CircuitBreaker({ trip: consecutiveFailures(2), halfOpenAfterMs: 5_000, clock });
    const monitor = new QueueMonitor({ clock });
    monitor.watch('upstream', breaker);
    expect(monitor.sample()[0]?.state).toBe('closed');
    for (let i = 0; i < 2; i++) await breaker.run(() => Promise.reject(new Error('down'))).catch(() => {});
    expect(monitor.sample()[0]).toMatchObject({ state: 'open', refusedCount: 0 });
    monitor.close();
  });
});

describe('QueueMonitor: alerts', () => {
  it('fire once after holding forMs and resolve once, across a scripted overload', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 1_000, clock });
    const monitor = new QueueMonitor({ clock, sampleEveryMs: 1_000 });
    monitor.watch('jobs', limiter);
    const events: string[] = [];
    const record = (kind: string) => (event: AlertEvent) => events.push(`${kind} ${event.label} at ${clock.now()} (since ${event.since})`);
    monitor.alert('jobs', depthAbove(5), { forMs: 3_000, onFire: record('fire'), onResolve: record('resolve') });
    const held: Permit[] = [await limiter.acquire()];
    const waiting = Array.from({ length: 20 }, () => limiter.acquire());
    await clock.advance(10_000); // 20 waiting for ten seconds: fires once, 3 s after the first sample that saw it
    expect(events).toEqual(['fire depth above 5 at 4000 (since 1000)']);
    const done = waiting.map((p) => p.then((permit) => permit.release()));
    held[0]!.release();
    await Promise.all(done);
    await clock.advance(5_000);
    expect(events).toEqual(['fire depth above 5 at 4000 (since 1000)', 'resolve depth above 5 at 11000 (since 10000)']);
    monitor.close();
  });

  it('a condition that flickers shorter than forMs never fires; a throwing condition never fires', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const monitor = new QueueMonitor({ clock, sampleEveryMs: 1_000 });
    monitor.watch('jobs', limiter);
    let fired = 0;
    let toggle = false;
    monitor.alert('jobs', () => (toggle = !toggle), { forMs: 1_500, onFire: () => fired++ });
    monitor.alert(
      'jobs',
      () => {
        throw new Error('bad condition');
      },
      { onFire: () => fired++ },
    );
    await clock.advance(20_000);
    expect(fired).toBe(0);
    monitor.close();
  });

  it('built-in conditions read the right metrics; bad arguments throw', () => {
    const base = { depth: 3, avgWaitMs: 80, p99WaitMs: 400, dropRate: 2 } as never;
    expect([depthAbove(2)(base), depthAbove(3)(base)]).toEqual([true, false]);
    expect([waitAbove(300)(base), waitAbove(300, 'avg')(base)]).toEqual([true, false]);
    expect([dropRateAbove(1)(base), dropRateAbove(5)(base)]).toEqual([true, false]);
    expect(() => depthAbove(-1)).toThrow(InvalidArgumentError);
    const monitor = new QueueMonitor({ clock: new VirtualClock() });
    expect(() => monitor.alert('nobody', depthAbove(1))).toThrow(/watched component/);
    expect(() => monitor.watch('x', {} as never)).toThrow(/gate .* or a buffer/);
    monitor.watch('x', new ConcurrencyLimiter({ maxConcurrent: 1 }));
    expect(() => monitor.watch('x', new ConcurrencyLimiter({ maxConcurrent: 1 }))).toThrow(/already watched/);
    expect(() => monitor.watch('y', new ConcurrencyLimiter({ maxConcurrent: 1 }), { labels: { component: 'z' } })).toThrow(/label/);
    expect(() => new QueueMonitor({ sampleEveryMs: 0 })).toThrow(/sampleEveryMs/);
    monitor.close();
  });

  it('unwatch removes listeners and alerts; close stops every timer', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const monitor = new QueueMonitor({ clock });
    const stop = monitor.watch('a', limiter);
    monitor.alert('a', depthAbove(0));
    expect(clock.pendingTimers).toBe(1);
    stop();
    expect(monitor.names).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
    monitor.watch('b', limiter);
    monitor.close();
    monitor.close();
    expect(clock.pendingTimers).toBe(0);
    expect(() => monitor.watch('c', limiter)).toThrow(InvalidArgumentError);
  });
});

describe('QueueMonitor: an alert that acts', () => {
  it('turns on low-priority shedding while the p99 wait is too long, and off when it recovers', async () => {
    const { LoadShedder } = await import('@sluice/shedder');
    const clock = new VirtualClock({ stallReportMs: false });
    const shedder = new LoadShedder({ capacity: 100, clock });
    const jobs = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 1_000, clock });
    const monitor = new QueueMonitor({ clock, sampleEveryMs: 1_000, waitWindowMs: 5_000 });
    monitor.watch('jobs', jobs);
    monitor.alert('jobs', waitAbove(500), {
      forMs: 2_000,
      onFire: () => shedder.shedBelow(0),
      onResolve: () => shedder.shedBelow(undefined),
    });
    const lowAdmitted = () => {
      const r = shedder.tryAcquire(1, { priority: -1 });
      if (r.granted) r.release();
      return r.granted;
    };
    // a backlog: 30 jobs of 200 ms each behind one slot — waits grow to seconds
    const work = Array.from({ length: 30 }, () => jobs.run(() => sleep(clock, 200)));
    await clock.advance(5_000);
    expect(lowAdmitted()).toBe(false); // shedding low priority now
    await clock.settle(Promise.all(work));
    await clock.advance(12_000); // two quiet windows later the slow waits have aged out
    expect(lowAdmitted()).toBe(true);
    monitor.close();
  });
});
