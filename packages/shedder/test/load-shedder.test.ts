import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, ShedError, isShedError, type Permit, type Refusal } from '@sluice/core';
import { LoadShedder, defaultLevels, type LoadSignal } from '@sluice/shedder';
import { VirtualClock, track as settle } from '@sluice/testing';

/** Takes single units at `priority` until refused; returns how many were granted and the refusal. */
function fill(shedder: LoadShedder, priority: number, held: Permit[]): { granted: number; refusal: Permit | Refusal } {
  for (let granted = 0; ; granted++) {
    const result = shedder.tryAcquire(1, { priority });
    if (!result.granted) return { granted, refusal: result };
    held.push(result);
  }
}

describe('LoadShedder: priority thresholds', () => {
  it('admits low to 90 %, normal to 95 %, high to 98 % by default, and sheds past that', () => {
    const shedder = new LoadShedder({ capacity: 100, clock: new VirtualClock() });
    const held: Permit[] = [];
    const low = fill(shedder, -1, held);
    expect(low.granted).toBe(90);
    expect(low.refusal).toMatchObject({ granted: false, reason: 'shed', gate: 'shedder' });
    expect(fill(shedder, 0, held).granted).toBe(5);
    expect(fill(shedder, 1, held).granted).toBe(3);
    expect(fill(shedder, 7, held).granted).toBe(0); // above the top level: still `high`
    expect(fill(shedder, -9, held).granted).toBe(0); // below the bottom level: `low`
    expect(shedder.inFlight).toBe(98);
    expect(shedder.utilisation).toBeCloseTo(0.98);
    expect(shedder.pressure).toBeCloseTo(0.98);
    (held.pop() as Permit).release({ ok: true });
    expect(shedder.tryAcquire(1, { priority: -1 }).granted).toBe(false);
    expect(shedder.tryAcquire(1, { priority: 0 }).granted).toBe(false);
    expect(shedder.tryAcquire(1, { priority: 1 }).granted).toBe(true);
    expect(shedder.stats()).toMatchObject({ admitted: 99, refused: 7 });
  });

  it('below the threshold admits every level, whatever its share', () => {
    const shedder = new LoadShedder({ capacity: 10, shedThreshold: 0.5, clock: new VirtualClock() });
    const held: Permit[] = [];
    expect(fill(shedder, -1, held).granted).toBe(5);
    expect(shedder.levelOf(-1)).toEqual({ name: 'low', priority: -1, admitUpTo: 0.5 });
  });

  it('takes levels in any order, with any names, priorities and shares', () => {
    const shedder = new LoadShedder({
      capacity: 10,
      shedThreshold: 0.5,
      levels: [
        { name: 'batch', priority: -1, admitUpTo: 0.5 },
        { name: 'critical', priority: 10, admitUpTo: 1 },
        { name: 'interactive', priority: 0, admitUpTo: 0.8 },
      ],
      clock: new VirtualClock(),
    });
    expect(shedder.levels.map((level) => level.name)).toEqual(['critical', 'interactive', 'batch']);
    expect(shedder.levelOf(3).name).toBe('interactive');
    expect(shedder.levelOf(10).name).toBe('critical');
    expect(shedder.levelOf(-100).name).toBe('batch');
    const held: Permit[] = [];
    expect(fill(shedder, -1, held).granted).toBe(5);
    expect(fill(shedder, 0, held).granted).toBe(3);
    expect(fill(shedder, 10, held).granted).toBe(2);
    expect(shedder.tryAcquire(1, { priority: 10 })).toMatchObject({ granted: false, reason: 'shed' });
  });

  it('defaultLevels follows the threshold it is given', () => {
    expect(defaultLevels(0.8).map((l) => [l.name, l.priority, l.admitUpTo])).toEqual([
      ['high', 1, 0.98],
      ['normal', 0, 0.95],
      ['low', -1, 0.8],
    ]);
  });

  it('acquire without a queue rejects at once with a ShedError', async () => {
    const shedder = new LoadShedder({ capacity: 2, levels: [{ name: 'all', priority: 0, admitUpTo: 1 }], clock: new VirtualClock() });
    const a = await shedder.acquire();
    const b = await shedder.acquire();
    const error = await shedder.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ShedError);
    expect(isShedError(error)).toBe(true);
    expect(shedder.stats()).toMatchObject({ admitted: 2, refused: 1, waiting: 0 });
    a.release();
    b.release();
    expect(shedder.inFlight).toBe(0);
  });

  it('a request larger than the capacity is refused at once as too large', async () => {
    const shedder = new LoadShedder({ capacity: 4, clock: new VirtualClock() });
    expect(() => shedder.tryAcquire(5)).toThrow(/capacity|too large|exceeds/i);
    await expect(shedder.acquire(5)).rejects.toThrow(/capacity|too large|exceeds/i);
  });

  it('reuses its refusal: shedding allocates nothing while the hint is unchanged', () => {
    const shedder = new LoadShedder({ capacity: 10, clock: new VirtualClock() });
    fill(shedder, 1, []);
    const first = shedder.tryAcquire(1, { priority: -1 });
    const second = shedder.tryAcquire(1, { priority: -1 });
    expect(first.granted).toBe(false);
    expect(second).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
  });
});

