import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { passThrough } from '@sluice/core';
import { BoundedBuffer, DroppingBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';
import { bufferStream, conflate, fromBuffer, sseStream, throttle, toBuffer } from '@sluice/web-streams';

/** A source that counts how many chunks were pulled from it (highWaterMark 0: it runs only when asked). */
function countingSource(total: number): { stream: ReadableStream<number>; pulled: () => number } {
  let next = 0;
  const stream = new ReadableStream<number>(
    {
      pull(c) {
        if (next < total) c.enqueue(next++);
        else c.close();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, pulled: () => next };
}

/** A stream of `items`, one per pull. */
function streamOf<T>(items: readonly T[]): ReadableStream<T> {
  let i = 0;
  return new ReadableStream<T>({
    pull(c) {
      if (i < items.length) c.enqueue(items[i++] as T);
      else c.close();
    },
  });
}

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const chunk of stream as unknown as AsyncIterable<T>) out.push(chunk);
  return out;
}

const ticks = async (n = 20) => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setTimeout(resolve, 0));
};

describe('throttle', () => {
  it('keeps order and paces chunks by the gate (virtual time)', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 2, clock });
    const times: number[] = [];
    const out = collect(
      streamOf([0, 1, 2, 3, 4, 5])
        .pipeThrough(throttle<number>(bucket))
        .pipeThrough(
          new TransformStream({
            transform(chunk, c) {
              times.push(clock.now());
              c.enqueue(chunk);
            },
          }),
        ),
    );
    expect(await clock.settle(out)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(times).toEqual([0, 0, 100, 200, 300, 400]);
  });

  it('charges each chunk its cost', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 10, clock });
    const out = collect(streamOf(['abcde', 'fghij', 'klmno']).pipeThrough(throttle<string>(bucket, { cost: (s) => s.length })));
    expect((await clock.settle(out)).join('')).toBe('abcdefghijklmno');
    expect(clock.now()).toBe(5);
  });

  it('backpressure reaches the source: with a stalled reader it runs at most highWaterMark + 1 ahead', async () => {
    const source = countingSource(1_000);
    const readable = source.stream.pipeThrough(throttle(passThrough()));
    const reader = readable.getReader();
    expect((await reader.read()).value).toBe(0);
    await ticks();
    // writable side highWaterMark 1, readable side 0: one chunk read, one waiting for room, one in the writable queue
    expect(source.pulled()).toBeLessThanOrEqual(1 + 1 + 1 + 1);
    await reader.cancel();
  });

  it('cancel removes the pending request from the gate and reaches the source; errors propagate', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    let cancelledWith: unknown;
    const source = new ReadableStream<number>({
      pull(c) {
        c.enqueue(1);
      },
      cancel(reason) {
        cancelledWith = reason;
      },
    });
    const reader = source.pipeThrough(throttle(limiter)).getReader();
    const pending = reader.read();
    await ticks(5);
    expect(limiter.stats().waiting).toBe(1);
    await reader.cancel('client left');
    await pending.catch(() => {});
    await ticks(5);
    expect(limiter.stats().waiting).toBe(0);
    expect(cancelledWith).toBe('client left');
    held.release();
    const failing = new ReadableStream({
      pull(c) {
        c.error(new Error('source broke'));
      },
    });
    await expect(collect(failing.pipeThrough(throttle(passThrough())))).rejects.toThrow('source broke');
    expect(() => throttle({} as never)).toThrow(/Gate/);
  });
});

