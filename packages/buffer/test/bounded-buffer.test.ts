import { describe, expect, it } from 'vitest';
import { ClosedError, InvalidArgumentError, QueueFullError, WaitTimeoutError } from '@sluice/core';
import { BoundedBuffer } from '@sluice/buffer';
import { VirtualClock } from '@sluice/testing';

function events<T>(buffer: BoundedBuffer<T>): string[] {
  const log: string[] = [];
  buffer.onPause(() => log.push(`pause@${buffer.size}`));
  buffer.onResume(() => log.push(`resume@${buffer.size}`));
  return log;
}

describe('BoundedBuffer', () => {
  it('answers ok, then pause from the high-water mark, then refused when full', () => {
    const buffer = new BoundedBuffer<number>({ capacity: 5, highWaterMark: 3, lowWaterMark: 1 });
    expect([1, 2, 3, 4, 5, 6].map((n) => buffer.offer(n))).toEqual(['ok', 'ok', 'pause', 'pause', 'pause', 'refused']);
    expect(buffer.size).toBe(5);
    expect(buffer.stats()).toMatchObject({ offered: 6, accepted: 5, refused: 1, taken: 0, dropped: 0, size: 5 });
  });

  it('defaults the water marks to 80 % and 20 % of capacity', () => {
    const buffer = new BoundedBuffer<number>({ capacity: 10 });
    expect([buffer.highWaterMark, buffer.lowWaterMark]).toEqual([8, 2]);
    expect([new BoundedBuffer({ capacity: 1 }).highWaterMark, new BoundedBuffer({ capacity: 1 }).lowWaterMark]).toEqual([1, 0]);
  });

  it('fires pause once on reaching high water and resume once on draining to low water (hysteresis)', () => {
    const buffer = new BoundedBuffer<number>({ capacity: 10, highWaterMark: 6, lowWaterMark: 2 });
    const log = events(buffer);
    for (let i = 0; i < 8; i++) buffer.offer(i);
    for (let i = 0; i < 3; i++) buffer.poll(); // 5 left: still paused
    expect(buffer.offer(99)).toBe('pause');
    expect(log).toEqual(['pause@6']);
    while (buffer.size > 2) buffer.poll();
    expect(log).toEqual(['pause@6', 'resume@2']);
    expect(buffer.offer(100)).toBe('ok');
    expect(buffer.stats().paused).toBe(false);
  });

  it('poll and peek never wait; FIFO order', () => {
    const buffer = new BoundedBuffer<string>({ capacity: 3 });
    expect(buffer.poll()).toBeUndefined();
    expect(buffer.peek()).toBeUndefined();
    buffer.offer('a');
    buffer.offer('b');
    expect(buffer.peek()).toBe('a');
    expect(buffer.poll()).toBe('a');
    expect(buffer.poll()).toBe('b');
    expect(buffer.poll()).toBeUndefined();
  });

  it('put waits for room and enters in order as consumers make room', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 2, clock });
    await buffer.put(1);
    await buffer.put(2);
    const settled: number[] = [];
    void buffer.put(3).then(() => settled.push(3));
    void buffer.put(4).then(() => settled.push(4));
    await clock.advance(0);
    expect(buffer.stats().pendingPuts).toBe(2);
    expect(buffer.offer(5)).toBe('refused'); // full; waiting producers keep their place
    expect(buffer.poll()).toBe(1);
    await clock.advance(0);
    expect(settled).toEqual([3]);
    expect(buffer.drain()).toEqual([2, 3]);
    await clock.advance(0);
    expect(settled).toEqual([3, 4]);
    expect(buffer.poll()).toBe(4);
  });

  it('take waits for an item; an offer goes straight to the longest-waiting consumer', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<string>({ capacity: 2, clock });
    const first = buffer.take();
    const second = buffer.take();
    expect(buffer.offer('x')).toBe('ok');
    expect(buffer.size).toBe(0);
    await expect(first).resolves.toBe('x');
    await buffer.put('y');
    await expect(second).resolves.toBe('y');
    expect(buffer.stats()).toMatchObject({ offered: 2, accepted: 2, taken: 2, size: 0 });
  });

  it('put and take honour maxWaitMs, signals and their limits', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 1, maxPendingPuts: 1, maxPendingTakes: 1, clock });
    const take = buffer.take({ maxWaitMs: 100 }).catch((e: unknown) => e);
    await expect(buffer.take()).rejects.toBeInstanceOf(QueueFullError);
    await clock.advance(100);
    expect(await take).toBeInstanceOf(WaitTimeoutError);

    buffer.offer(1);
    const controller = new AbortController();
    const put = buffer.put(2, { signal: controller.signal }).catch((e: unknown) => e);
    await expect(buffer.put(3)).rejects.toBeInstanceOf(QueueFullError);
    await expect(buffer.put(4, { maxWaitMs: 0 })).rejects.toBeInstanceOf(WaitTimeoutError);
    controller.abort(new Error('gave up'));
    expect(((await put) as Error).message).toBe('gave up');
    expect(buffer.stats()).toMatchObject({ pendingPuts: 0, refused: 3, offered: 4, accepted: 1 });
    const aborted = new AbortController();
    aborted.abort('before');
    await expect(buffer.put(5, { signal: aborted.signal })).rejects.toBe('before');
    await expect(buffer.take({ signal: aborted.signal })).rejects.toBe('before');
    expect(clock.pendingTimers).toBe(0);
  });

  it('close() rejects waiting puts and takes, returns what it held, and refuses from then on', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 2, clock, highWaterMark: 2, lowWaterMark: 0 });
    const log = events(buffer);
    buffer.offer(1);
    buffer.offer(2);
    const waitingPut = buffer.put(3, { maxWaitMs: 1_000 }).catch((e: unknown) => e);
    expect(buffer.close()).toEqual([1, 2]);
    expect(await waitingPut).toBeInstanceOf(ClosedError);
    expect(log).toEqual(['pause@2', 'resume@0']);
    expect(() => buffer.offer(4)).toThrow(ClosedError);
    await expect(buffer.put(5)).rejects.toBeInstanceOf(ClosedError);
    await expect(buffer.take()).rejects.toBeInstanceOf(ClosedError);
    expect(buffer.close()).toEqual([]);
    const stats = buffer.stats();
    expect(stats.offered).toBe(stats.taken + stats.dropped + stats.refused + stats.size);
    expect(clock.pendingTimers).toBe(0);

    const empty = new BoundedBuffer<number>({ capacity: 1, clock });
    const waitingTake = empty.take().catch((e: unknown) => e);
    empty.close();
    expect(await waitingTake).toBeInstanceOf(ClosedError);
  });

  it('async iteration consumes until end(), after the rest is taken', async () => {
    const buffer = new BoundedBuffer<number>({ capacity: 4 });
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const n of buffer) seen.push(n);
    })();
    for (let i = 0; i < 10; i++) await buffer.put(i);
    buffer.end();
    expect(() => buffer.offer(11)).toThrow(ClosedError);
    await consumer;
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('async iteration ends at close(), and two consumers share the items', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 10, clock });
    const a: number[] = [];
    const b: number[] = [];
    const loops = [
      (async () => {
        for await (const n of buffer) a.push(n);
      })(),
      (async () => {
        for await (const n of buffer) b.push(n);
      })(),
    ];
    for (let i = 0; i < 6; i++) {
      buffer.offer(i);
      await clock.advance(0);
    }
    buffer.close();
    await Promise.all(loops);
    expect([...a, ...b].sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
  });

  it('reports how long each item was held once someone listens to onTake', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<string>({ capacity: 10, clock });
    buffer.offer('before');
    const waits: [string, number][] = [];
    buffer.onTake((item, waitedMs) => waits.push([item, waitedMs]));
    buffer.offer('a');
    await clock.advance(30);
    buffer.offer('b');
    await clock.advance(20);
    buffer.poll();
    buffer.poll();
    buffer.poll();
    expect(waits[0]?.[0]).toBe('before');
    expect(waits[0]?.[1]).toBeNaN();
    expect(waits.slice(1)).toEqual([
      ['a', 50],
      ['b', 20],
    ]);
  });

  it('gives memory back after a drain', () => {
    const buffer = new BoundedBuffer<number>({ capacity: 1_000_000 });
    for (let i = 0; i < 100_000; i++) buffer.offer(i);
    const ringOf = () => (buffer as unknown as { ring: unknown[] }).ring.length;
    expect(ringOf()).toBeGreaterThanOrEqual(100_000);
    while (buffer.poll() !== undefined);
    expect(ringOf()).toBe(16);
    for (let i = 0; i < 50_000; i++) buffer.offer(i);
    buffer.drain();
    expect(ringOf()).toBe(16);
  });

  it('rejects bad options at construction, naming the option and the value', () => {
    const bad: [object, RegExp][] = [
      [{ capacity: 0 }, /capacity must be a finite integer ≥ 1; received 0 \(number\)/],
      [{ capacity: 2.5 }, /capacity must be a finite integer ≥ 1; received 2.5/],
      [{ capacity: Number.NaN }, /capacity .* received NaN/],
      [{ capacity: Infinity }, /capacity .* received Infinity/],
      [{ capacity: 10, highWaterMark: 11 }, /highWaterMark must be a finite integer ≥ 1 ≤ 10; received 11/],
      [{ capacity: 10, highWaterMark: Number.NaN }, /highWaterMark .* received NaN/],
      [{ capacity: 10, highWaterMark: 5, lowWaterMark: 5 }, /lowWaterMark must be an integer < highWaterMark \(5\); received 5/],
      [{ capacity: 10, lowWaterMark: Infinity }, /lowWaterMark .* received Infinity/],
      [{ capacity: 10, maxPendingPuts: -1 }, /maxPendingPuts/],
      [{ capacity: 10, name: '' }, /name must be a non-empty string/],
    ];
    for (const [options, message] of bad) {
      expect(() => new BoundedBuffer(options as never)).toThrow(InvalidArgumentError);
      expect(() => new BoundedBuffer(options as never)).toThrow(message);
    }
    expect(() => new BoundedBuffer(undefined as never)).toThrow(/capacity must be a finite integer ≥ 1; received undefined/);
    expect(() => new BoundedBuffer(7 as never)).toThrow(/options must be an object/);
  });

  it('rejects bad wait options', async () => {
    const buffer = new BoundedBuffer<number>({ capacity: 1 });
    await expect(buffer.take({ maxWaitMs: -1 })).rejects.toThrow(/maxWaitMs/);
    await expect(buffer.put(1, { signal: 'x' as never })).rejects.toThrow(/signal must be an AbortSignal/);
    expect(buffer.size).toBe(0);
  });
});
