import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { passThrough } from '@sluice/core';
import { BoundedBuffer, DroppingBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';
import { bufferStream, conflate, fromBuffer, throttle, toBuffer } from '@sluice/node-streams';

/** A source that counts how many chunks were pulled from it. */
function countingSource(total: number, highWaterMark = 4): { stream: Readable; pulled: () => number } {
  let next = 0;
  const stream = new Readable({
    objectMode: true,
    highWaterMark,
    read() {
      this.push(next < total ? next++ : null);
    },
  });
  return { stream, pulled: () => next };
}

/** A sink that stalls until released, collecting what it gets. */
function stallingSink(highWaterMark = 1) {
  const got: unknown[] = [];
  let resume: (() => void) | undefined;
  let stalled = true;
  const stream = new Writable({
    objectMode: true,
    highWaterMark,
    write(chunk, _encoding, callback) {
      got.push(chunk);
      if (stalled) resume = callback;
      else callback();
    },
  });
  return {
    stream,
    got,
    release() {
      stalled = false;
      resume?.();
    },
  };
}

const ticks = (n = 20) =>
  new Promise<void>((resolve) => {
    let left = n;
    const step = () => (--left <= 0 ? resolve() : setImmediate(step));
    setImmediate(step);
  });

describe('throttle', () => {
  it('keeps order and paces chunks by the gate (virtual time)', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    const times: number[] = [];
    const out: number[] = [];
    const run = pipeline(
      Readable.from([0, 1, 2, 3, 4, 5]),
      throttle<number>(bucket),
      new Writable({
        objectMode: true,
        write(chunk: number, _e, cb) {
          out.push(chunk);
          times.push(clock.now());
          cb();
        },
      }),
    );
    await clock.settle(run);
    expect(out).toEqual([0, 1, 2, 3, 4, 5]);
    expect(times).toEqual([0, 0, 100, 200, 300, 400]);
  });

  it('charges each chunk its cost, in bytes mode', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 10, clock });
    const got: Buffer[] = [];
    const run = pipeline(
      Readable.from([Buffer.from('abcde'), Buffer.from('fghij'), Buffer.from('klmno')], { objectMode: false }),
      throttle<Buffer>(bucket, { objectMode: false, cost: (b) => b.length }),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          got.push(chunk);
          cb();
        },
      }),
    );
    await clock.settle(run);
    expect(Buffer.concat(got).toString()).toBe('abcdefghijklmno');
    expect(clock.now()).toBe(5); // 15 bytes, 10 at once, 5 more at 1 per ms
  });

  it('backpressure reaches the source: a stalled sink lets it run at most a few chunks ahead', async () => {
    const source = countingSource(1_000, 4);
    const sink = stallingSink(1);
    const run = pipeline(source.stream, throttle(passThrough(), { highWaterMark: 2 }), sink.stream);
    await ticks();
    // the sink holds 1, throttle's two sides hold 2 + 2, the source's buffer 4, plus one in flight per stage
    expect(source.pulled()).toBeLessThanOrEqual(1 + 2 + 2 + 4 + 3);
    sink.release();
    await run;
    expect(sink.got).toHaveLength(1_000);
  });

  it('write() returns false at highWaterMark while the gate holds, and drain fires once it opens', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const stream = throttle(limiter, { highWaterMark: 3 });
    stream.resume(); // a reader that takes everything: only the gate holds chunks back
    const accepted: boolean[] = [];
    for (let i = 0; i < 5; i++) accepted.push(stream.write(i));
    expect(accepted).toEqual([true, true, false, false, false]);
    const drained = new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    held.release();
    await drained;
    expect(limiter.stats()).toMatchObject({ waiting: 0, admitted: 6 });
    stream.destroy();
  });

  it('destroy removes the pending request from the gate; pipeline errors propagate', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const stream = throttle(limiter);
    stream.write('x');
    await ticks(3);
    expect(limiter.stats().waiting).toBe(1);
    stream.destroy();
    await ticks(3);
    expect(limiter.stats().waiting).toBe(0);
    held.release();
    const failing = pipeline(
      new Readable({
        objectMode: true,
        read() {
          this.destroy(new Error('source broke'));
        },
      }),
      throttle(passThrough()),
      new Writable({
        objectMode: true,
        write(_c, _e, cb) {
          cb();
        },
      }),
    );
    await expect(failing).rejects.toThrow('source broke');
    expect(() => throttle({} as never)).toThrow(/Gate/);
  });
});

