/**
 * A writable side and a readable side that belong together: what `ReadableStream.pipeThrough`
 * takes, and what {@link throttle} returns. It is the DOM's `ReadableWritablePair<O, I>` (whose
 * type parameters come readable first), declared here on the global `ReadableStream` and
 * `WritableStream`, so that it means the runtime's own streams in a DOM project and in a Node
 * project without the DOM lib alike. A `TransformStream<I, O>` is one.
 *
 * @typeParam I - chunks written to `writable`.
 * @typeParam O - chunks read from `readable`; default `I`.
 *
 * @example
 * ```ts
 * const pair: TransformPair<string> = throttle<string>(gate);
 * const paced: ReadableStream<string> = source.pipeThrough(pair);
 * ```
 */
export interface TransformPair<I, O = I> {
  /** The side chunks are written to. */
  readonly writable: WritableStream<I>;
  /** The side the results are read from. */
  readonly readable: ReadableStream<O>;
}