describe('LoadShedder: retry hints from the drain rate', () => {
  it('has no hint before anything completed, then (excess units) / (units completed per ms)', async () => {
    const clock = new VirtualClock();
    const shedder = new LoadShedder({ capacity: 10, levels: [{ name: 'all', priority: 0, admitUpTo: 1 }], clock });
    const held = [] as Permit[];
    fill(shedder, 0, held);
    const cold = shedder.tryAcquire(1);
    expect(cold.granted).toBe(false);
    expect(cold.granted === false && cold.retryAfterMs).toBeUndefined();
    // one unit completes (and is replaced) every 10 ms: 0.1 units per ms
    for (let t = 0; t < 40; t++) {
      await clock.advance(10);
      (held.shift() as Permit).release({ ok: true });
      const again = shedder.tryAcquire(1);
      expect(again.granted).toBe(true);
      held.push(again as Permit);
    }
    expect(shedder.tryAcquire(1)).toMatchObject({ granted: false, reason: 'shed', retryAfterMs: 10 });
    expect(shedder.tryAcquire(3)).toMatchObject({ granted: false, retryAfterMs: 30 });
    const error = await shedder.acquire(2).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'SHED', retryAfterMs: 20 });
  });
});

describe('LoadShedder: retry hints are never 0', () => {
  it('a request shed by a signal or shedBelow, with room in its level, is told the time its units take to drain', async () => {
    const clock = new VirtualClock();
    const lag = { value: 0 };
    const shedder = new LoadShedder({ capacity: 10, signals: [lag], clock });
    // one unit completes every 20 ms: 0.05 units per ms
    let held = shedder.tryAcquire(1) as Permit;
    for (let t = 0; t < 30; t++) {
      await clock.advance(20);
      held.release({ ok: true });
      held = shedder.tryAcquire(1) as Permit;
      expect(held.granted).toBe(true);
    }
    lag.value = 1;
    expect(shedder.tryAcquire(1)).toMatchObject({ granted: false, reason: 'shed', retryAfterMs: 20 });
    expect(shedder.tryAcquire(2)).toMatchObject({ granted: false, reason: 'shed', retryAfterMs: 40 });
    lag.value = 0;
    shedder.shedBelow(1);
    expect(shedder.tryAcquire(1, { priority: 0 })).toMatchObject({ granted: false, reason: 'shed', retryAfterMs: 20 });
    await expect(shedder.acquire(1, { priority: 0 })).rejects.toMatchObject({ code: 'SHED', retryAfterMs: 20 });
    shedder.shedBelow(undefined);
    held.release({ ok: true });
  });
});

describe('LoadShedder: signals and shedBelow', () => {
  it('sheds by the largest of in-flight share and every signal', () => {
    const lag: { value: number } = { value: 0 };
    const other: LoadSignal = { value: 0.1 };
    const shedder = new LoadShedder({ capacity: 100, signals: [other, lag], clock: new VirtualClock() });
    const admitted = (priority: number) => {
      const result = shedder.tryAcquire(1, { priority });
      if (result.granted) result.release();
      return result.granted;
    };
    expect([admitted(-1), admitted(0), admitted(1)]).toEqual([true, true, true]);
    lag.value = 0.92;
    expect(shedder.utilisation).toBe(0.92);
    expect([admitted(-1), admitted(0), admitted(1)]).toEqual([false, true, true]);
    lag.value = 0.96;
    expect([admitted(-1), admitted(0), admitted(1)]).toEqual([false, false, true]);
    lag.value = 0.99;
    expect([admitted(-1), admitted(0), admitted(1)]).toEqual([false, false, false]);
    expect(shedder.pressure).toBe(0.99);
    lag.value = 0;
    expect([admitted(-1), admitted(0), admitted(1)]).toEqual([true, true, true]);
  });

  it('a signal sheds a queued shedder at once too (nothing would wake a waiter)', async () => {
    const lag = { value: 1 };
    const shedder = new LoadShedder({ capacity: 10, queueLimit: 10, codel: false, signals: [lag], clock: new VirtualClock() });
    await expect(shedder.acquire(1, { priority: 5 })).rejects.toBeInstanceOf(ShedError);
    expect(shedder.stats().waiting).toBe(0);
  });

  it('shedBelow sheds lower priorities until lifted', () => {
    const shedder = new LoadShedder({ capacity: 100, clock: new VirtualClock() });
    shedder.shedBelow(0);
    expect(shedder.tryAcquire(1, { priority: -1 })).toMatchObject({ granted: false, reason: 'shed' });
    const normal = shedder.tryAcquire(1, { priority: 0 });
    expect(normal.granted).toBe(true);
    if (normal.granted) normal.release();
    shedder.shedBelow(undefined);
    expect(shedder.tryAcquire(1, { priority: -1 }).granted).toBe(true);
    expect(() => shedder.shedBelow(Number.NaN)).toThrow(InvalidArgumentError);
  });
});

