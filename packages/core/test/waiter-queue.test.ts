import { describe, expect, it, vi } from 'vitest';
import { WaiterQueue, type LeaveReason, type QueuedWaiter } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';

interface Harness {
  clock: VirtualClock;
  queue: WaiterQueue<string, number>;
  leaves: [LeaveReason, number][];
}

function harness(maxStarvationMs?: number): Harness {
  const clock = new VirtualClock({ stallReportMs: false });
  const leaves: [LeaveReason, number][] = [];
  const queue = new WaiterQueue<string, number>({
    clock,
    ...(maxStarvationMs === undefined ? {} : { maxStarvationMs }),
    timeoutReason: (waiter: QueuedWaiter<number>) => new Error(`timeout ${waiter.payload}`),
    onLeave: (reason, count) => leaves.push([reason, count]),
  });
  return { clock, queue, leaves };
}

function outcomes<T>(promises: Promise<T>[]): { settled: (T | Error)[] } {
  const settled: (T | Error)[] = [];
  for (const p of promises)
    p.then(
      (v) => settled.push(v),
      (e: Error) => settled.push(e),
    );
  return { settled };
}

/** Grants every waiter in service order, returning their payloads. */
function grantAll(queue: WaiterQueue<string, number>): number[] {
  const order: number[] = [];
  for (let head = queue.peek(); head !== undefined; head = queue.peek()) {
    order.push(head.payload);
    queue.grant(head, `granted ${head.payload}`);
  }
  return order;
}