describe('throttle: batches, aborts and bad input', () => {
  it('batch pays many chunks from one grant: order kept, fewer gate requests', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const one = new TokenBucket({ ratePerSecond: 1_000, burst: 1_000, clock });
    const many = new TokenBucket({ ratePerSecond: 1_000, burst: 1_000, clock });
    const items = Array.from({ length: 200 }, (_, i) => i);
    expect(await clock.settle(collect(streamOf(items).pipeThrough(throttle<number>(one))))).toEqual(items);
    expect(await clock.settle(collect(streamOf(items).pipeThrough(throttle<number>(many, { batch: 25 }))))).toEqual(items);
    expect(one.stats().admitted).toBe(200);
    expect(many.stats().admitted).toBe(200 / 25);
    // once the bucket cannot grant a whole batch, chunks ask for their own cost: batching never adds waiting
    const tight = new TokenBucket({ ratePerSecond: 1_000, burst: 30, clock });
    const start = clock.now();
    expect(await clock.settle(collect(streamOf(items.slice(0, 60)).pipeThrough(throttle<number>(tight, { batch: 25 }))))).toEqual(
      items.slice(0, 60),
    );
    expect(clock.now() - start).toBe(30);
  });

  it('every permit is released exactly once, whatever the costs and batch (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 12 }),
        async (costs, batch) => {
          const limiter = new ConcurrencyLimiter({ maxConcurrent: 4 });
          const out = await collect(
            streamOf(costs.map((cost, index) => ({ cost, index }))).pipeThrough(throttle(limiter, { cost: (c) => c.cost, batch })),
          );
          expect(out.map((c) => c.index)).toEqual(costs.map((_, i) => i));
          expect(limiter.stats().available).toBe(4);
          expect(limiter.stats().waiting).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a credit left when the reader cancels goes back to the gate', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 8 });
    const reader = countingSource(100)
      .stream.pipeThrough(throttle(limiter, { batch: 8 }))
      .getReader();
    expect((await reader.read()).value).toBe(0);
    expect(limiter.stats().available).toBe(0);
    await reader.cancel('done');
    await ticks(5);
    expect(limiter.stats().available).toBe(8);
  });

  it('writer.abort() errors the readable side at once, even while a chunk waits on a stalled gate', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const { readable, writable } = throttle<number>(limiter);
    const reader = readable.getReader();
    const read = reader.read();
    const writer = writable.getWriter();
    const written = writer.write(1);
    await ticks(5);
    expect(limiter.stats().waiting).toBe(1);
    const aborted = writer.abort(new Error('upstream failed'));
    await expect(read).rejects.toThrow('upstream failed');
    await expect(written).rejects.toThrow('upstream failed');
    await aborted;
    expect(limiter.stats().waiting).toBe(0);
    held.release();
    expect(limiter.stats().available).toBe(1);
  });

  it('signal aborts both sides; maxWaitMs errors the stream with WaitTimeoutError', async () => {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const controller = new AbortController();
    let sourceCancelled: unknown;
    const source = new ReadableStream<number>({ pull: (c) => c.enqueue(1), cancel: (reason) => void (sourceCancelled = reason) });
    const reader = source.pipeThrough(throttle(limiter, { signal: controller.signal })).getReader();
    const read = reader.read();
    await ticks(5);
    controller.abort(new Error('request ended'));
    await expect(read).rejects.toThrow('request ended');
    await ticks(5);
    expect((sourceCancelled as Error).message).toBe('request ended');
    expect(limiter.stats().waiting).toBe(0);

    const clock = new VirtualClock({ stallReportMs: false });
    const slow = new ConcurrencyLimiter({ maxConcurrent: 1, clock });
    const blocker = await slow.acquire();
    const timed = collect(streamOf([1, 2]).pipeThrough(throttle(slow, { maxWaitMs: 250 })));
    const settled = clock.settle(
      timed.then(
        () => 'passed',
        (error: Error) => error.name,
      ),
    );
    expect(await settled).toBe('WaitTimeoutError');
    expect(clock.now()).toBe(250);
    blocker.release();
    held.release();
  });

  it('refuses bad options at construction, and a chunk that can never pass errors the stream', async () => {
    const gate = passThrough();
    expect(() => throttle(gate, { batch: 0 })).toThrow(/batch/);
    expect(() => throttle(gate, { batch: 1.5 })).toThrow(/batch/);
    expect(() => throttle(gate, { cost: 3 as never })).toThrow(/cost/);
    expect(() => throttle(gate, { maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => throttle(gate, { writableStrategy: { highWaterMark: -1 } })).toThrow(/highWaterMark/);
    expect(() => throttle(gate, { signal: {} as never })).toThrow(/signal/);
    const bucket = new TokenBucket({ ratePerSecond: 10, burst: 5 });
    await expect(
      collect(streamOf(['ok', 'much too long']).pipeThrough(throttle<string>(bucket, { cost: (s) => s.length }))),
    ).rejects.toThrow(/capacity|too large/i);
    await expect(collect(streamOf(['x']).pipeThrough(throttle<string>(bucket, { cost: () => 0.5 })))).rejects.toThrow(/cost/);
  });

  it('a failing sink cancels the source through pipeTo, with the sink error', async () => {
    let cancelled: unknown;
    const source = new ReadableStream<number>({ pull: (c) => c.enqueue(1), cancel: (reason) => void (cancelled = reason) });
    const sink = new WritableStream<number>({ write: () => Promise.reject(new Error('disk full')) });
    await expect(source.pipeThrough(throttle(passThrough())).pipeTo(sink)).rejects.toThrow('disk full');
    expect((cancelled as Error).message).toBe('disk full');
  });
});

