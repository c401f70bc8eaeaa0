/**
 * The Web Streams adapters exercised inside a real browser page: each scenario runs on the
 * page's own streams, timers and `Response`, and returns what it saw for the test to check.
 */
import { DroppingBuffer, BoundedBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { passThrough } from '@sluice/core';
import { TokenBucket } from '@sluice/rate-limit';
import { bufferStream, conflate, fromBuffer, sseStream, throttle, toBuffer } from '@sluice/web-streams';

function streamOf<T>(items: readonly T[]): ReadableStream<T> {
  let i = 0;
  return new ReadableStream<T>({ pull: (c) => (i < items.length ? c.enqueue(items[i++] as T) : c.close()) });
}

async function collect<T>(stream: ReadableStream<T>): Promise<T[]> {
  const out: T[] = [];
  const reader = stream.getReader();
  for (;;) {
    const next = await reader.read();
    if (next.done) return out;
    out.push(next.value);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export const scenarios = {
  /** Order kept and chunks paced by a token bucket on the page's clock. */
  async paced() {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const started = performance.now();
    const out = await collect(streamOf(items).pipeThrough(throttle<number>(new TokenBucket({ ratePerSecond: 200, burst: 5 }))));
    return { out, elapsedMs: performance.now() - started };
  },

  /** A batch of 16 pays for many chunks: the bucket sees a grant per batch, not per chunk. */
  async batched() {
    const bucket = new TokenBucket({ ratePerSecond: 1_000, burst: 1_000 });
    const items = Array.from({ length: 160 }, (_, i) => i);
    const out = await collect(streamOf(items).pipeThrough(throttle<number>(bucket, { batch: 16 })));
    return { inOrder: out.every((v, i) => v === i) && out.length === 160, grants: bucket.stats().admitted };
  },

  /** A stalled reader stalls the source: it is pulled at most highWaterMark + 1 ahead. */
  async backpressure() {
    let pulled = 0;
    const source = new ReadableStream<number>({ pull: (c) => c.enqueue(pulled++) }, { highWaterMark: 0 });
    const reader = source.pipeThrough(throttle(passThrough())).getReader();
    const first = (await reader.read()).value;
    await sleep(50);
    const ahead = pulled;
    await reader.cancel('enough');
    return { first, ahead };
  },

  /** Cancelling the reader withdraws the waiting gate request and cancels the source with the reason. */
  async cancel() {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    let sourceReason: unknown;
    const source = new ReadableStream<number>({ pull: (c) => c.enqueue(1), cancel: (reason) => void (sourceReason = reason) });
    const reader = source.pipeThrough(throttle(limiter)).getReader();
    const read = reader.read().then(
      () => 'read',
      () => 'rejected',
    );
    await sleep(20);
    const waitingBefore = limiter.stats().waiting;
    await reader.cancel('tab closed');
    await read;
    await sleep(20);
    held.release();
    return { waitingBefore, waitingAfter: limiter.stats().waiting, sourceReason, available: limiter.stats().available };
  },

  /** writer.abort() while a chunk waits on a stalled gate errors the readable side at once. */
  async abort() {
    const limiter = new ConcurrencyLimiter({ maxConcurrent: 1 });
    const held = await limiter.acquire();
    const pair = throttle<number>(limiter);
    const read = pair.readable
      .getReader()
      .read()
      .then(
        () => 'read',
        (error: Error) => error.message,
      );
    const writer = pair.writable.getWriter();
    const written = writer.write(1).then(
      () => 'written',
      (error: Error) => error.message,
    );
    await sleep(20);
    await writer.abort(new Error('upstream failed'));
    const result = { read: await read, written: await written, waiting: limiter.stats().waiting };
    held.release();
    return result;
  },

  /** A drop-oldest buffer under a slow reader: in = out + dropped, and the reader gets the freshest. */
  async dropping() {
    const drops: number[] = [];
    const target = new DroppingBuffer<number>({ capacity: 4, strategy: 'drop-oldest' });
    target.onDrop((item) => drops.push(item));
    const total = 50;
    const reading = (async () => {
      const out: number[] = [];
      const reader = fromBuffer(target).getReader();
      for (;;) {
        const next = await reader.read();
        if (next.done) return out;
        out.push(next.value);
        await sleep(2);
      }
    })();
    const writer = toBuffer(target, { end: true }).getWriter();
    for (let i = 0; i < total; i++) await writer.write(i);
    await writer.close();
    const out = await reading;
    return { total, out, dropped: drops.length, counted: target.stats().dropped, last: out[out.length - 1] };
  },

  /** A bounded buffer as a transform: nothing lost, order kept. */
  async bounded() {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const out = await collect(streamOf(items).pipeThrough(bufferStream(new BoundedBuffer<number>({ capacity: 8 }))));
    return { same: out.length === 100 && out.every((v, i) => v === i) };
  },

  /** Latest-value conflation while the reader lags. */
  async conflated() {
    const pair = conflate<number>((a, b) => a + b);
    const writer = pair.writable.getWriter();
    for (let i = 1; i <= 10; i++) await writer.write(i);
    const closing = writer.close();
    const out = await collect(pair.readable);
    await closing;
    return { out };
  },

  /** An SSE body read through the page's own `Response`. */
  async sse() {
    async function* tokens() {
      for (const token of ['a', 'b', 'c']) yield { token };
    }
    const text = await new Response(
      sseStream(tokens(), { gate: new TokenBucket({ ratePerSecond: 100, burst: 1 }), heartbeatMs: 0 }),
    ).text();
    return { text };
  },
};

/** What the test reads off the page. */
export interface PageApi {
  readonly userAgent: string;
  run(name: keyof typeof scenarios): Promise<unknown>;
}

(globalThis as unknown as { sluice: PageApi }).sluice = {
  userAgent: navigator.userAgent,
  run: (name) => scenarios[name](),
};
