import { describe, expect, it } from 'vitest';
import { WaiterQueue, type QueuedWaiter } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';

/** A waiter's payload in these tests: its label, e.g. `a1` (key a, first of its key). */
function keyedQueue(options: { maxStarvationMs?: number; keyed?: boolean } = {}) {
  const clock = new VirtualClock({ stallReportMs: false });
  const queue = new WaiterQueue<string, string>({
    clock,
    maxStarvationMs: options.maxStarvationMs ?? Infinity,
    timeoutReason: (waiter: QueuedWaiter<string>) => new Error(`timeout ${waiter.payload}`),
    keyed: options.keyed ?? true,
  });
  const settled: string[] = [];
  const add = (
    label: string,
    key: string | number | undefined,
    extra: { priority?: number; signal?: AbortSignal; maxWaitMs?: number; count?: number } = {},
  ) =>
    queue.enqueue(extra.count ?? 1, extra.priority ?? 0, extra.signal, extra.maxWaitMs ?? Infinity, label, key).then(
      () => settled.push(`${label} ok`),
      (error: Error) => settled.push(`${label} ${error.message}`),
    );
  return { clock, queue, settled, add };
}

/** Grants every waiter in service order; returns their labels. */
function serveAll(queue: WaiterQueue<string, string>, limit = Infinity): string[] {
  const order: string[] = [];
  for (let head = queue.peek(); head !== undefined && order.length < limit; head = queue.peek()) {
    order.push(head.payload);
    queue.grant(head, 'granted');
  }
  return order;
}

/** The turn ring of the first level, read for the memory checks only. */
function turnsOf(queue: WaiterQueue<string, string>): number {
  const levels = (queue as unknown as { levels: { turns: { length: number } }[] }).levels;
  return levels[0]?.turns.length ?? 0;
}

