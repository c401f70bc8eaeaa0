import { TokenBucket } from '@sluice/rate-limit';
import { throttle } from '@sluice/web-streams';
import { fakeModel } from './model.js';

/** Live counters of one {@link streamTokens} run. */
export interface StreamStats {
  readonly total: number;
  /** Tokens the model has produced. */
  produced: number;
  /** Tokens on screen. */
  rendered: number;
  /** Largest `produced − rendered` seen: how far the model ever ran ahead of the screen. */
  maxLead: number;
  startedAt: number;
  finishedAt: number | undefined;
}

export interface StreamOptions {
  /** The reading pace: tokens per second through the throttle. */
  readonly ratePerSecond: number;
  /** Tokens the bucket may let through at once. */
  readonly burst: number;
  /** How fast the model writes when nothing holds it back. */
  readonly modelTokensPerSecond: number;
  /** Most tokens the screen takes per animation frame before a write waits for the next frame. */
  readonly maxPerFrame: number;
  /** Appends text to the page; called at most once per animation frame. */
  readonly render: (text: string, stats: StreamStats) => void;
  readonly signal?: AbortSignal;
}

/**
 * The model's tokens, pulled through `throttle(TokenBucket)` into a sink that paints once per
 * animation frame:
 *
 *     fakeModel ──pull──▶ ReadableStream ──▶ throttle(TokenBucket) ──▶ WritableStream (frames)
 *
 * Every stage has a high-water mark of 0 or 1, so the model is asked for a token only when the
 * stages after it have room for one. The token bucket sets the reading pace. The frame sink is
 * the screen: it collects tokens for the next frame, and once a frame holds `maxPerFrame` of them
 * its `write` waits until the frame is painted. If frames stop (for example in a hidden tab),
 * the stall travels back to the model.
 */
export function streamTokens(tokens: readonly string[], options: StreamOptions): { stats: StreamStats; done: Promise<void> } {
  const stats: StreamStats = {
    total: tokens.length,
    produced: 0,
    rendered: 0,
    maxLead: 0,
    startedAt: performance.now(),
    finishedAt: undefined,
  };
  const model = fakeModel(tokens, {
    tokensPerSecond: options.modelTokensPerSecond,
    onToken: () => {
      stats.produced++;
      stats.maxLead = Math.max(stats.maxLead, stats.produced - stats.rendered);
    },
  });
  const source = new ReadableStream<string>(
    {
      async pull(controller) {
        const next = await model.next();
        if (next.done === true) controller.close();
        else controller.enqueue(next.value);
      },
      async cancel() {
        await model.return(undefined);
      },
    },
    { highWaterMark: 0 },
  );

  let frame: string[] = [];
  let painted: Promise<void> | undefined;
  const nextFrame = (): Promise<void> =>
    (painted ??= new Promise<void>((resolve) =>
      requestAnimationFrame(() => {
        const text = frame.join('');
        stats.rendered += frame.length;
        frame = [];
        painted = undefined;
        options.render(text, stats);
        resolve();
      }),
    ));
  const screen = new WritableStream<string>({
    write(token) {
      frame.push(token);
      const paint = nextFrame();
      return frame.length >= options.maxPerFrame ? paint : undefined;
    },
    close() {
      return painted;
    },
  });

  const bucket = new TokenBucket({ ratePerSecond: options.ratePerSecond, burst: options.burst });
  const done = source
    .pipeThrough(throttle<string>(bucket))
    .pipeTo(screen, options.signal === undefined ? {} : { signal: options.signal })
    .then(() => {
      stats.finishedAt = performance.now();
    });
  return { stats, done };
}
