import {
  checkFunction,
  checkNumber,
  checkOptions,
  isClosedError,
  optionKeys,
  systemClock,
  type Clock,
  type Gate,
  type ItemBuffer,
  type TimerHandle,
  checkClock,
  checkGate,
  checkBuffer,
} from '@sluice/core';

import type { TransformPair } from './transform-pair.js';

export { throttle } from './throttle.js';
export type { PairOptions, ThrottleOptions } from './options.js';
export type { TransformPair } from './transform-pair.js';

/** Options of {@link bufferStream} and {@link fromBuffer}. */
export interface BufferStreamOptions {
  /** Queuing strategy of the readable side; default `{ highWaterMark: 0 }`. */
  readonly readableStrategy?: QueuingStrategy<unknown>;
}

/**
 * Options of {@link bufferStream} and {@link fromBuffer}.
 *
 * @deprecated Renamed {@link BufferStreamOptions}, the name `@sluice/node-streams` uses; this alias
 * goes in the next major release.
 */
export type BufferTransformOptions = BufferStreamOptions;

/** Options of {@link toBuffer}. */
export interface ToBufferOptions {
  /** End the buffer (`buffer.end()`, when it has one) when the stream is closed; default `false`. */
  readonly end?: boolean;
}

const BUFFER_STREAM_KEYS = optionKeys<BufferStreamOptions>()({ readableStrategy: true });

/**
 * A transform pair backed by a sluice buffer: written chunks go into `target` (a bounded buffer
 * makes the writer wait while it is full; a dropping one never does and counts and reports every
 * drop through `onDrop`), the readable side takes from it as it is read. Closing the writable
 * side ends the buffer (when it can end), so the readable side closes once drained. The same name
 * and behaviour as `bufferStream` in `@sluice/node-streams`.
 *
 * It returns the two sides ({@link toBuffer} and {@link fromBuffer} of one buffer), which is what
 * `pipeThrough` takes — not a `TransformStream` instance: there is no transform between the sides,
 * the buffer is.
 *
 * @example
 * ```ts
 * const freshest = readings.pipeThrough(bufferStream(new DroppingBuffer<Reading>({ capacity: 64, strategy: 'drop-oldest' })));
 * ```
 */
export function bufferStream<T>(target: ItemBuffer<T>, options: BufferStreamOptions = {}): TransformPair<T> {
  checkOptions('bufferStream', options, BUFFER_STREAM_KEYS);
  checkBuffer('bufferStream', target);
  return { writable: toBuffer(target, { end: true }), readable: fromBuffer(target, options) };
}

/**
 * A transform pair backed by a sluice buffer.
 *
 * @deprecated Renamed {@link bufferStream} (the name `@sluice/node-streams` uses); `buffer` is the
 * same function and goes in the next major release.
 */
export const buffer: <T>(target: ItemBuffer<T>, options?: BufferStreamOptions) => TransformPair<T> = bufferStream;

/**
 * A `ReadableStream` of a buffer's items, taken as the reader pulls; it closes when the buffer is
 * ended or closed and empty. Cancelling it removes the pending `take`.
 */
export function fromBuffer<T>(source: ItemBuffer<T>, options: BufferStreamOptions = {}): ReadableStream<T> {
  checkOptions('fromBuffer', options, BUFFER_STREAM_KEYS);
  checkBuffer('fromBuffer', source);
  const controller = new AbortController();
  const takeOptions = { signal: controller.signal };
  return new ReadableStream<T>(
    {
      pull(stream) {
        const item = source.poll();
        if (item !== undefined) {
          stream.enqueue(item);
          return undefined;
        }
        return source.take(takeOptions).then(
          (taken) => stream.enqueue(taken),
          (error: unknown) => {
            if (controller.signal.aborted) return;
            if (isClosedError(error)) stream.close();
            else stream.error(error);
          },
        );
      },
      cancel(reason) {
        controller.abort(reason ?? new Error('stream cancelled'));
      },
    },
    (options.readableStrategy as QueuingStrategy<T> | undefined) ?? { highWaterMark: 0 },
  );
}

const TO_BUFFER_KEYS = optionKeys<ToBufferOptions>()({ end: true });

/**
 * A `WritableStream` that offers each chunk to a buffer, waiting (`put`) while it is full and
 * does not drop. Aborting it removes a pending `put`. With `end: true`, closing it ends the
 * buffer.
 */
export function toBuffer<T>(target: ItemBuffer<T>, options: ToBufferOptions = {}): WritableStream<T> {
  checkOptions('toBuffer', options, TO_BUFFER_KEYS);
  checkBuffer('toBuffer', target);
  const controller = new AbortController();
  let putOptions = { signal: controller.signal };
  return new WritableStream<T>(
    {
      start(stream) {
        // abort() waits for a write in progress; the controller's signal fires at once, so a
        // `put` waiting for room leaves the buffer's queue (runtimes without it wait for room)
        const signal = (stream as { readonly signal?: AbortSignal }).signal;
        if (signal !== undefined) putOptions = { signal: AbortSignal.any([signal, controller.signal]) };
      },
      write(chunk) {
        if (target.offer(chunk) !== 'refused') return undefined;
        return target.put(chunk, putOptions);
      },
      close() {
        if (options.end === true) (target as Partial<{ end(): void }>).end?.();
      },
      abort(reason) {
        controller.abort(reason ?? new Error('stream aborted'));
      },
    },
    { highWaterMark: 1 },
  );
}