describe('throttle: batches, timeouts and bad input', () => {
  it('batch pays many chunks from one grant, order kept, and the unused rest goes back at the end', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 1_000, clock });
    const got: number[] = [];
    const done = pipeline(
      countingSource(100).stream,
      throttle(bucket, { batch: 16 }),
      new Writable({ objectMode: true, write: (c, _e, cb) => (got.push(c), cb()) }),
    );
    await clock.settle(done);
    expect(got).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(bucket.stats().admitted).toBe(7);
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 16 });
    await pipeline(
      countingSource(40).stream,
      throttle(limiter, { batch: 16 }),
      new Writable({ objectMode: true, write: (_c, _e, cb) => cb() }),
    );
    expect(limiter.stats().available).toBe(16);
  });

  it('every permit is released once, whatever the costs and batch, including on destroy (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        async (costs, batch, destroyEarly) => {
          const limiter = new ConcurrencyLimiter({ maxConcurrent: 3 });
          const stream = throttle<number>(limiter, { cost: (c) => c, batch });
          const got: number[] = [];
          stream.on('data', (c: number) => got.push(c));
          stream.on('error', () => {});
          for (const cost of costs) stream.write(cost);
          if (destroyEarly) stream.destroy();
          else stream.end();
          await ticks(5);
          expect(limiter.stats().available).toBe(3);
          expect(limiter.stats().waiting).toBe(0);
          if (!destroyEarly) expect(got).toEqual(costs);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('maxWaitMs destroys the stream with WaitTimeoutError; impossible and invalid costs destroy it too', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const held = await limiter.acquire();
    const timed = pipeline(
      countingSource(3).stream,
      throttle(limiter, { maxWaitMs: 500 }),
      new Writable({ objectMode: true, write: (_c, _e, cb) => cb() }),
    );
    await expect(clock.settle(timed)).rejects.toThrow(/wait/i);
    expect(clock.now()).toBe(500);
    expect(limiter.stats().waiting).toBe(0);
    held.release();
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 4 });
    const sink = () => new Writable({ objectMode: true, write: (_c, _e, cb) => cb() });
    await expect(pipeline(Readable.from(['ok', 'too long']), throttle<string>(bucket, { cost: (s) => s.length }), sink())).rejects.toThrow(
      /capacity|too large/i,
    );
    await expect(pipeline(Readable.from(['x']), throttle<string>(bucket, { cost: () => Number.NaN }), sink())).rejects.toThrow(/cost/);
    expect(() => throttle(bucket, { batch: 0 })).toThrow(/batch/);
    expect(() => throttle(bucket, { maxWaitMs: -5 })).toThrow(/maxWaitMs/);
  });
});

describe('buffers as streams', () => {
  it('bounded: nothing lost, order kept, and a full buffer holds the writer back', async () => {
    const buffer = new BoundedBuffer<number>({ capacity: 3 });
    const source = countingSource(50, 2);
    const sink = stallingSink(1);
    const run = pipeline(source.stream, bufferStream(buffer, { highWaterMark: 2 }), sink.stream);
    await ticks();
    expect(buffer.size).toBeLessThanOrEqual(3);
    expect(source.pulled()).toBeLessThanOrEqual(3 + 2 + 2 + 2 + 1 + 16 + 3);
    sink.release();
    await run;
    expect(sink.got).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('dropping: in = out + dropped, drops reported, the freshest items kept (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 200 }), async (capacity, total) => {
        const buffer = new DroppingBuffer<number>({ capacity, strategy: 'drop-oldest' });
        const duplex = bufferStream(buffer, { highWaterMark: 1 });
        let reported = 0;
        duplex.on('drop', () => reported++);
        for (let i = 0; i < total; i++) duplex.write(i);
        duplex.end();
        const out: number[] = [];
        for await (const item of duplex) out.push(item as number);
        expect(out.length + buffer.stats().dropped).toBe(total);
        expect(reported).toBe(buffer.stats().dropped);
        expect(out).toEqual([...out].sort((a, b) => a - b)); // order kept among survivors
        expect(out[out.length - 1]).toBe(total - 1); // the freshest survives
      }),
      { numRuns: 60 },
    );
  });

  it('fromBuffer ends when the buffer is closed; toBuffer puts; destroy leaves no waiting take', async () => {
    const buffer = new BoundedBuffer<string>({ capacity: 10 });
    await pipeline(Readable.from(['a', 'b', 'c']), toBuffer(buffer));
    expect(buffer.size).toBe(3);
    const readable = fromBuffer(buffer);
    const got: string[] = [];
    readable.on('data', (item: string) => got.push(item));
    await ticks(5);
    expect(got).toEqual(['a', 'b', 'c']);
    buffer.offer('d');
    await ticks(5);
    expect(got).toEqual(['a', 'b', 'c', 'd']);
    const ended = new Promise((resolve) => readable.on('end', resolve));
    buffer.close();
    await ended;
    const other = new BoundedBuffer<string>({ capacity: 1 });
    const idle = fromBuffer(other);
    idle.resume();
    await ticks(3);
    idle.destroy();
    await ticks(3);
    other.offer('x');
    expect(other.poll()).toBe('x'); // no take was left waiting to grab it
    expect(() => fromBuffer({} as never)).toThrow(/ItemBuffer/);
  });
});

describe('conflate', () => {
  it('passes values while the reader keeps up and merges them while it lags', async () => {
    const stream = conflate<number>((older, newer) => older + newer);
    stream.write(1); // nobody reading yet: held
    stream.write(2); // merged: 3
    stream.write(4); // merged: 7
    const first = await new Promise((resolve) => stream.once('data', resolve));
    expect(first).toBe(7);
    stream.pause();
    stream.write(10);
    stream.write(20);
    stream.end();
    const rest: number[] = [];
    for await (const v of stream) rest.push(v as number);
    expect(rest.reduce((a, b) => a + b, 0)).toBe(30); // nothing lost, merged or not
    expect(rest.length).toBeLessThanOrEqual(2);
  });
});
