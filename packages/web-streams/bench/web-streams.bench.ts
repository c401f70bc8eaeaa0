/**
 * 1,000,000 small chunks through a Web Streams pipe: `throttle` with an always-open gate vs the
 * identity `TransformStream`. Target ≤ 1.2× the identity.
 */
import { passThrough } from '@sluice/core';
import { TokenBucket } from '@sluice/rate-limit';
import { throttle } from '@sluice/web-streams';
import { suite } from '../../../bench/harness.ts';

const N = 1_000_000;

function run(middle: () => ReadableWritablePair<number, number>): () => Promise<void> {
  return () => {
    let i = 0;
    const source = new ReadableStream<number>({
      pull(c) {
        for (let n = 0; n < 256 && i < N; n++) c.enqueue(i++);
        if (i >= N) c.close();
      },
    });
    return source.pipeThrough(middle()).pipeTo(new WritableStream<number>({ write() {} }));
  };
}

suite('web-streams', (s) => {
  s.group(
    '1M chunks through a pipe',
    {
      note:
        'One op = one number chunk from a ReadableStream that enqueues up to 256 per pull, through the middle stage, into a ' +
        'WritableStream that accepts at once (`pipeThrough` + `pipeTo`). Floor: the identity `new TransformStream()`. ' +
        'sluice: `throttle(passThrough())` (an always-open gate: granted on the synchronous path); `throttle(TokenBucket)` with a ' +
        'bucket that never runs dry (a grant per chunk), and the same with `batch: 64` (one grant pays for 64 chunks).',
      added: true,
    },
    (g) => {
      g.macro('TransformStream (identity)', { ops: N, run: run(() => new TransformStream<number, number>()) }, { floor: true });
      g.macro('sluice throttle(always-open gate)', { ops: N, run: run(() => throttle<number>(passThrough())) });
      // a bucket that never runs dry within the run: every chunk is granted, on the bucket's own arithmetic
      const bucket = () => new TokenBucket({ ratePerSecond: 1e9, burst: 1e7 });
      g.macro('sluice throttle(TokenBucket), a grant per chunk', { ops: N, run: run(() => throttle<number>(bucket())) });
      g.macro('sluice throttle(TokenBucket, { batch: 64 })', { ops: N, run: run(() => throttle<number>(bucket(), { batch: 64 })) });
    },
  );
});
