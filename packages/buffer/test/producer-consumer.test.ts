import { describe, expect, it } from 'vitest';
import { BoundedBuffer, DroppingBuffer, PriorityBuffer } from '@sluice/buffer';
import { VirtualClock, simulateProducerConsumer } from '@sluice/testing';

const overload = { durationMs: 120_000, producePerSecond: 200, consumePerSecond: 100 } as const;

describe('buffers under a producer twice as fast as its consumer (virtual time)', () => {
  it('a bounded buffer with a producer that respects pause never refuses and stays under high water', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 100, highWaterMark: 80, lowWaterMark: 20, clock });
    const r = await simulateProducerConsumer({ clock, buffer, ...overload });
    expect(r.answers.refused).toBe(0);
    expect(r.maxSize).toBeLessThanOrEqual(80);
    expect(r.heldBack).toBeGreaterThan(r.produced * 0.3); // the producer slowed down, as asked
    expect(r.pauses).toBeGreaterThan(10);
    expect(r.pauses - r.resumes).toBeGreaterThanOrEqual(0);
    expect(r.pauses - r.resumes).toBeLessThanOrEqual(1);
    // the consumer kept busy: close to its rate over the run
    expect(r.consumed).toBeGreaterThan(0.9 * 100 * 120);
    // waits are bounded by what the buffer holds at the consumer's pace (80 items at 100/s)
    expect(r.wait.p99).toBeLessThan(1_500);
  });

  it('a bounded buffer with a producer that ignores pause refuses the excess and loses nothing silently', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 100, clock });
    const r = await simulateProducerConsumer({ clock, buffer, ...overload, producer: 'ignore' });
    const offered = r.answers.ok + r.answers.pause + r.answers.refused;
    expect(offered).toBe(r.produced);
    expect(r.answers.refused).toBeGreaterThan(r.produced * 0.4);
    expect(r.maxSize).toBe(100);
    expect(r.consumed + r.held).toBe(r.answers.ok + r.answers.pause);
  });

  it('a drop-oldest buffer keeps the freshest items: every item is consumed, dropped (and reported) or held', async () => {
    const clock = new VirtualClock();
    const buffer = new DroppingBuffer<number>({ capacity: 20, strategy: 'drop-oldest', clock });
    const r = await simulateProducerConsumer({ clock, buffer, ...overload, producer: 'ignore' });
    expect(r.answers.refused).toBe(0);
    expect(r.droppedReported).toBe(r.answers.dropped);
    expect(r.consumed + r.droppedReported + r.held).toBe(r.produced);
    // the freshest 20 at 100/s: nothing consumed waited much more than 200 ms
    expect(r.wait.p99).toBeLessThan(600);
  });

  it('a priority buffer under overload serves a steady mix without losing count', async () => {
    const clock = new VirtualClock();
    const buffer = new PriorityBuffer<number>({ capacity: 50, levels: 2, priorityOf: (n) => n % 2, whenFull: 'evict-lowest', clock });
    const r = await simulateProducerConsumer({ clock, buffer, ...overload, producer: 'ignore' });
    const stats = buffer.stats();
    expect(stats.offered).toBe(stats.taken + stats.dropped + stats.refused + stats.size);
    expect(r.droppedReported).toBe(stats.dropped);
    expect(r.consumed).toBe(stats.taken);
  });

  it('is reproducible with a seed', async () => {
    const run = async () => {
      const clock = new VirtualClock();
      const buffer = new DroppingBuffer<number>({ capacity: 5, strategy: 'drop-oldest', clock });
      return simulateProducerConsumer({ clock, buffer, ...overload, durationMs: 5_000, seed: 3 });
    };
    expect(await run()).toEqual(await run());
  });
});
