import { describe, expect, it } from 'vitest';
import { PriorityBuffer } from '@sluice/buffer';
import { VirtualClock } from '@sluice/testing';

describe('PriorityBuffer', () => {
  it('serves larger priorities first, FIFO within a priority', () => {
    const buffer = new PriorityBuffer<string>({ capacity: 10, levels: 3 });
    buffer.offer('low-1', 0);
    buffer.offer('high-1', 2);
    buffer.offer('mid-1', 1);
    buffer.offer('high-2', 2);
    buffer.offer('low-2');
    expect(buffer.sizeAt(0)).toBe(2);
    expect(buffer.peek()).toBe('high-1');
    expect(buffer.drain()).toEqual(['high-1', 'high-2', 'mid-1', 'low-1', 'low-2']);
  });

  it('derives priorities with priorityOf and validates them', () => {
    const buffer = new PriorityBuffer<{ p: number }>({ capacity: 4, levels: 2, priorityOf: (item) => item.p });
    buffer.offer({ p: 0 });
    buffer.offer({ p: 1 });
    expect(buffer.poll()).toEqual({ p: 1 });
    expect(() => buffer.offer({ p: 2 })).toThrow(/priority must be an integer from 0 to 1; received 2 \(number\)/);
    expect(() => buffer.offer({ p: 0 }, 0.5)).toThrow(/priority/);
    expect(buffer.size).toBe(1);
  });

  it('refuses when full by default', () => {
    const buffer = new PriorityBuffer<number>({ capacity: 2, levels: 2 });
    buffer.offer(1, 0);
    buffer.offer(2, 0);
    expect(buffer.offer(3, 1)).toBe('refused');
    expect(buffer.stats()).toMatchObject({ refused: 1, offered: 3, accepted: 2 });
  });

  it('evict-lowest drops the newest item of the lowest priority below the newcomer, and reports it', () => {
    const buffer = new PriorityBuffer<string>({ capacity: 3, levels: 3, whenFull: 'evict-lowest' });
    const drops: [string, string][] = [];
    buffer.onDrop((item, reason) => drops.push([item, reason]));
    buffer.offer('a', 0);
    buffer.offer('b', 0);
    buffer.offer('c', 1);
    expect(buffer.offer('d', 2)).toBe('dropped');
    expect(drops).toEqual([['b', 'evicted']]);
    expect(buffer.offer('e', 0)).toBe('refused'); // nothing lower than 0 to evict
    expect(buffer.offer('f', 1)).toBe('dropped'); // evicts 'a', the last of priority 0
    expect(buffer.drain()).toEqual(['d', 'c', 'f']);
    const stats = buffer.stats();
    expect(stats).toMatchObject({ offered: 6, accepted: 5, dropped: 2, refused: 1, taken: 3 });
  });

  it('ages: an item that waited maxStarvationMs goes before newer higher-priority items', async () => {
    const clock = new VirtualClock();
    const buffer = new PriorityBuffer<string>({ capacity: 10, levels: 2, maxStarvationMs: 100, clock });
    buffer.offer('old-low', 0);
    await clock.advance(50);
    buffer.offer('high-1', 1);
    expect(buffer.poll()).toBe('high-1'); // low has waited only 50 ms
    buffer.offer('high-2', 1);
    await clock.advance(60);
    buffer.offer('high-3', 1);
    expect(buffer.drain()).toEqual(['old-low', 'high-2', 'high-3']);
  });

  it('without maxStarvationMs, priority is strict', async () => {
    const clock = new VirtualClock();
    const buffer = new PriorityBuffer<string>({ capacity: 10, levels: 2, clock });
    buffer.offer('low', 0);
    await clock.advance(1_000_000);
    buffer.offer('high', 1);
    expect(buffer.poll()).toBe('high');
  });

  it('put waits at full and takes its priority', async () => {
    const clock = new VirtualClock();
    const buffer = new PriorityBuffer<string>({ capacity: 1, levels: 2, clock });
    buffer.offer('x', 0);
    const put = buffer.put('urgent', { priority: 1 });
    expect(buffer.poll()).toBe('x');
    await put;
    expect(buffer.poll()).toBe('urgent');
  });

  it('uses all 32 levels', () => {
    const buffer = new PriorityBuffer<number>({ capacity: 64, levels: 32 });
    for (let p = 0; p < 32; p++) buffer.offer(p, p);
    expect(buffer.drain()).toEqual(Array.from({ length: 32 }, (_, i) => 31 - i));
    const evicting = new PriorityBuffer<number>({ capacity: 1, levels: 32, whenFull: 'evict-lowest' });
    evicting.offer(0, 30);
    expect(evicting.offer(1, 31)).toBe('dropped');
    expect(evicting.poll()).toBe(1);
  });

  it('rejects bad options', () => {
    expect(() => new PriorityBuffer({ capacity: 2, levels: 0 })).toThrow(/levels must be a finite integer ≥ 1 ≤ 32; received 0/);
    expect(() => new PriorityBuffer({ capacity: 2, levels: 33 })).toThrow(/levels/);
    expect(() => new PriorityBuffer({ capacity: 2, levels: 2, defaultPriority: 2 })).toThrow(/defaultPriority/);
    expect(() => new PriorityBuffer({ capacity: 2, levels: 2, whenFull: 'drop' as never })).toThrow(
      /whenFull must be one of "refuse", "evict-lowest"/,
    );
    expect(() => new PriorityBuffer({ capacity: 2, levels: 2, maxStarvationMs: -1 })).toThrow(/maxStarvationMs/);
    expect(() => new PriorityBuffer({ capacity: 2, levels: 2, priorityOf: 1 as never })).toThrow(/priorityOf must be a function/);
  });
});
