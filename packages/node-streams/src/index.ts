import { Duplex, Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import {
  GateMeter,
  checkFunction,
  isClosedError,
  optionKeys,
  checkOptions,
  type Gate,
  type GateMeterOptions,
  type ItemBuffer,
  checkGate,
  checkBuffer,
} from '@sluice/core';

/**
 * Options of {@link throttle}: the stream's mode and high-water mark, and how chunks pay the gate
 * (`cost`, `batch`, `priority`, `maxWaitMs`, as for a `GateMeter`). A chunk whose cost exceeds
 * the gate's capacity destroys the stream with a `TooLargeError`; one that waits longer than
 * `maxWaitMs` destroys it with a `WaitTimeoutError`.
 */
export interface ThrottleOptions<T> extends GateMeterOptions<T> {
  /** Object mode on both sides; default `true`. With `false`, chunks are Buffers/strings. */
  readonly objectMode?: boolean;
  /** `highWaterMark` of each side (chunks in object mode, bytes otherwise); default Node's. */
  readonly highWaterMark?: number;
}

const THROTTLE_KEYS = optionKeys<ThrottleOptions<never>>()({
  objectMode: true,
  highWaterMark: true,
  cost: true,
  batch: true,
  priority: true,
  maxWaitMs: true,
});

/**
 * A `Transform` that passes each chunk on only once `gate` grants its cost: a slow gate (a rate
 * limiter, a concurrency limit, a paused LLM quota) becomes backpressure — `write()` returns
 * false, upstream waits for `'drain'` — instead of buffering. Order is kept; each chunk's permit
 * is released as soon as the chunk is pushed on (with `batch`, one grant pays for several
 * chunks; what is left of it goes back when the stream ends). `destroy()` (or a `pipeline()`
 * error) removes the pending request from the gate's queue; nothing is left behind.
 *
 * @example
 * ```ts
 * await pipeline(source, throttle(new TokenBucket({ ratePerSecond: 1_000_000, burst: 64_000 }), { objectMode: false, cost: (b: Buffer) => b.length }), sink);
 * ```
 */
export function throttle<T = unknown>(gate: Gate, options: ThrottleOptions<T> = {}): Transform {
  checkOptions<ThrottleOptions<never>>('throttle', options, THROTTLE_KEYS);
  checkGate('throttle', gate);
  const meter = new GateMeter<T>('throttle', gate, {
    cost: options.cost,
    batch: options.batch,
    priority: options.priority,
    maxWaitMs: options.maxWaitMs,
  });
  return new Transform({
    objectMode: options.objectMode ?? true,
    ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }),
    transform(this: Transform, chunk: T, _encoding: BufferEncoding, callback: TransformCallback) {
      let passing: void | Promise<void>;
      try {
        passing = meter.pass(chunk, (item) => callback(null, item));
      } catch (error) {
        callback(error as Error);
        return;
      }
      // a stopped meter rejects with the destroy reason: the stream is gone, nothing to call back
      passing?.catch((error: unknown) => {
        if (!this.destroyed) callback(error as Error);
      });
    },
    flush(callback) {
      meter.close();
      callback();
    },
    destroy(error, callback) {
      meter.stop(error ?? new Error('stream destroyed'));
      callback(error);
    },
  });
}

/** Options of {@link fromBuffer} and {@link bufferStream}. */
export interface BufferStreamOptions {
  /** `highWaterMark` of the readable side, in items; default 16. Object mode always. */
  readonly highWaterMark?: number;
}

const BUFFER_STREAM_KEYS = optionKeys<BufferStreamOptions>()({ highWaterMark: true });

/**
 * A `Readable` (object mode) of the items of a sluice buffer: it takes as the reader reads — so a
 * stalled reader leaves the items in the buffer, where its policy (bounded, dropping, priority)
 * applies — and ends when the buffer is ended or closed and empty. `destroy()` removes the
 * pending `take`.
 */
export function fromBuffer<T>(buffer: ItemBuffer<T>, options: BufferStreamOptions = {}): Readable {
  checkOptions('fromBuffer', options, BUFFER_STREAM_KEYS);
  checkBuffer('fromBuffer', buffer);
  const controller = new AbortController();
  const readable: Readable = new Readable({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 16,
    read: () => read(),
    destroy(error, callback) {
      controller.abort(error ?? new Error('stream destroyed'));
      callback(error);
    },
  });
  const read = bufferReader(buffer, readable, controller.signal);
  return readable;
}

/** Options of {@link toBuffer}. */
export interface ToBufferOptions {
  /** End the buffer (`buffer.end()`, when it has one) when the stream ends; default `false`. */
  readonly end?: boolean;
  /** `highWaterMark` of the writable side, in items; default 16. Object mode always. */
  readonly highWaterMark?: number;
}

const TO_BUFFER_KEYS = optionKeys<ToBufferOptions>()({ end: true, highWaterMark: true });

/**
 * A `Writable` (object mode) that puts every chunk into a sluice buffer: while the buffer is at
 * capacity and does not drop, `put` waits, so `write()` returns false and upstream waits for
 * `'drain'`; a dropping buffer never blocks (its drops are reported through `buffer.onDrop`).
 * Ending the stream does not end the buffer (pass `{ end: true }` for that).
 */
