import { describe, expect, it } from 'vitest';
import { BoundedBuffer } from '@sluice/buffer';
import { InvalidArgumentError } from '@sluice/core';
import * as web from '@sluice/web-streams';
import {
  buffer,
  bufferStream,
  conflate,
  type BufferStreamOptions,
  type BufferTransformOptions,
  type TransformPair,
} from '@sluice/web-streams';

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for (const reader = stream.getReader(); ; ) {
    const next = await reader.read();
    if (next.done) return out;
    out.push(next.value);
  }
}

const streamOf = <T>(items: readonly T[]): ReadableStream<T> => {
  const rest = [...items];
  return new ReadableStream<T>({ pull: (c) => (rest.length > 0 ? c.enqueue(rest.shift() as T) : c.close()) });
};

describe('stream adapter names', () => {
  it('the deprecated buffer is bufferStream itself, and the old options type is the new one', () => {
    expect(buffer).toBe(bufferStream);
    const options: BufferTransformOptions = { readableStrategy: { highWaterMark: 2 } };
    const same: BufferStreamOptions = options;
    expect(same).toBe(options);
  });

  it('bufferStream returns its two real sides, which pipeThrough takes, with nothing lost', async () => {
    const target = new BoundedBuffer<number>({ capacity: 2 });
    const pair: TransformPair<number> = bufferStream(target);
    expect(Object.keys(pair).sort()).toEqual(['readable', 'writable']);
    expect(pair.writable).toBeInstanceOf(WritableStream);
    expect(pair.readable).toBeInstanceOf(ReadableStream);
    const items = Array.from({ length: 25 }, (_, i) => i);
    expect(await collect(streamOf(items).pipeThrough(pair))).toEqual(items);
    expect(target.isEnded).toBe(true);
  });

  it('conflate returns its two real sides too', async () => {
    const pair: TransformPair<number> = conflate<number>();
    expect(pair.writable).toBeInstanceOf(WritableStream);
    expect(pair.readable).toBeInstanceOf(ReadableStream);
    expect(await collect(streamOf([1, 2, 3]).pipeThrough(pair))).toContain(3);
  });

  it('bad arguments throw at once, naming the function and the argument', () => {
    expect(() => bufferStream({} as never)).toThrow(InvalidArgumentError);
    expect(() => bufferStream({} as never)).toThrow(/^bufferStream: buffer must be/);
    expect(() => buffer({} as never)).toThrow(/^bufferStream: buffer must be/);
    expect(() => conflate(42 as never)).toThrow(/^conflate: merge must be a function/);
    expect(() => web.sseStream((async function* () {})(), { heartbeatMs: Infinity })).toThrow(/^sseStream: heartbeatMs must be/);
  });
});