describe('WaiterQueue with keyed: round-robin across keys', () => {
  it('takes turns between keys within a priority, FIFO within a key', () => {
    const { queue, add } = keyedQueue();
    for (const label of ['a1', 'a2', 'a3', 'a4', 'a5']) void add(label, 'a');
    void add('b1', 'b');
    void add('b2', 'b');
    void add('c1', 'c');
    expect(queue.keys).toBe(3);
    expect(serveAll(queue)).toEqual(['a1', 'b1', 'c1', 'a2', 'b2', 'a3', 'a4', 'a5']);
    expect(queue.keys).toBe(0);
    expect(queue.size).toBe(0);
    expect(queue.units).toBe(0);
  });

  it('a key that arrives later waits for its turn behind the keys already waiting, not behind their backlog', () => {
    const { queue, add } = keyedQueue();
    for (let i = 1; i <= 100; i++) void add(`a${i}`, 'a');
    void add('b1', 'b');
    expect(serveAll(queue, 3)).toEqual(['a1', 'b1', 'a2']);
    void add('c1', 'c'); // joins the ring behind a
    void add('b2', 'b');
    expect(serveAll(queue, 4)).toEqual(['a3', 'c1', 'b2', 'a4']);
  });

  it('keys are strings, numbers, or none (one shared key); 1 and "1" are different keys', () => {
    const { queue, add } = keyedQueue();
    void add('n1', 1);
    void add('n2', 1);
    void add('s1', '1');
    void add('u1', undefined);
    void add('u2', undefined);
    expect(queue.keys).toBe(3);
    expect([queue.keyUnits(1), queue.keyUnits('1'), queue.keyUnits(undefined), queue.keyUnits('x')]).toEqual([2, 1, 2, 0]);
    expect(serveAll(queue)).toEqual(['n1', 's1', 'u1', 'n2', 'u2']);
  });

  it('priorities still come first; each priority takes its own turns', () => {
    const { queue, add } = keyedQueue();
    void add('a1', 'a');
    void add('a2', 'a');
    void add('b1', 'b');
    void add('A1', 'a', { priority: 5 });
    void add('A2', 'a', { priority: 5 });
    void add('C1', 'c', { priority: 5 });
    expect(queue.keys).toBe(4); // a at two priorities counts twice
    expect(queue.keyUnits('a')).toBe(4);
    expect(serveAll(queue)).toEqual(['A1', 'C1', 'A2', 'a1', 'b1', 'a2']);
  });

  it('aging still lets an old low-priority waiter go first', async () => {
    const { clock, queue, add } = keyedQueue({ maxStarvationMs: 100 });
    void add('low-a', 'a');
    await clock.advance(150);
    void add('high-b', 'b', { priority: 9 });
    expect(serveAll(queue)).toEqual(['low-a', 'high-b']);
  });

  it("a grant ends the key's turn; a waiter leaving ungranted does not cost its key the turn", async () => {
    const { clock, queue, add, settled } = keyedQueue();
    const a1 = new AbortController();
    void add('a1', 'a', { signal: a1.signal });
    void add('a2', 'a');
    void add('b1', 'b');
    const b2 = new AbortController();
    void add('b2', 'b', { signal: b2.signal });
    void add('c1', 'c');
    b2.abort(new Error('gone')); // a waiter of another key: nothing changes
    expect(queue.peek()?.payload).toBe('a1');
    a1.abort(new Error('gone')); // the head of the key with the turn: a keeps it, a2 is next
    expect(queue.peek()?.payload).toBe('a2');
    expect(serveAll(queue)).toEqual(['a2', 'b1', 'c1']);
    await clock.advance(0);
    expect(settled.sort()).toEqual(['a1 gone', 'a2 ok', 'b1 ok', 'b2 gone', 'c1 ok']);
  });

  it('a key whose waiters all time out loses its turn and leaves the ring', async () => {
    const { clock, queue, add, settled } = keyedQueue();
    void add('a1', 'a', { maxWaitMs: 10 });
    void add('a2', 'a', { maxWaitMs: 10 });
    void add('b1', 'b');
    void add('c1', 'c', { maxWaitMs: 20 });
    await clock.advance(10);
    expect(queue.keys).toBe(2);
    expect(queue.peek()?.payload).toBe('b1');
    await clock.advance(10);
    expect(queue.keys).toBe(1);
    expect(serveAll(queue)).toEqual(['b1']);
    await clock.advance(0);
    expect(settled.sort()).toEqual(['a1 timeout a1', 'a2 timeout a2', 'b1 ok', 'c1 timeout c1']);
  });

  it('a head granted behind settled waiters of its key still passes the turn', async () => {
    const { clock, queue, add } = keyedQueue();
    const gone = new AbortController();
    void add('a1', 'a');
    void add('a2', 'a', { signal: gone.signal });
    void add('a3', 'a');
    void add('b1', 'b');
    expect(serveAll(queue, 1)).toEqual(['a1']); // now b has the turn
    gone.abort(new Error('gone')); // a2 leaves a tombstone at the front of a's FIFO
    expect(serveAll(queue)).toEqual(['b1', 'a3']);
    await clock.advance(0);
  });

  it('rejectAll settles the waiters of every key and forgets every key', async () => {
    const { clock, queue, add, settled } = keyedQueue();
    void add('a1', 'a');
    void add('b1', 'b', { priority: 2, maxWaitMs: 50 });
    void add('c1', 'c', { signal: new AbortController().signal });
    expect(queue.rejectAll((w) => new Error(`closed ${w.payload}`))).toBe(3);
    expect([queue.size, queue.keys, queue.timerArmed]).toEqual([0, 0, false]);
    await clock.advance(0);
    expect(settled.sort()).toEqual(['a1 closed a1', 'b1 closed b1', 'c1 closed c1']);
  });

  it('keeps nothing per key once its waiters are gone: 10,000 keys come and go, the map and the ring empty', async () => {
    const { clock, queue, add } = keyedQueue();
    // One patient key is topped up every round, so the level itself never empties and only the
    // per-key bookkeeping can free what the departed keys used.
    let served = 0;
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 50; i++) void add('patient', 'patient');
      const abort = new AbortController();
      for (let i = 0; i < 100; i++) {
        const key = `tenant-${round * 100 + i}`;
        if (i % 3 === 0) void add(`${key}/aborted`, key, { signal: abort.signal });
        else if (i % 3 === 1) void add(`${key}/timed-out`, key, { maxWaitMs: 5 });
        else void add(`${key}/granted`, key);
      }
      expect(queue.keys).toBe(101);
      abort.abort(new Error('gone'));
      await clock.advance(5);
      expect(queue.keys).toBe(34);
      // one turn each: the 33 tenants left are granted within one round of the ring
      while (queue.keys > 1) {
        const head = queue.peek() as QueuedWaiter<string>;
        if (head.payload !== 'patient') served++;
        queue.grant(head, 'granted');
      }
      expect(queue.keyUnits('patient')).toBe(queue.size);
      expect(turnsOf(queue)).toBeLessThanOrEqual(1 + 32); // stale turns are skipped or swept
    }
    expect(served).toBe(3_300);
    expect(queue.keys).toBe(1);
    serveAll(queue);
    expect(queue.keys).toBe(0);
    expect(turnsOf(queue)).toBe(0);
    expect(queue.timerArmed).toBe(false);
    await clock.advance(0);
  });

  it('without keyed, keys are ignored: FIFO, and every waiter counts for every key', () => {
    const { queue, add } = keyedQueue({ keyed: false });
    void add('a1', 'a');
    void add('a2', 'a');
    void add('b1', 'b');
    expect(queue.keys).toBe(1);
    expect(queue.keyUnits('b')).toBe(3);
    expect(serveAll(queue)).toEqual(['a1', 'a2', 'b1']);
    expect(queue.keys).toBe(0);
  });

  it('peekNewest finds the newest waiter of the highest priority across keys', async () => {
    const { clock, queue, add } = keyedQueue();
    void add('a1', 'a');
    await clock.advance(1);
    void add('b1', 'b');
    await clock.advance(1);
    void add('a2', 'a');
    void add('low', 'c', { priority: -1 });
    expect(queue.peekNewest()?.payload).toBe('a2');
    serveAll(queue);
  });
});
