/**
 * RingDeque (the storage of every waiter queue and buffer) against Array push/shift, denque and
 * a minimal power-of-two ring (the floor), at steady depth; plus memory per queued item and what
 * is kept after draining.
 *
 * Target: RingDeque within 1.2× of the floor ring and never slower than denque at every depth,
 * flat from 16 to 1,000,000; memory returned after drain.
 */
import { RingDeque } from '@sluice/core';
import { measureRetention, suite, timeBlock } from '../../../bench/harness.ts';
import { Denque } from '../../../bench/peers.ts';

/**
 * The floor: the least a FIFO ring can do. Power-of-two capacity, index by mask, grow by
 * doubling, `shift` clears its slot so the item can be collected; never shrinks.
 */
class FloorRing<T> {
  private slots: (T | undefined)[] = new Array<T | undefined>(16);
  private head = 0;
  private count = 0;
  private mask = 15;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count > this.mask) this.grow();
    this.slots[(this.head + this.count) & this.mask] = item;
    this.count++;
  }

  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.slots[this.head];
    this.slots[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return item;
  }

  private grow(): void {
    const capacity = (this.mask + 1) * 2;
    const next = new Array<T | undefined>(capacity);
    for (let i = 0; i < this.count; i++) next[i] = this.slots[(this.head + i) & this.mask];
    this.slots = next;
    this.head = 0;
    this.mask = capacity - 1;
  }
}

interface Item {
  readonly id: number;
}

/** Every queue holds references to this one small object, so only the queue's own memory counts. */
const ITEM: Item = { id: 1 };

const DEPTHS = [16, 1_024, 100_000, 1_000_000] as const;
const MEMORY_ITEMS = 1_000_000;
/**
 * One shift at depth N is timed as blocks of SHIFT_BLOCK shifts starting at depth N (so the depth
 * stays within 5% of N), refilled to N between blocks; after warm-up blocks (a short, cold block
 * measures the interpreter, not the deque), the median of SHIFT_BLOCKS blocks. Array shifts are
 * O(n), so its blocks are 20 shifts.
 */
const SHIFT_BLOCK = 50_000;
const ARRAY_SHIFT_BLOCK = 20;
const SHIFT_BLOCKS = 15;
/**
 * Array.shift moves every element (O(n)): the Array case runs up to this depth, and only if a
 * probe finds one op under `ARRAY_MAX_NS_PER_OP`. (Its single-shift cost at 1,000,000 is in the
 * memory table.)
 */
const ARRAY_MAX_DEPTH = 100_000;
const ARRAY_MAX_NS_PER_OP = 1_000_000;