export function toBuffer<T>(buffer: ItemBuffer<T>, options: ToBufferOptions = {}): Writable {
  checkOptions('toBuffer', options, TO_BUFFER_KEYS);
  checkBuffer('toBuffer', buffer);
  const controller = new AbortController();
  const write = bufferWriter(buffer, controller.signal);
  return new Writable({
    objectMode: true,
    highWaterMark: options.highWaterMark ?? 16,
    write: (chunk: T, _encoding, callback) => write(chunk, callback),
    final(callback) {
      if (options.end === true) (buffer as Partial<{ end(): void }>).end?.();
      callback();
    },
    destroy(error, callback) {
      controller.abort(error ?? new Error('stream destroyed'));
      callback(error);
    },
  });
}

/**
 * A `Duplex` (object mode) backed by a sluice buffer: what is written goes into the buffer
 * ({@link toBuffer}), what is read comes out of it ({@link fromBuffer}). With a dropping buffer
 * a slow reader gets the freshest items and the writer never waits; drops are counted in the
 * buffer's stats and reported by `onDrop` (and re-emitted here as `'drop'` events). Ending the
 * writable side ends the buffer, so the readable side ends once it is drained. The same name and
 * behaviour as `bufferStream` in `@sluice/web-streams`.
 */
export function bufferStream<T>(buffer: ItemBuffer<T>, options: BufferStreamOptions = {}): Duplex {
  checkOptions('bufferStream', options, BUFFER_STREAM_KEYS);
  checkBuffer('bufferStream', buffer);
  const controller = new AbortController();
  const write = bufferWriter(buffer, controller.signal);
  const highWaterMark = options.highWaterMark ?? 16;
  const duplex: Duplex = new Duplex({
    objectMode: true,
    readableHighWaterMark: highWaterMark,
    writableHighWaterMark: highWaterMark,
    write: (chunk: T, _encoding, callback) => write(chunk, callback),
    final(callback) {
      (buffer as Partial<{ end(): void }>).end?.();
      callback();
    },
    read: () => read(),
    destroy(error, callback) {
      controller.abort(error ?? new Error('stream destroyed'));
      stop();
      callback(error);
    },
  });
  const read = bufferReader(buffer, duplex, controller.signal);
  const stop = buffer.onDrop((item, reason) => duplex.emit('drop', item, reason));
  return duplex;
}

/**
 * A `Duplex` (object mode) for latest-value streams: while the reader keeps up, values pass
 * through; while it lags, incoming values are merged into the one waiting (`merge(older,
 * newer)`, default: keep the newer) instead of queueing, so the reader always gets the freshest
 * state and the writer never waits. The same name and behaviour as `conflate` in
 * `@sluice/web-streams`.
 */
export function conflate<T>(merge: (older: T, newer: T) => T = (_older, newer) => newer): Duplex {
  checkFunction('conflate', 'merge', merge);
  let pending: { value: T } | undefined;
  let wanted = false;
  let ended = false;
  const duplex: Duplex = new Duplex({
    objectMode: true,
    readableHighWaterMark: 1,
    writableHighWaterMark: 1,
    write(chunk: T, _encoding, callback) {
      if (wanted) {
        wanted = duplex.push(chunk);
      } else {
        pending = pending === undefined ? { value: chunk } : { value: merge(pending.value, chunk) };
      }
      callback();
    },
    read() {
      if (pending !== undefined) {
        const { value } = pending;
        pending = undefined;
        wanted = duplex.push(value);
        if (ended && pending === undefined) duplex.push(null);
        return;
      }
      if (ended) duplex.push(null);
      else wanted = true;
    },
    final(callback) {
      ended = true;
      if (pending === undefined && wanted) duplex.push(null);
      callback();
    },
  });
  return duplex;
}

/** The read side over a buffer: what is there now without a promise per item, then one `take`. */
function bufferReader<T>(buffer: ItemBuffer<T>, stream: Readable, signal: AbortSignal): () => void {
  const takeOptions = { signal };
  let taking = false;
  const read = (): void => {
    if (taking) return;
    for (;;) {
      const item = buffer.poll();
      if (item === undefined) break;
      if (!stream.push(item)) return;
    }
    taking = true;
    buffer.take(takeOptions).then(
      (item) => {
        taking = false;
        if (stream.push(item)) read();
      },
      (error: unknown) => {
        taking = false;
        if (signal.aborted) return;
        if (isClosedError(error)) stream.push(null);
        else stream.destroy(error as Error);
      },
    );
  };
  return read;
}

/** The write side into a buffer: `offer`, or a `put` that waits while it is full and does not drop. */
function bufferWriter<T>(buffer: ItemBuffer<T>, signal: AbortSignal): (chunk: T, callback: (error?: Error | null) => void) => void {
  const putOptions = { signal };
  return (chunk, callback) => {
    if (buffer.offer(chunk) !== 'refused') {
      callback();
      return;
    }
    buffer.put(chunk, putOptions).then(
      () => callback(),
      (error: unknown) => {
        if (!signal.aborted) callback(error as Error);
      },
    );
  };
}
