import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RingDeque } from '@sluice/core';

type Op = { kind: 'push' | 'unshift'; value: number } | { kind: 'shift' | 'pop' } | { kind: 'removeOdd' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('push' as const), value: fc.integer() }),
  fc.record({ kind: fc.constant('unshift' as const), value: fc.integer() }),
  fc.record({ kind: fc.constant('shift' as const) }),
  fc.record({ kind: fc.constant('pop' as const) }),
  fc.record({ kind: fc.constant('removeOdd' as const) }),
);

describe('RingDeque properties', () => {
  it('behaves exactly like an array model under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(op, { maxLength: 400 }), (initial, ops) => {
        const deque = new RingDeque<number>(initial);
        const model: number[] = [];
        for (const o of ops) {
          switch (o.kind) {
            case 'push':
              deque.push(o.value);
              model.push(o.value);
              break;
            case 'unshift':
              deque.unshift(o.value);
              model.unshift(o.value);
              break;
            case 'shift':
              expect(deque.shift()).toBe(model.shift());
              break;
            case 'pop':
              expect(deque.pop()).toBe(model.pop());
              break;
            case 'removeOdd': {
              const before = model.length;
              const kept = model.filter((v) => v % 2 === 0);
              expect(deque.removeWhere((v) => v % 2 !== 0)).toBe(before - kept.length);
              model.splice(0, model.length, ...kept);
              break;
            }
          }
          expect(deque.length).toBe(model.length);
          expect(deque.peekFront()).toBe(model[0]);
          expect(deque.peekBack()).toBe(model[model.length - 1]);
          // allocation is a power of two that holds everything
          expect(deque.allocated & (deque.allocated - 1)).toBe(0);
          expect(deque.allocated).toBeGreaterThanOrEqual(deque.length);
        }
        expect(deque.toArray()).toEqual(model);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps FIFO order and loses nothing: everything pushed comes out once, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 50 }), fc.nat({ max: 50 })), { maxLength: 60 }), (rounds) => {
        const deque = new RingDeque<number>(4);
        let pushed = 0;
        const out: number[] = [];
        for (const [pushes, shifts] of rounds) {
          for (let i = 0; i < pushes; i++) deque.push(pushed++);
          for (let i = 0; i < shifts && deque.length > 0; i++) out.push(deque.shift() as number);
        }
        while (deque.length > 0) out.push(deque.shift() as number);
        expect(out).toEqual(Array.from({ length: pushed }, (_, i) => i));
      }),
    );
  });

  it('after draining, the allocation is back to at most twice what it holds (and the initial minimum)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 0, max: 5000 }), (fill, keep) => {
        const deque = new RingDeque<number>(16);
        for (let i = 0; i < fill; i++) deque.push(i);
        const target = Math.min(keep, fill);
        while (deque.length > target) deque.shift();
        expect(deque.allocated).toBeLessThanOrEqual(Math.max(16, 4 * Math.max(1, target)));
        expect(deque.toArray()).toEqual(Array.from({ length: target }, (_, i) => fill - target + i));
      }),
    );
  });
});
