/**
 * The buffers' hot path, `offer` + `poll` at steady depth, against the core RingDeque (the
 * floor: a bare ring with nothing a buffer adds), Array push/shift, denque and p-queue's
 * default queue; plus memory per held item and what is kept after draining.
 *
 * Target: each buffer ≤ 1.3× RingDeque at every depth, flat across depths.
 */
import { RingDeque } from '@sluice/core';
import { BoundedBuffer, DroppingBuffer, PriorityBuffer } from '@sluice/buffer';
import { measureRetention, suite } from '../../../bench/harness.ts';
import { Denque, PQueuePriorityQueue } from '../../../bench/peers.ts';

interface Item {
  readonly id: number;
}

/** Every structure holds references to this one small object, so only its own memory counts. */
const ITEM: Item = { id: 1 };
/** p-queue's queue holds run functions; this one stands for every job. */
const JOB = async (): Promise<void> => {};

const DEPTHS = [16, 1_024, 1_000_000] as const;
const ARRAY_MAX_DEPTH = 1_024;
const MEMORY_ITEMS = 1_000_000;

/** Room above the depth, so `offer` is never refused while the depth is held. */
const capacityFor = (depth: number): number => depth + 16;

suite('buffers', (s) => {
  s.group(
    'offer + poll at steady depth',
    {
      note:
        'One op = `offer(item)` + `poll()` on a structure pre-filled to depth D, so the depth stays at D ' +
        '(buffers: capacity D + 16, default water marks, so the deep ones sit paused, as a loaded buffer does). ' +
        'The floor is the core `RingDeque` push + shift: the bare ring every buffer adds its answers, water ' +
        'marks and counters to. p-queue is its default `PriorityQueue` (`enqueue(fn)` + `dequeue()`), the ' +
        'queue behind `new PQueue()`. Array push/shift moves every element on shift, so it runs only up to 1,024.',
      param: 'D',
      compare: ['denque'],
      floorLabel: '× RingDeque',
    },
    (g) => {
      for (const depth of DEPTHS) {
        const ring = new RingDeque<Item>();
        const bounded = new BoundedBuffer<Item>({ capacity: capacityFor(depth) });
        const dropping = new DroppingBuffer<Item>({ capacity: capacityFor(depth), strategy: 'drop-oldest' });
        const priority1 = new PriorityBuffer<Item>({ capacity: capacityFor(depth), levels: 1 });
        const priority3 = new PriorityBuffer<Item>({ capacity: capacityFor(depth), levels: 3 });
        const peer = new Denque<Item>();
        const pq = new PQueuePriorityQueue();
        const array: Item[] = [];
        for (let i = 0; i < depth; i++) {
          ring.push(ITEM);
          bounded.offer(ITEM);
          dropping.offer(ITEM);
          priority1.offer(ITEM);
          priority3.offer(ITEM, i % 3);
          peer.push(ITEM);
          pq.enqueue(JOB);
          if (depth <= ARRAY_MAX_DEPTH) array.push(ITEM);
        }

        g.floor(
          'RingDeque (core)',
          () => {
            ring.push(ITEM);
            return ring.shift();
          },
          { param: depth },
        );
        g.time(
          'BoundedBuffer',
          () => {
            bounded.offer(ITEM);
            return bounded.poll();
          },
          { param: depth },
        );
        g.time(
          'DroppingBuffer (drop-oldest)',
          () => {
            dropping.offer(ITEM);
            return dropping.poll();
          },
          { param: depth },
        );
        g.time(
          'PriorityBuffer, 1 level',
          () => {
            priority1.offer(ITEM);
            return priority1.poll();
          },
          { param: depth },
        );
        g.time(
          'PriorityBuffer, 3 levels (offer at 1)',
          () => {
            priority3.offer(ITEM, 1);
            return priority3.poll();
          },
          { param: depth },
        );
        g.time(
          'denque',
          () => {
            peer.push(ITEM);
            return peer.shift();
          },
          { param: depth },
        );
        g.time(
          'p-queue PriorityQueue',
          () => {
            pq.enqueue(JOB);
            return pq.dequeue();
          },
          { param: depth },
        );
        if (depth <= ARRAY_MAX_DEPTH) {
          g.time(
            'Array push/shift',
            () => {
              array.push(ITEM);
              return array.shift();
            },
            { param: depth },
          );
        } else {
          g.skip('Array push/shift', 'not run (O(n) shift)', { param: depth });
        }
      }
    },
  );

  s.group(
    'memory per held item',
    {
      note:
        'Heap bytes per held item with N = 1,000,000 references to one small object (heap delta after full GCs / N, ' +
        'median of 3), and the heap the structure still holds after draining to 0 (it stays reachable while measured).',
      columns: [
        { key: 'bytesPerItem', label: 'bytes per held item', format: 'bytes-per-item' },
        { key: 'retained', label: 'heap retained after draining to 0', format: 'bytes' },
      ],
    },
    (g) => {
      g.metrics('RingDeque (core)', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new RingDeque<Item>(),
          fill: (q, n) => {
            for (let i = 0; i < n; i++) q.push(ITEM);
          },
          drain: (q) => {
            while (q.length > 0) q.shift();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
      g.metrics('BoundedBuffer', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new BoundedBuffer<Item>({ capacity: MEMORY_ITEMS }),
          fill: (b, n) => {
            for (let i = 0; i < n; i++) b.offer(ITEM);
          },
          drain: (b) => {
            while (b.size > 0) b.poll();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
      g.metrics('DroppingBuffer (drop-oldest)', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new DroppingBuffer<Item>({ capacity: MEMORY_ITEMS, strategy: 'drop-oldest' }),
          fill: (b, n) => {
            for (let i = 0; i < n; i++) b.offer(ITEM);
          },
          drain: (b) => {
            while (b.size > 0) b.poll();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
      g.metrics('PriorityBuffer, 3 levels', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new PriorityBuffer<Item>({ capacity: MEMORY_ITEMS, levels: 3 }),
          fill: (b, n) => {
            for (let i = 0; i < n; i++) b.offer(ITEM, i % 3);
          },
          drain: (b) => {
            while (b.size > 0) b.poll();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
      g.metrics('denque', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new Denque<Item>(),
          fill: (q, n) => {
            for (let i = 0; i < n; i++) q.push(ITEM);
          },
          drain: (q) => {
            while (q.length > 0) q.shift();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
      g.metrics('p-queue PriorityQueue', () => {
        const r = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new PQueuePriorityQueue(),
          fill: (q, n) => {
            for (let i = 0; i < n; i++) q.enqueue(JOB);
          },
          drain: (q) => {
            while (q.size > 0) q.dequeue();
          },
        });
        return { bytesPerItem: r.bytesPerItem, retained: r.retainedAfterDrain };
      });
    },
  );
});
