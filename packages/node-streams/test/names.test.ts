import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { BoundedBuffer } from '@sluice/buffer';
import { bufferStream, conflate, toBuffer, type ToBufferOptions } from '@sluice/node-streams';

describe('stream adapter names', () => {
  it('toBuffer takes ToBufferOptions: end ends the buffer with the stream', async () => {
    const target = new BoundedBuffer<number>({ capacity: 8 });
    const options: ToBufferOptions = { end: true, highWaterMark: 2 };
    await pipeline(Readable.from([1, 2, 3]), toBuffer(target, options));
    expect(target.isEnded).toBe(true);
    expect(target.drain()).toEqual([1, 2, 3]);
  });

  it('bufferStream passes everything through in order; bad arguments name the function', async () => {
    const seen: number[] = [];
    const sink = new Writable({ objectMode: true, write: (n: number, _e, done) => (seen.push(n), done()) });
    await pipeline(Readable.from([1, 2, 3, 4]), bufferStream(new BoundedBuffer<number>({ capacity: 2 })), sink);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(() => bufferStream({} as never)).toThrow(/^bufferStream: buffer must be/);
    expect(() => conflate(42 as never)).toThrow(/^conflate: merge must be a function/);
  });
});
