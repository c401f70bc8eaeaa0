import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClosedError } from '@sluice/core';
import { BoundedBuffer, DroppingBuffer, PriorityBuffer, type BufferBase } from '@sluice/buffer';
import { VirtualClock, createRandom } from '@sluice/testing';

interface Item {
  id: number;
  level: number;
}

type Op =
  | { kind: 'offer'; level: number }
  | { kind: 'poll' }
  | { kind: 'put'; level: number; maxWaitMs: number | undefined; signal: number | undefined }
  | { kind: 'take'; maxWaitMs: number | undefined; signal: number | undefined }
  | { kind: 'abort'; signal: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'drain' }
  | { kind: 'end' };

const level = fc.integer({ min: 0, max: 2 });
const wait = fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined });
const signal = fc.option(fc.nat({ max: 1 }), { nil: undefined });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('offer' as const), level }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('poll' as const) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('put' as const), level, maxWaitMs: wait, signal }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('take' as const), maxWaitMs: wait, signal }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), signal: fc.nat({ max: 1 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drain' as const) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'end' as const }) },
);
const capacity = fc.integer({ min: 1, max: 6 });

type Factory = (clock: VirtualClock, capacity: number, seed: number) => BufferBase<Item>;

const kinds: Record<string, Factory> = {
  bounded: (clock, cap) => new BoundedBuffer<Item>({ capacity: cap, clock, maxPendingPuts: 3, maxPendingTakes: 3 }),
  'dropping drop-oldest': (clock, cap) => new DroppingBuffer<Item>({ capacity: cap, strategy: 'drop-oldest', clock }),
  'dropping drop-newest': (clock, cap) => new DroppingBuffer<Item>({ capacity: cap, strategy: 'drop-newest', clock }),
  'dropping drop-random': (clock, cap, seed) =>
    new DroppingBuffer<Item>({ capacity: cap, strategy: 'drop-random', clock, random: createRandom(seed).next }),
  'priority refuse': (clock, cap) => new PriorityBuffer<Item>({ capacity: cap, levels: 3, clock, maxPendingPuts: 3 }),
  'priority evict-lowest + aging': (clock, cap) =>
    new PriorityBuffer<Item>({ capacity: cap, levels: 3, whenFull: 'evict-lowest', maxStarvationMs: 250, clock, maxPendingPuts: 3 }),
};

async function check(make: Factory, cap: number, seed: number, ops: Op[]): Promise<void> {
  const clock = new VirtualClock();
  const buffer = make(clock, cap, seed);
  const isPriority = buffer instanceof PriorityBuffer;
  let controllers = [new AbortController(), new AbortController()];
  let nextId = 0;
  const taken: Item[] = [];
  const watermarks: string[] = [];
  buffer.onPause(() => watermarks.push(`pause:${buffer.size}`));
  buffer.onResume(() => watermarks.push(`resume:${buffer.size}`));
  const settlements: number[] = [];
  const track = (promise: Promise<unknown>) => {
    const index = settlements.push(0) - 1;
    const settle = () => {
      settlements[index] = (settlements[index] ?? 0) + 1;
    };
    promise.then(settle, settle);
  };
  const offerOrPutItem = (lvl: number): Item => ({ id: nextId++, level: isPriority ? lvl : 0 });

  for (const o of ops) {
    switch (o.kind) {
      case 'offer': {
        const item = offerOrPutItem(o.level);
        if (buffer.isEnded) {
          expect(() => (buffer as PriorityBuffer<Item>).offer(item, item.level)).toThrow(ClosedError);
        } else {
          (buffer as PriorityBuffer<Item>).offer(item, item.level);
        }
        break;
      }
      case 'poll': {
        const item = buffer.poll();
        if (item !== undefined) taken.push(item);
        break;
      }
      case 'put': {
        const item = offerOrPutItem(o.level);
        track(
          buffer.put(item, {
            priority: item.level,
            ...(o.maxWaitMs === undefined ? {} : { maxWaitMs: o.maxWaitMs }),
            ...(o.signal === undefined ? {} : { signal: controllers[o.signal]?.signal }),
          }),
        );
        break;
      }
      case 'take': {
        const promise = buffer.take({
          ...(o.maxWaitMs === undefined ? {} : { maxWaitMs: o.maxWaitMs }),
          ...(o.signal === undefined ? {} : { signal: controllers[o.signal]?.signal }),
        });
        promise.then(
          (item) => taken.push(item),
          () => {},
        );
        track(promise);
        break;
      }
      case 'abort':
        controllers[o.signal]?.abort();
        controllers = controllers.map((c, i) => (i === o.signal ? new AbortController() : c));
        break;
      case 'advance':
        await clock.advance(o.ms);
        break;
      case 'drain':
        taken.push(...buffer.drain());
        break;
      case 'end':
        buffer.end();
        break;
    }
    await clock.advance(0);
    const stats = buffer.stats();
    // bounded: never above capacity
    expect(stats.size).toBeLessThanOrEqual(cap);
    expect(stats.size).toBe(buffer.size);
    // nothing lost: in = out + dropped + refused + held
    expect(stats.offered).toBe(stats.taken + stats.dropped + stats.refused + stats.size);
    expect(stats.taken).toBe(taken.length);
  }
  // pause and resume alternate strictly, starting with pause, and only at the water marks
  watermarks.forEach((event, i) => {
    const [kind, size] = event.split(':') as [string, string];
    expect(kind).toBe(i % 2 === 0 ? 'pause' : 'resume');
    if (kind === 'pause') expect(Number(size)).toBeGreaterThanOrEqual(buffer.highWaterMark);
    // a resume at close may come above the low-water mark (the buffer empties at once)
    else if (!buffer.isEnded) expect(Number(size)).toBeLessThanOrEqual(buffer.lowWaterMark);
  });
  // FIFO within a level (ids grow with the order of offer/put)
  for (let lvl = 0; lvl < 3; lvl++) {
    const ids = taken.filter((item) => item.level === lvl).map((item) => item.id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  }
  // every waiting put/take settles exactly once
  taken.push(...buffer.close());
  await clock.advance(0);
  expect(settlements.every((n) => n === 1)).toBe(true);
  expect(clock.pendingTimers).toBe(0);
  const final = buffer.stats();
  expect(final.offered).toBe(final.taken + final.dropped + final.refused);
  expect(new Set(taken.map((item) => item.id)).size).toBe(taken.length); // nothing taken twice
}

describe('buffer invariants (fast-check, virtual time)', () => {
  for (const [name, make] of Object.entries(kinds)) {
    it(`${name}: bounded, nothing lost, FIFO per level, strict pause/resume, every wait settles once`, async () => {
      await fc.assert(
        fc.asyncProperty(capacity, fc.integer(), fc.array(op, { maxLength: 80 }), (cap, seed, ops) => check(make, cap, seed, ops)),
        { numRuns: 150 },
      );
    });
  }

  it('drop-random with a fixed seed is reproducible', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 200 }), (seed, cap, n) => {
        const run = () => {
          const buffer = new DroppingBuffer<number>({ capacity: cap, strategy: 'drop-random', random: createRandom(seed).next });
          const dropped: number[] = [];
          buffer.onDrop((item) => dropped.push(item));
          for (let i = 0; i < n; i++) buffer.offer(i);
          return [dropped, buffer.drain()];
        };
        expect(run()).toEqual(run());
      }),
    );
  });
});