/**
 * A transform pair for latest-value streams: while the reader keeps up, values pass through;
 * while it lags, each new value is merged into the one waiting (`merge(older, newer)`, default:
 * keep the newer) instead of queueing, so the reader gets the freshest state and the writer
 * never waits. The same name and behaviour as `conflate` in `@sluice/node-streams`.
 *
 * @example
 * ```ts
 * const latest = positions.pipeThrough(conflate<Position>());
 * ```
 */
export function conflate<T>(merge: (older: T, newer: T) => T = (_older, newer) => newer): TransformPair<T> {
  checkFunction('conflate', 'merge', merge);
  let pending: { value: T } | undefined;
  let waiting: ((value: { value: T } | undefined) => void) | undefined;
  let closed = false;
  const readable = new ReadableStream<T>(
    {
      pull(stream) {
        if (pending !== undefined) {
          stream.enqueue(pending.value);
          pending = undefined;
          return undefined;
        }
        if (closed) {
          stream.close();
          return undefined;
        }
        return new Promise<void>((resolve) => {
          waiting = (value) => {
            waiting = undefined;
            if (value === undefined) stream.close();
            else stream.enqueue(value.value);
            resolve();
          };
        });
      },
      cancel() {
        closed = true;
        pending = undefined;
      },
    },
    { highWaterMark: 0 },
  );
  const writable = new WritableStream<T>({
    write(chunk) {
      if (waiting !== undefined) waiting({ value: chunk });
      else pending = pending === undefined ? { value: chunk } : { value: merge(pending.value, chunk) };
    },
    close() {
      closed = true;
      if (waiting !== undefined && pending === undefined) waiting(undefined);
    },
  });
  return { readable, writable };
}

/** Options of {@link sseStream}. */
export interface SseOptions<E> {
  /** Gate each event passes before it is sent (e.g. a token-rate limiter); default none. */
  readonly gate?: Gate;
  /** Cost of an event at the gate; default 1. */
  readonly cost?: (event: E) => number;
  /** Send a `: heartbeat` comment after this long without an event, ms; default 15,000; 0 turns it off. */
  readonly heartbeatMs?: number;
  /** Clock of the heartbeats; default `systemClock`. */
  readonly clock?: Clock;
  /** Turns an event into SSE fields; default `data: JSON.stringify(event)`. */
  readonly encode?: (event: E) => SseFields;
}

/** The fields of one server-sent event. */
export interface SseFields {
  /** `event:` name; default none (a `message`). */
  readonly event?: string;
  /** `id:`; default none. */
  readonly id?: string;
  /** `data:`, split into one line per line. */
  readonly data: string;
}

const SSE_KEYS = optionKeys<SseOptions<never>>()({ gate: true, cost: true, heartbeatMs: true, clock: true, encode: true });

/**
 * A server-sent-events body (`text/event-stream` bytes) from an async iterable of events, paced
 * by the client's reading: the next event is drawn from the source only when the reader asks for
 * more (and, with `gate`, once the gate grants it), so a model that produces tokens faster than
 * the client reads them is held back at the source. Heartbeat comments keep idle connections
 * open, on the injected clock. Cancelling the body (the client went away) returns the source
 * iterator and clears the heartbeat timer.
 *
 * @example
 * ```ts
 * return new Response(sseStream(modelTokens(), { heartbeatMs: 10_000 }), { headers: { 'content-type': 'text/event-stream' } });
 * ```
 */
export function sseStream<E>(events: AsyncIterable<E>, options: SseOptions<E> = {}): ReadableStream<Uint8Array> {
  checkOptions<SseOptions<never>>('sseStream', options, SSE_KEYS);
  const heartbeatMs = checkNumber('sseStream', 'heartbeatMs', options.heartbeatMs ?? 15_000, { min: 0 });
  const clock = checkClock('sseStream', options.clock) ?? systemClock;
  const gate = options.gate;
  if (gate !== undefined) checkGate('sseStream', gate);
  const encode: (event: E) => SseFields = options.encode ?? ((event: E) => ({ data: JSON.stringify(event) }));
  const encoder = new TextEncoder();
  const iterator = events[Symbol.asyncIterator]();
  const controller = new AbortController();
  let timer: TimerHandle | undefined;
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  const clearHeartbeat = (): void => {
    if (timer !== undefined) clock.clearTimer(timer);
    timer = undefined;
  };
  const armHeartbeat = (): void => {
    clearHeartbeat();
    if (heartbeatMs === 0) return;
    timer = clock.setTimer(() => {
      timer = undefined;
      if (controller.signal.aborted) return;
      stream.enqueue(encoder.encode(': heartbeat\n\n'));
      armHeartbeat();
    }, heartbeatMs);
  };
  const frame = (event: E): Uint8Array => {
    const fields = encode(event);
    let text = '';
    if (fields.event !== undefined) text += `event: ${fields.event}\n`;
    if (fields.id !== undefined) text += `id: ${fields.id}\n`;
    for (const line of fields.data.split('\n')) text += `data: ${line}\n`;
    return encoder.encode(`${text}\n`);
  };
  return new ReadableStream<Uint8Array>(
    {
      start(c) {
        stream = c;
        armHeartbeat();
      },
      async pull(c) {
        const next = await iterator.next();
        if (next.done === true) {
          clearHeartbeat();
          c.close();
          return;
        }
        if (gate !== undefined) {
          const count = options.cost === undefined ? 1 : options.cost(next.value);
          const permit = await gate.acquire(count, { signal: controller.signal });
          permit.release();
        }
        c.enqueue(frame(next.value));
        armHeartbeat();
      },
      cancel(reason) {
        controller.abort(reason ?? new Error('client went away'));
        clearHeartbeat();
        // not awaited: a source busy producing finishes its step first, then stops
        iterator.return?.()?.catch(() => {});
      },
    },
    { highWaterMark: 0 },
  );
}
