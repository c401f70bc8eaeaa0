import { describe, expect, it } from 'vitest';
import { DroppingBuffer } from '@sluice/buffer';
import { createRandom } from '@sluice/testing';

function fill(buffer: DroppingBuffer<number>, n: number) {
  const drops: [number, string][] = [];
  buffer.onDrop((item, reason) => drops.push([item, reason]));
  const answers = Array.from({ length: n }, (_, i) => buffer.offer(i));
  return { drops, answers };
}

describe('DroppingBuffer', () => {
  it('drop-oldest keeps the freshest items and hands over every dropped one', () => {
    const buffer = new DroppingBuffer<number>({ capacity: 3, strategy: 'drop-oldest', highWaterMark: 3, lowWaterMark: 0 });
    const { drops, answers } = fill(buffer, 6);
    expect(answers).toEqual(['ok', 'ok', 'pause', 'dropped', 'dropped', 'dropped']);
    expect(drops).toEqual([
      [0, 'oldest'],
      [1, 'oldest'],
      [2, 'oldest'],
    ]);
    expect(buffer.drain()).toEqual([3, 4, 5]);
    expect(buffer.droppedCount).toBe(3);
    expect(buffer.stats()).toMatchObject({ offered: 6, accepted: 6, dropped: 3, taken: 3, refused: 0, size: 0 });
  });

  it('drop-newest keeps what it holds and drops the offered item', () => {
    const buffer = new DroppingBuffer<number>({ capacity: 3, strategy: 'drop-newest' });
    const { drops, answers } = fill(buffer, 5);
    expect(answers.slice(3)).toEqual(['dropped', 'dropped']);
    expect(drops).toEqual([
      [3, 'newest'],
      [4, 'newest'],
    ]);
    expect(buffer.drain()).toEqual([0, 1, 2]);
    expect(buffer.stats()).toMatchObject({ offered: 5, accepted: 3, dropped: 2, taken: 3 });
  });

  it('drop-random drops held items, keeps the order of the rest, and is reproducible with a seed', () => {
    const run = (seed: number) => {
      const buffer = new DroppingBuffer<number>({ capacity: 10, strategy: 'drop-random', random: createRandom(seed).next });
      const { drops } = fill(buffer, 200);
      return { drops: drops.map(([item]) => item), rest: buffer.drain(), stats: buffer.stats() };
    };
    const a = run(7);
    expect(run(7)).toEqual(a);
    expect(run(8).drops).not.toEqual(a.drops);
    expect(a.drops).toHaveLength(190);
    expect(a.rest).toHaveLength(10);
    expect(a.rest).toEqual([...a.rest].sort((x, y) => x - y)); // FIFO among the survivors
    expect(new Set([...a.drops, ...a.rest]).size).toBe(200); // each item either dropped or kept, once
    expect(a.stats).toMatchObject({ offered: 200, dropped: 190, taken: 10, size: 0 });
  });

  it('drop-random spreads the loss over the held items rather than always the same slot', () => {
    const buffer = new DroppingBuffer<number>({ capacity: 4, strategy: 'drop-random', random: createRandom(3).next });
    const positions = new Map<number, number>();
    const { drops } = fill(buffer, 2_000);
    // an item dropped right after entering was at the back; early items were at the front
    for (const [item] of drops) positions.set(item % 4, (positions.get(item % 4) ?? 0) + 1);
    expect(positions.size).toBe(4);
  });

  it('put never waits: it drops instead', async () => {
    const buffer = new DroppingBuffer<number>({ capacity: 1, strategy: 'drop-oldest' });
    await buffer.put(1);
    await buffer.put(2);
    expect(buffer.poll()).toBe(2);
    expect(buffer.stats().pendingPuts).toBe(0);
  });

  it('rejects an unknown strategy and a random source that is not a function', () => {
    expect(() => new DroppingBuffer({ capacity: 1, strategy: 'drop-all' as never })).toThrow(
      /strategy must be one of "drop-oldest", "drop-newest", "drop-random"; received "drop-all" \(string\)/,
    );
    expect(() => new DroppingBuffer({ capacity: 1, strategy: 'drop-random', random: 4 as never })).toThrow(/random must be a function/);
  });
});
