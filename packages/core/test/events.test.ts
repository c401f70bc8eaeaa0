import { afterEach, describe, expect, it, vi } from 'vitest';
import { Emitter } from '@sluice/core';

describe('Emitter', () => {
  afterEach(() => vi.restoreAllMocks());

  it('calls listeners in subscription order with both arguments; the disposer unsubscribes once', () => {
    const emitter = new Emitter<string, number>();
    const seen: string[] = [];
    const offA = emitter.on((a, b) => seen.push(`A ${a} ${b}`));
    emitter.on((a, b) => seen.push(`B ${a} ${b}`));
    expect(emitter.listening).toBe(true);
    emitter.emit('x', 1);
    offA();
    offA();
    emitter.emit('y', 2);
    expect(seen).toEqual(['A x 1', 'B x 1', 'B y 2']);
  });

  it('is not listening without listeners, and emitting then is a no-op', () => {
    const emitter = new Emitter<number>();
    expect(emitter.listening).toBe(false);
    emitter.emit(1);
    const off = emitter.on(() => {});
    off();
    expect(emitter.listening).toBe(false);
  });

  it('subscribing or unsubscribing during an emit applies from the next emit', () => {
    const emitter = new Emitter();
    const seen: string[] = [];
    let offSecond = (): void => {};
    emitter.on(() => {
      seen.push('first');
      offSecond();
      emitter.on(() => seen.push('late'));
    });
    offSecond = emitter.on(() => seen.push('second'));
    emitter.emit();
    expect(seen).toEqual(['first', 'second']);
    seen.length = 0;
    emitter.emit();
    expect(seen).toEqual(['first', 'late']);
  });

  it('a throwing listener does not stop the others; the error is reported on its own turn', async () => {
    const emitter = new Emitter<number>();
    const reported: unknown[] = [];
    const original = (globalThis as { reportError?: unknown }).reportError;
    (globalThis as { reportError?: unknown }).reportError = (error: unknown) => reported.push(error);
    try {
      const boom = new Error('listener bug');
      const seen: number[] = [];
      emitter.on(() => {
        throw boom;
      });
      emitter.on((n) => seen.push(n));
      emitter.emit(7);
      expect(seen).toEqual([7]);
      expect(reported).toEqual([boom]);
    } finally {
      (globalThis as { reportError?: unknown }).reportError = original;
    }
  });

  it('rejects a listener that is not a function', () => {
    expect(() => new Emitter().on(5 as unknown as () => void)).toThrow(TypeError);
  });

  it('clear() drops every listener', () => {
    const emitter = new Emitter();
    const listener = vi.fn();
    emitter.on(listener);
    emitter.clear();
    emitter.emit();
    expect(listener).not.toHaveBeenCalled();
  });
});
