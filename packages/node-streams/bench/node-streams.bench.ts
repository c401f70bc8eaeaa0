/**
 * 1,000,000 small chunks through a Node pipeline: `throttle` with an always-open gate vs the
 * identity `PassThrough`. Target ≤ 1.2× the identity.
 */
import { PassThrough, Readable, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { passThrough } from '@sluice/core';
import { TokenBucket } from '@sluice/rate-limit';
import { throttle } from '@sluice/node-streams';
import { suite } from '../../../bench/harness.ts';

const N = 1_000_000;

function run(middle: () => Duplex): () => Promise<void> {
  return () => {
    let i = 0;
    const source = new Readable({
      objectMode: true,
      read() {
        for (let n = 0; n < 256; n++) {
          if (i >= N) {
            this.push(null);
            return;
          }
          if (!this.push(i++)) return;
        }
      },
    });
    const sink = new Writable({ objectMode: true, write: (_chunk, _encoding, done) => done() });
    return pipeline(source, middle(), sink);
  };
}

suite('node-streams', (s) => {
  s.group(
    '1M chunks through a pipeline',
    {
      note:
        'One op = one chunk (object mode, highWaterMark 16) from a Readable that pushes up to 256 per read, through the ' +
        'middle stage, into a Writable that accepts at once. Floor: `new PassThrough({ objectMode: true })`. sluice: ' +
        '`throttle(passThrough())` (an always-open gate: each chunk is granted on the synchronous path); `throttle(TokenBucket)` ' +
        'with a bucket that never runs dry (a grant per chunk), and the same with `batch: 64` (one grant pays for 64 chunks).',
      added: true,
    },
    (g) => {
      g.macro('PassThrough (identity)', { ops: N, run: run(() => new PassThrough({ objectMode: true })) }, { floor: true });
      g.macro('sluice throttle(always-open gate)', { ops: N, run: run(() => throttle(passThrough())) });
      // a bucket that never runs dry within the run: every chunk is granted, on the bucket's own arithmetic
      const bucket = () => new TokenBucket({ ratePerSecond: 1e9, burst: 1e7 });
      g.macro('sluice throttle(TokenBucket), a grant per chunk', { ops: N, run: run(() => throttle(bucket())) });
      g.macro('sluice throttle(TokenBucket, { batch: 64 })', { ops: N, run: run(() => throttle(bucket(), { batch: 64 })) });
    },
  );
});
