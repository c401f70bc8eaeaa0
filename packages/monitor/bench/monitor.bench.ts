/**
 * What watching costs the watched: the hot paths of a gate and a buffer, unwatched and watched
 * (target ≤ 10 % more), and what a sample of 100 watched components costs.
 */
import { BoundedBuffer } from '@sluice/buffer';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { QueueMonitor, prometheusText } from '@sluice/monitor';
import { TokenBucket } from '@sluice/rate-limit';
import { suite } from '../../../bench/harness.ts';

const ENDLESS = 1e12;

suite('monitor', (s) => {
  s.group(
    'watched vs unwatched: TokenBucket.tryAcquire',
    {
      note:
        'One op: `TokenBucket.tryAcquire(1)` granted (an endless bucket). Watched = `monitor.watch(name, bucket)` on a ' +
        '`QueueMonitor` (its sampling timer idle during the measurement): only admissions that waited are reported to it, ' +
        'the immediate ones are counted from `stats()` at each sample. Target: ≤ 1.10× the unwatched floor.',
      added: true,
    },
    (g) => {
      const plain = new TokenBucket({ ratePerSecond: ENDLESS, burst: 1e9 });
      const watched = new TokenBucket({ ratePerSecond: ENDLESS, burst: 1e9 });
      const monitor = new QueueMonitor({ sampleEveryMs: 3_600_000 });
      monitor.watch('bucket', watched);
      g.floor('unwatched', () => plain.tryAcquire(1));
      g.time('watched', () => watched.tryAcquire(1));
      g.teardown(() => monitor.close());
    },
  );

  s.group(
    'watched vs unwatched: BoundedBuffer offer + poll',
    {
      note:
        'One op: `offer(x)` then `poll()` at depth 0. Watched (default) reads counters only; watched with `waits: true` ' +
        'also records holding times, for which the buffer stamps every item on entry (a clock read per offer). ' +
        'Target for the default: ≤ 1.10× the unwatched floor.',
      added: true,
    },
    (g) => {
      const make = () => new BoundedBuffer<number>({ capacity: 1_024 });
      const plain = make();
      const watched = make();
      const timed = make();
      const monitor = new QueueMonitor({ sampleEveryMs: 3_600_000 });
      monitor.watch('watched', watched);
      monitor.watch('timed', timed, { waits: true });
      const cycle = (buffer: BoundedBuffer<number>) => () => {
        buffer.offer(1);
        return buffer.poll();
      };
      g.floor('unwatched', cycle(plain));
      g.time('watched', cycle(watched));
      g.time('watched, waits: true', cycle(timed));
      g.teardown(() => monitor.close());
    },
  );

  s.group(
    'a sample of 100 watched components',
    {
      note:
        'One op: `monitor.sample()` over 100 watched concurrency limiters (each with waits recorded), or ' +
        '`prometheusText(monitor)` (a sample plus the exposition text). The floor reads the 100 `stats()` objects.',
      added: true,
    },
    async (g) => {
      const monitor = new QueueMonitor({ sampleEveryMs: 3_600_000 });
      const limiters = Array.from({ length: 100 }, () => new ConcurrencyLimiter({ maxConcurrent: 4, queueLimit: 100 }));
      limiters.forEach((limiter, i) => {
        monitor.watch(`c${i}`, limiter);
      });
      for (const limiter of limiters) for (let i = 0; i < 50; i++) await limiter.run(async () => i);
      g.floor('read 100 stats()', () => {
        let n = 0;
        for (const limiter of limiters) n += limiter.stats().admitted;
        return n;
      });
      g.time('monitor.sample() of 100', () => monitor.sample());
      g.time('prometheusText() of 100', () => prometheusText(monitor));
      g.teardown(() => monitor.close());
    },
  );
});
