/**
 * What one adapter writes to become a transform pair; {@link StreamPair} does the rest (the two
 * streams, and cancel/abort/error propagation both ways).
 */
export interface Stage<I, _O> {
  /** A chunk written to the writable side. A throw or rejection errors both sides. */
  write(chunk: I): void | PromiseLike<void>;
  /** The readable side wants more (a reader is waiting, or its queue is below its high-water mark). */
  pull(): void | PromiseLike<void>;
  /**
   * The writable side was closed after its last write: deliver what is left, then call
   * {@link StreamPair.end}. A throw or rejection errors both sides.
   */
  close(): void | PromiseLike<void>;
  /**
   * Called once, on the first cancel, abort, error or signal abort: abort every wait the stage
   * has pending (so each pending `write`/`pull` settles) and give back whatever it holds.
   */
  stop(reason: unknown): void;
}

/** Does not throw on a controller whose stream is already closed or errored. */
function quietly(action: () => void): void {
  try {
    action();
  } catch {
    // Why: the stream was closed or errored by the other side first; there is nothing left to do.
  }
}

/**
 * A readable and a writable side wired as one transform stream: what `pipeThrough` takes. Unlike
 * a native `TransformStream`, an abort of the writable side (`writer.abort()`, a pipe whose
 * source errored or whose `signal` aborted) reaches the stage at once through the writable
 * controller's `signal`, even while a write is in flight — a native transform would only see it
 * once its pending `transform()` settled, which with a stalled gate is never.
 *
 * Propagation: the readable side cancelled → the writable side errors with the reason (so a pipe
 * into it cancels its source with that reason); the writable side aborted → the readable side
 * errors with the reason; a stage error → both; `signal` aborted → both, with its reason.
 */
export class StreamPair<I, O> {
  /** The readable side. */
  readonly readable: ReadableStream<O>;
  /** The writable side. */
  readonly writable: WritableStream<I>;
  /** True once stopped (cancelled, aborted, errored) — not set by a normal end. */
  stopped = false;
  /** Why it stopped. */
  reason: unknown = undefined;

  private out: ReadableStreamDefaultController<O> | undefined;
  private input: WritableStreamDefaultController | undefined;
  private ended = false;
  private readonly detach: (() => void) | undefined;

  constructor(stage: Stage<I, O>, writableStrategy: QueuingStrategy<I>, readableStrategy: QueuingStrategy<O>, signal?: AbortSignal) {
    const stop = (reason: unknown): void => this.stop(stage, reason);
    this.readable = new ReadableStream<O>(
      {
        start: (controller) => {
          this.out = controller;
        },
        pull: () => (this.stopped ? undefined : this.guard(stage.pull(), stop)),
        cancel: (reason) => stop(reason),
      },
      readableStrategy,
    );
    this.writable = new WritableStream<I>(
      {
        start: (controller) => {
          this.input = controller;
          // Why: the signal fires as soon as abort() is called, before an in-flight write settles.
          // (The writable side is already erroring then: erroring it again from inside the abort
          // trips an internal assertion of Node 20's implementation.)
          const signal = abortSignalOf(controller);
          signal?.addEventListener('abort', () => this.stop(stage, signal.reason, false), { once: true });
        },
        write: (chunk) => {
          if (this.stopped) throw this.reason;
          try {
            return this.guard(stage.write(chunk), stop);
          } catch (error) {
            stop(error);
            throw error;
          }
        },
        close: () => {
          if (this.stopped) throw this.reason;
          try {
            return this.guard(stage.close(), stop);
          } catch (error) {
            stop(error);
            throw error;
          }
        },
        abort: (reason) => this.stop(stage, reason, false),
      },
      writableStrategy,
    );
    if (signal !== undefined) {
      if (signal.aborted) {
        stop(signal.reason);
      } else {
        const onAbort = (): void => stop(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        this.detach = () => signal.removeEventListener('abort', onAbort);
      }
    }
  }

  /** The readable side's controller (set synchronously by the constructor). */
  get controller(): ReadableStreamDefaultController<O> {
    return this.out as ReadableStreamDefaultController<O>;
  }

  /** Closes the readable side once everything was delivered (after the writable side closed). */
  end(): void {
    if (this.ended || this.stopped) return;
    this.ended = true;
    this.detach?.();
    quietly(() => this.controller.close());
  }

  /**
   * Errors both sides with `reason` and stops the stage (once). `errorWritable` is false when the
   * writable side is being aborted already.
   */
  stop(stage: Stage<I, O>, reason: unknown, errorWritable = true): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    this.detach?.();
    stage.stop(reason);
    if (!this.ended) quietly(() => this.controller.error(reason));
    const input = this.input;
    if (errorWritable && input !== undefined) quietly(() => input.error(reason));
  }

  /** Stops both sides when a stage's promise rejects, and passes the rejection on. */
  private guard(result: void | PromiseLike<void>, stop: (reason: unknown) => void): void | PromiseLike<void> {
    if (result === undefined) return undefined;
    return result.then(undefined, (error: unknown) => {
      stop(error);
      throw error;
    });
  }
}

/**
 * The controller's abort signal, where the runtime has one (every current one does; @types/node
 * 20 does not declare it, so it is read through this structural view).
 */
function abortSignalOf(controller: WritableStreamDefaultController): AbortSignal | undefined {
  return (controller as { readonly signal?: AbortSignal }).signal;
}