describe('buffers as streams', () => {
  it('dropping: in = out + dropped, drops reported, freshest kept (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 150 }), async (capacity, total) => {
        const target = new DroppingBuffer<number>({ capacity, strategy: 'drop-oldest' });
        let reported = 0;
        target.onDrop(() => reported++);
        const { writable, readable } = bufferStream(target);
        const writer = writable.getWriter();
        for (let i = 0; i < total; i++) await writer.write(i); // never waits: the buffer drops instead
        await writer.close();
        const out = await collect(readable);
        expect(out.length + target.stats().dropped).toBe(total);
        expect(reported).toBe(target.stats().dropped);
        expect(out).toEqual([...out].sort((a, b) => a - b));
        expect(out[out.length - 1]).toBe(total - 1);
      }),
      { numRuns: 60 },
    );
  });

  it('bounded: nothing lost, order kept, a full buffer holds the writer back', async () => {
    const target = new BoundedBuffer<number>({ capacity: 3 });
    const source = countingSource(40);
    const { writable, readable } = bufferStream(target);
    const piping = source.stream.pipeTo(writable);
    await ticks();
    expect(target.size).toBe(3);
    expect(source.pulled()).toBeLessThanOrEqual(3 + 1 + 1 + 1);
    const out = await collect(readable);
    await piping;
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('fromBuffer closes with the buffer, cancel leaves no waiting take; toBuffer abort removes its put', async () => {
    const source = new BoundedBuffer<string>({ capacity: 4 });
    source.offer('a');
    const reader = fromBuffer(source).getReader();
    expect((await reader.read()).value).toBe('a');
    const next = reader.read();
    source.offer('b');
    expect((await next).value).toBe('b');
    const last = reader.read();
    source.close();
    expect((await last).done).toBe(true);

    const idle = new BoundedBuffer<string>({ capacity: 1 });
    const idleReader = fromBuffer(idle).getReader();
    const waiting = idleReader.read();
    await ticks(3);
    await idleReader.cancel();
    await waiting;
    idle.offer('x');
    expect(idle.poll()).toBe('x');

    const full = new BoundedBuffer<string>({ capacity: 1 });
    const writer = toBuffer(full).getWriter();
    await writer.write('1');
    const blocked = writer.write('2');
    await ticks(3);
    await writer.abort('stop');
    await blocked.catch(() => {});
    expect(full.poll()).toBe('1');
    expect(full.poll()).toBeUndefined();
    expect(() => fromBuffer({} as never)).toThrow(/ItemBuffer/);
  });
});

describe('conflate', () => {
  it('merges values while the reader lags, passes them while it keeps up, loses nothing', async () => {
    const { writable, readable } = conflate<number>((older, newer) => older + newer);
    const writer = writable.getWriter();
    const reader = readable.getReader();
    await writer.write(1);
    await writer.write(2);
    await writer.write(4);
    expect((await reader.read()).value).toBe(7);
    const next = reader.read(); // the reader is waiting now: a value passes straight through
    await writer.write(10);
    expect((await next).value).toBe(10);
    await writer.write(20);
    await writer.close();
    expect((await reader.read()).value).toBe(20);
    expect((await reader.read()).done).toBe(true);
  });
});

describe('sseStream', () => {
  it('frames events, is paced by the reader, sends heartbeats on the clock, and cleans up on cancel', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    let produced = 0;
    let returned = false;
    async function* tokens() {
      try {
        for (let i = 0; i < 1_000; i++) {
          produced++;
          yield { token: `t${i}` };
        }
      } finally {
        returned = true;
      }
    }
    const body = sseStream(tokens(), { clock, heartbeatMs: 5_000, encode: (e) => ({ event: 'token', data: JSON.stringify(e) }) });
    const reader = body.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe('event: token\ndata: {"token":"t0"}\n\n');
    await ticks();
    expect(produced).toBeLessThanOrEqual(2); // pulled by the reader, not pushed by the producer
    const beat = reader.read();
    await clock.advance(0);
    expect(decoder.decode((await beat).value)).toBe('event: token\ndata: {"token":"t1"}\n\n');
    await reader.cancel();
    await ticks(2);
    expect(returned).toBe(true);
    expect(clock.pendingTimers).toBe(0);

    async function* slow() {
      yield 'first';
      await new Promise<void>((resolve) => clock.setTimer(() => resolve(), 12_000));
      yield 'late';
    }
    const quiet = sseStream(slow(), { clock, heartbeatMs: 5_000 }).getReader();
    expect(decoder.decode((await quiet.read()).value)).toBe('data: "first"\n\n');
    const heartbeats = quiet.read();
    await clock.advance(5_000);
    expect(decoder.decode((await heartbeats).value)).toBe(': heartbeat\n\n');
    await quiet.cancel();
    expect(() => sseStream(slow(), { heartbeatMs: -1 })).toThrow(/heartbeatMs/);
  });
});