describe('LoadShedder: queue-delay shedding (CoDel)', () => {
  const levels = [
    { name: 'high', priority: 1, admitUpTo: 1 },
    { name: 'low', priority: 0, admitUpTo: 1 },
  ];

  it('stays calm while every interval lets some work through without a standing queue', async () => {
    const clock = new VirtualClock();
    const shedder = new LoadShedder({ capacity: 1, levels, queueLimit: 10, codel: { targetMs: 5, intervalMs: 100 }, clock });
    // a request every 10 ms that takes 3 ms: the queue never stands
    for (let i = 0; i < 100; i++) {
      const permit = await clock.settle(shedder.acquire(1, { priority: 0 }));
      await clock.advance(3);
      permit.release({ ok: true });
      await clock.advance(7);
      expect(shedder.isOverloaded).toBe(false);
    }
    expect(shedder.stats()).toMatchObject({ admitted: 100, refused: 0 });
  });

  it('once the queue has stood above the target for an interval: sheds lower levels on arrival and drops stale waiters', async () => {
    const clock = new VirtualClock();
    const shedder = new LoadShedder({ capacity: 1, levels, queueLimit: 10, codel: { targetMs: 5, intervalMs: 100 }, clock });
    const holder = shedder.tryAcquire(1);
    expect(holder.granted).toBe(true);
    const stale = [settle(shedder.acquire(1, { priority: 1 })), settle(shedder.acquire(1, { priority: 1 }))];
    await clock.advance(150);
    expect(stale.every((s) => !s.done)).toBe(true);
    // the first interval let nobody through while two waited: a standing queue
    const lowNow = settle(shedder.acquire(1, { priority: 0 }));
    const highNow = settle(shedder.acquire(1, { priority: 1 }));
    await clock.advance(0);
    expect(shedder.isOverloaded).toBe(true);
    expect(lowNow.done && isShedError(lowNow.error)).toBe(true);
    expect(highNow.done).toBe(false);
    if (holder.granted) holder.release({ ok: true });
    await clock.advance(0);
    // both stale waiters (150 ms > 2 × target) are dropped with `shed`; the fresh high one is served
    expect(stale.map((s) => isShedError(s.error))).toEqual([true, true]);
    expect(highNow.done && highNow.value !== undefined).toBe(true);
    (highNow.value as Permit).release({ ok: true });
    // the next interval saw a wait of 0: calm again, and low work is admitted
    await clock.advance(100);
    const later = shedder.tryAcquire(1, { priority: 0 });
    expect(shedder.isOverloaded).toBe(false);
    expect(later.granted).toBe(true);
    expect(shedder.stats()).toMatchObject({ waiting: 0 });
    expect(shedder.inFlight).toBe(1);
  });

  async function serveOrder(lifo: boolean): Promise<number[]> {
    const clock = new VirtualClock();
    const shedder = new LoadShedder({ capacity: 1, levels, queueLimit: 10, codel: { targetMs: 5, intervalMs: 100, lifo }, clock });
    let holder = await shedder.acquire(1, { priority: 1 });
    const waiting = settle(shedder.acquire(1, { priority: 1 }));
    await clock.advance(120);
    // the queue stood through an interval; three fresh waiters arrive 1 ms apart
    const order: number[] = [];
    const fresh = [0, 1, 2].map((i) => shedder.acquire(1, { priority: 1 }).then((permit) => (order.push(i), permit)));
    fresh.forEach((p) => {
      p.catch(() => {});
    });
    await clock.advance(2);
    expect(shedder.isOverloaded).toBe(true);
    for (let i = 0; i < 3; i++) {
      holder.release({ ok: true });
      await clock.advance(0);
      holder = await (fresh[order[i] as number] as Promise<Permit>);
    }
    holder.release({ ok: true });
    expect(isShedError(waiting.error)).toBe(true);
    return order;
  }

  it('serves the newest waiter first while overloaded with lifo, oldest first without', async () => {
    expect(await serveOrder(true)).toEqual([2, 1, 0]);
    expect(await serveOrder(false)).toEqual([0, 1, 2]);
  });

  it('close() rejects waiters and leaves no timer', async () => {
    const clock = new VirtualClock();
    const shedder = new LoadShedder({ capacity: 1, levels, queueLimit: 4, clock });
    const holder = await shedder.acquire();
    const waiter = settle(shedder.acquire(1, { maxWaitMs: 1_000 }));
    shedder.close();
    await clock.advance(0);
    expect(waiter.done && (waiter.error as { code?: string }).code).toBe('CLOSED');
    holder.release();
    expect(clock.pendingTimers).toBe(0);
  });
});