describe('WaiterQueue', () => {
  it('serves a larger priority first and FIFO within a priority', () => {
    const { queue } = harness(Infinity);
    const priorities = [0, 5, 0, -1, 5, 2];
    priorities.forEach((priority, i) => void queue.enqueue(1, priority, undefined, Infinity, i));
    expect(queue.size).toBe(6);
    expect(grantAll(queue)).toEqual([1, 4, 5, 0, 2, 3]);
    expect(queue.size).toBe(0);
    expect(queue.units).toBe(0);
  });

  it('resolves granted waiters with the value given', async () => {
    const { queue } = harness();
    const promise = queue.enqueue(2, 0, undefined, Infinity, 7);
    const head = queue.peek();
    expect(head?.count).toBe(2);
    queue.grant(head as QueuedWaiter<number>, 'yes');
    await expect(promise).resolves.toBe('yes');
  });

  it('ages: a waiter older than maxStarvationMs goes before newer ones of any priority', async () => {
    const { clock, queue } = harness(100);
    void queue.enqueue(1, 0, undefined, Infinity, 0); // low, t=0
    await clock.advance(50);
    void queue.enqueue(1, 9, undefined, Infinity, 1); // high, t=50
    expect(queue.peek()?.payload).toBe(1); // the low one has waited 50 < 100 ms
    await clock.advance(60); // t=110: low has waited 110 ms
    void queue.enqueue(1, 9, undefined, Infinity, 2);
    expect(grantAll(queue)).toEqual([0, 1, 2]);
  });

  it('ages only ahead of newer waiters: an older high-priority waiter still goes first', async () => {
    const { clock, queue } = harness(100);
    void queue.enqueue(1, 9, undefined, Infinity, 0); // high, t=0
    await clock.advance(10);
    void queue.enqueue(1, 0, undefined, Infinity, 1); // low, t=10
    await clock.advance(500);
    expect(grantAll(queue)).toEqual([0, 1]);
  });

  it('registers one abort listener per signal, however many waiters share it, and removes it with the last', () => {
    const { queue } = harness();
    const controller = new AbortController();
    const add = vi.spyOn(controller.signal, 'addEventListener');
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    for (let i = 0; i < 1000; i++) void queue.enqueue(1, 0, controller.signal, Infinity, i);
    expect(add).toHaveBeenCalledTimes(1);
    grantAll(queue);
    expect(remove).toHaveBeenCalledTimes(1);
  });

  it('aborting a shared signal rejects exactly its waiters with the reason and reports one leave', async () => {
    const { clock, queue, leaves } = harness();
    const shared = new AbortController();
    const mine = Array.from({ length: 5 }, (_, i) => queue.enqueue(1, 0, shared.signal, 1_000, i));
    const others = [queue.enqueue(1, 0, undefined, Infinity, 5), queue.enqueue(3, 0, new AbortController().signal, Infinity, 6)];
    const a = outcomes(mine);
    const b = outcomes(others);
    const reason = new Error('stop');
    shared.abort(reason);
    await clock.advance(0);
    expect(a.settled).toEqual([reason, reason, reason, reason, reason]);
    expect(b.settled).toEqual([]);
    expect(queue.size).toBe(2);
    expect(queue.units).toBe(4);
    expect(queue.aborted).toBe(5);
    expect(leaves).toEqual([['abort', 5]]);
    expect(grantAll(queue)).toEqual([5, 6]);
  });

  it('serves every maxWaitMs deadline with one timer and expires waiters in deadline order', async () => {
    const { clock, queue, leaves } = harness();
    const settled: string[] = [];
    for (let i = 0; i < 200; i++) {
      queue.enqueue(1, 0, undefined, 1_000 - i, i).catch((e: Error) => settled.push(e.message));
    }
    expect(clock.pendingTimers).toBe(1);
    expect(queue.timerArmed).toBe(true);
    await clock.advance(900);
    expect(settled.length).toBe(100); // deadlines 801..1000 ms: the ones at ≤ 900 expired
    expect(settled[0]).toBe('timeout 199');
    await clock.advance(100);
    expect(settled.length).toBe(200);
    expect(queue.size).toBe(0);
    expect(queue.timedOut).toBe(200);
    expect(clock.pendingTimers).toBe(0);
    expect(leaves.every(([reason]) => reason === 'timeout')).toBe(true);
  });

  it('granting before the deadline leaves no waiter to time out and lets the timer lapse', async () => {
    const { clock, queue } = harness();
    const promise = queue.enqueue(1, 0, undefined, 100, 0);
    queue.grant(queue.peek() as QueuedWaiter<number>, 'ok');
    await expect(promise).resolves.toBe('ok');
    // the last live deadline went with the grant: no keep-alive timer holds the process until 100 ms
    expect(clock.pendingTimers).toBe(0);
    expect(queue.timerArmed).toBe(false);
    await clock.advance(200);
    expect(clock.pendingTimers).toBe(0);
    expect(queue.timedOut).toBe(0);
  });

  it('re-arms the one timer for an earlier deadline', async () => {
    const { clock, queue } = harness();
    const late = queue.enqueue(1, 0, undefined, 1_000, 0);
    const early = queue.enqueue(1, 0, undefined, 10, 1);
    late.catch(() => {});
    const e = outcomes([early]);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(10);
    expect(e.settled).toHaveLength(1);
    expect(clock.nextTimerAt).toBe(1_000);
  });

  it('keeps the timer while a live deadline remains behind a granted one, drops it with the last', async () => {
    const { clock, queue } = harness();
    const first = queue.enqueue(1, 0, undefined, 10, 0);
    const second = queue.enqueue(1, 0, undefined, 50, 1);
    queue.grant(queue.peek() as QueuedWaiter<number>, 'a');
    await expect(first).resolves.toBe('a');
    expect(clock.pendingTimers).toBe(1);
    queue.grant(queue.peek() as QueuedWaiter<number>, 'b');
    await expect(second).resolves.toBe('b');
    expect(clock.pendingTimers).toBe(0);
  });

  it('rejectAll settles everyone once, and clears timers and listeners', async () => {
    const { clock, queue } = harness();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const promises = [
      queue.enqueue(1, 0, controller.signal, 50, 0),
      queue.enqueue(1, 3, undefined, Infinity, 1),
      queue.enqueue(1, 0, undefined, 70, 2),
    ];
    const o = outcomes(promises);
    expect(queue.rejectAll((w) => new Error(`closed ${w.payload}`))).toBe(3);
    await clock.advance(0);
    expect(o.settled.map((e) => (e as Error).message).sort()).toEqual(['closed 0', 'closed 1', 'closed 2']);
    expect(clock.pendingTimers).toBe(0);
    expect(remove).toHaveBeenCalledTimes(1);
    controller.abort();
    await clock.advance(100);
    expect(o.settled).toHaveLength(3);
  });

  it('counts units ahead of a new waiter by priority', () => {
    const { queue } = harness();
    void queue.enqueue(2, 0, undefined, Infinity, 0);
    void queue.enqueue(3, 5, undefined, Infinity, 1);
    void queue.enqueue(4, 1, undefined, Infinity, 2);
    expect(queue.unitsAhead(0)).toBe(9);
    expect(queue.unitsAhead(1)).toBe(7);
    expect(queue.unitsAhead(5)).toBe(3);
    expect(queue.unitsAhead(6)).toBe(0);
  });

  it('sweeps cancelled waiters out in bulk instead of searching for each', async () => {
    const { clock, queue } = harness();
    const controllers = Array.from({ length: 1000 }, () => new AbortController());
    const promises = controllers.map((c, i) => queue.enqueue(1, 0, c.signal, Infinity, i));
    promises.forEach((p) => {
      p.catch(() => {});
    });
    for (let i = 1; i < 999; i++) controllers[i]?.abort();
    await clock.advance(0);
    expect(queue.size).toBe(2);
    const ring = (queue as unknown as { levels: { waiters: { length: number } }[] }).levels[0]?.waiters;
    expect(ring?.length ?? 0).toBeLessThan(100); // tombstones were swept, not kept until they reach the front
    expect(grantAll(queue)).toEqual([0, 999]);
  });

  it('does not keep a level per priority ever seen', () => {
    const { queue } = harness();
    for (let p = 0; p < 100; p++) void queue.enqueue(1, p, undefined, Infinity, p);
    grantAll(queue);
    const levels = (queue as unknown as { levels: unknown[] }).levels;
    expect(levels.length).toBeLessThanOrEqual(8);
  });

  it('rejects a bad maxStarvationMs at construction', () => {
    const clock = new VirtualClock({ stallReportMs: false });
    expect(() => new WaiterQueue({ clock, maxStarvationMs: -1, timeoutReason: () => 0 })).toThrow(
      /maxStarvationMs must be a number ≥ 0 or Infinity; received -1 \(number\)/,
    );
  });
});
