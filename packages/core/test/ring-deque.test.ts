import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, RingDeque } from '@sluice/core';

describe('RingDeque', () => {
  it('is FIFO through push/shift and LIFO through push/pop', () => {
    const deque = new RingDeque<number>();
    for (let i = 0; i < 5; i++) deque.push(i);
    expect(deque.shift()).toBe(0);
    expect(deque.pop()).toBe(4);
    expect(deque.toArray()).toEqual([1, 2, 3]);
    expect(deque.length).toBe(3);
  });

  it('unshift puts items in front, across the wrap-around point', () => {
    const deque = new RingDeque<string>(4);
    deque.push('c');
    deque.unshift('b');
    deque.unshift('a');
    deque.push('d');
    expect(deque.toArray()).toEqual(['a', 'b', 'c', 'd']);
    expect(deque.peekFront()).toBe('a');
    expect(deque.peekBack()).toBe('d');
    expect(deque.at(2)).toBe('c');
    expect(deque.at(4)).toBeUndefined();
    expect(deque.at(-1)).toBeUndefined();
  });

  it('returns undefined from an empty deque and stays consistent', () => {
    const deque = new RingDeque<number>();
    expect(deque.shift()).toBeUndefined();
    expect(deque.pop()).toBeUndefined();
    expect(deque.peekFront()).toBeUndefined();
    expect(deque.peekBack()).toBeUndefined();
    deque.push(1);
    expect(deque.toArray()).toEqual([1]);
  });

  it('grows by doubling and keeps order when the ring has wrapped', () => {
    const deque = new RingDeque<number>(4);
    deque.push(0);
    deque.push(1);
    deque.shift();
    deque.shift(); // head is now in the middle of the ring
    for (let i = 0; i < 100; i++) deque.push(i);
    expect(deque.allocated).toBe(128);
    expect(deque.toArray()).toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it('gives memory back as it drains: halves below a quarter full, never below the initial size', () => {
    const deque = new RingDeque<number>(16);
    for (let i = 0; i < 1 << 14; i++) deque.push(i);
    expect(deque.allocated).toBe(1 << 14);
    while (deque.length > 0) deque.shift();
    expect(deque.allocated).toBe(16);
    for (let i = 0; i < 1 << 10; i++) deque.push(i);
    while (deque.length > 0) deque.pop();
    expect(deque.allocated).toBe(16);
  });

  it('does not thrash at a resize boundary', () => {
    const deque = new RingDeque<number>(4);
    for (let i = 0; i < 64; i++) deque.push(i);
    for (let i = 0; i < 48; i++) deque.shift(); // shrinks to 32 slots, 16 held
    const allocated = deque.allocated;
    for (let i = 0; i < 1000; i++) {
      deque.push(i);
      deque.shift();
    }
    expect(deque.allocated).toBe(allocated);
  });

  it('removeWhere keeps the order of the rest and reports how many it removed', () => {
    const deque = new RingDeque<number>(4);
    deque.push(99);
    deque.shift();
    for (let i = 0; i < 20; i++) deque.push(i);
    expect(deque.removeWhere((n) => n % 3 === 0)).toBe(7);
    expect(deque.toArray()).toEqual([1, 2, 4, 5, 7, 8, 10, 11, 13, 14, 16, 17, 19]);
    expect(deque.removeWhere(() => false)).toBe(0);
  });

  it('clear() empties and returns to the initial allocation', () => {
    const deque = new RingDeque<number>(8);
    for (let i = 0; i < 1000; i++) deque.push(i);
    deque.clear();
    expect(deque.length).toBe(0);
    expect(deque.allocated).toBe(8);
    expect(deque.shift()).toBeUndefined();
  });

  it('drops references to removed items so they can be collected', () => {
    const deque = new RingDeque<object>(4);
    const item = {};
    deque.push(item);
    deque.shift();
    // The slot that held the item is cleared: iterating the raw ring finds nothing.
    expect((deque as unknown as { buffer: unknown[] }).buffer.includes(item)).toBe(false);
  });

  it('iterates front to back', () => {
    const deque = new RingDeque<number>(4);
    deque.push(2);
    deque.unshift(1);
    deque.push(3);
    expect([...deque]).toEqual([1, 2, 3]);
  });

  it('set() replaces in place and rejects out-of-range indexes', () => {
    const deque = new RingDeque<string>();
    deque.push('a');
    deque.push('b');
    deque.set(1, 'B');
    expect(deque.toArray()).toEqual(['a', 'B']);
    expect(() => deque.set(2, 'c')).toThrow(RangeError);
  });

  it('rejects an invalid initial capacity at construction', () => {
    expect(() => new RingDeque(0)).toThrow(InvalidArgumentError);
    expect(() => new RingDeque(1.5)).toThrow(/initialCapacity must be a finite integer ≥ 1/);
    expect(() => new RingDeque(Number.NaN)).toThrow(/received NaN \(number\)/);
  });
});