suite('ring-deque', (s) => {
  s.group(
    'FIFO push + shift at steady depth',
    {
      note:
        'One op = `push(item)` + `shift()` on a queue pre-filled to depth D, so the depth stays at D; every queue ' +
        'holds references to one small object. The floor is a ~40-line power-of-two ring written in the bench file ' +
        '(mask indexing, grow by doubling, shift clears the slot). Array push/shift (whose shift moves every element) ' +
        'runs up to D = 100,000 after a probe that would skip it above 1 ms per op; its one-shift cost at 1,000,000 is ' +
        'in the memory table.',
      param: 'D',
      compare: ['denque'],
    },
    (g) => {
      for (const depth of DEPTHS) {
        const floor = new FloorRing<Item>();
        const deque = new RingDeque<Item>();
        const peer = new Denque<Item>();
        const array: Item[] = [];
        for (let i = 0; i < depth; i++) {
          floor.push(ITEM);
          deque.push(ITEM);
          peer.push(ITEM);
          array.push(ITEM);
        }

        g.floor(
          'ring floor (pow2 mask)',
          () => {
            floor.push(ITEM);
            return floor.shift();
          },
          { param: depth },
        );
        g.time(
          'RingDeque',
          () => {
            deque.push(ITEM);
            return deque.shift();
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
        if (depth <= ARRAY_MAX_DEPTH) {
          g.time(
            'Array push/shift',
            () => {
              array.push(ITEM);
              return array.shift();
            },
            { param: depth, maxNsPerOp: ARRAY_MAX_NS_PER_OP, slowReason: 'not run (O(n) shift)' },
          );
        } else {
          g.skip('Array push/shift', 'not run (O(n) shift)', { param: depth });
        }

        g.teardown(() => {
          // The depths must not have drifted: one push per shift.
          for (const [name, length] of [
            ['ring floor', floor.length],
            ['RingDeque', deque.length],
            ['denque', peer.length],
            ['Array', array.length],
          ] as const) {
            if (length !== depth) throw new Error(`ring-deque bench: ${name} ended at depth ${length}, expected ${depth}`);
          }
        });
      }
    },
  );

  s.group(
    'memory at N = 1,000,000 and shift at depth N',
    {
      note:
        'Heap bytes per queued item with N = 1,000,000 references to one small object (heap delta after full GC / N, ' +
        'median of 3 runs, each queue grown from its default capacity by pushes); heap the queue still holds after ' +
        'shifting it back to 0 (the queue itself kept reachable; median of 3); and the cost of one `shift()` while ' +
        'the queue is N deep (blocks of 50,000 shifts starting at depth N, 20 for Array, refilled to N between; ' +
        'median of 15 blocks after 5 unrecorded warm-up blocks, 2 for Array).',
      columns: [
        { key: 'bytesPerItem', label: 'bytes per queued item', format: 'bytes-per-item' },
        { key: 'retained', label: 'heap retained after draining to 0', format: 'bytes' },
        { key: 'shiftNs', label: 'one shift() at depth N (ns)', format: 'ns' },
      ],
    },
    (g) => {
      g.metrics('Array push/shift', () => {
        const { bytesPerItem } = measureRetention({
          items: MEMORY_ITEMS,
          create: (): Item[] => [],
          fill: (queue, n) => {
            for (let i = 0; i < n; i++) queue.push(ITEM);
          },
        });
        const queue: Item[] = [];
        const shiftNs = timeBlock({
          ops: ARRAY_SHIFT_BLOCK,
          samples: SHIFT_BLOCKS,
          warmup: 2,
          reset: () => {
            while (queue.length < MEMORY_ITEMS) queue.push(ITEM);
          },
          run: () => {
            for (let i = 0; i < ARRAY_SHIFT_BLOCK; i++) queue.shift();
          },
        });
        return { bytesPerItem, retained: 'n/a (O(n²) drain; not run)', shiftNs };
      });

      g.metrics('denque', () => {
        const { bytesPerItem, retainedAfterDrain } = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new Denque<Item>(),
          fill: (queue, n) => {
            for (let i = 0; i < n; i++) queue.push(ITEM);
          },
          drain: (queue) => {
            while (queue.length > 0) queue.shift();
          },
        });
        const queue = new Denque<Item>();
        const shiftNs = timeBlock({
          ops: SHIFT_BLOCK,
          samples: SHIFT_BLOCKS,
          warmup: 5,
          reset: () => {
            while (queue.length < MEMORY_ITEMS) queue.push(ITEM);
          },
          run: () => {
            for (let i = 0; i < SHIFT_BLOCK; i++) queue.shift();
          },
        });
        return { bytesPerItem, retained: retainedAfterDrain, shiftNs };
      });

      g.metrics('RingDeque', () => {
        const { bytesPerItem, retainedAfterDrain } = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new RingDeque<Item>(),
          fill: (queue, n) => {
            for (let i = 0; i < n; i++) queue.push(ITEM);
          },
          drain: (queue) => {
            while (queue.length > 0) queue.shift();
          },
        });
        const queue = new RingDeque<Item>();
        const shiftNs = timeBlock({
          ops: SHIFT_BLOCK,
          samples: SHIFT_BLOCKS,
          warmup: 5,
          reset: () => {
            while (queue.length < MEMORY_ITEMS) queue.push(ITEM);
          },
          run: () => {
            for (let i = 0; i < SHIFT_BLOCK; i++) queue.shift();
          },
        });
        return { bytesPerItem, retained: retainedAfterDrain, shiftNs };
      });

      g.metrics('ring floor (pow2 mask)', () => {
        const { bytesPerItem, retainedAfterDrain } = measureRetention({
          items: MEMORY_ITEMS,
          create: () => new FloorRing<Item>(),
          fill: (queue, n) => {
            for (let i = 0; i < n; i++) queue.push(ITEM);
          },
          drain: (queue) => {
            while (queue.length > 0) queue.shift();
          },
        });
        const queue = new FloorRing<Item>();
        const shiftNs = timeBlock({
          ops: SHIFT_BLOCK,
          samples: SHIFT_BLOCKS,
          warmup: 5,
          reset: () => {
            while (queue.length < MEMORY_ITEMS) queue.push(ITEM);
          },
          run: () => {
            for (let i = 0; i < SHIFT_BLOCK; i++) queue.shift();
          },
        });
        return { bytesPerItem, retained: retainedAfterDrain, shiftNs };
      });
    },
  );
});
