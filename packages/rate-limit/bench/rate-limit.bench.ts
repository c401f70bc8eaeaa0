/**
 * The rate limiters' hot paths against the peers, in one run: `tryAcquire(1)` with tokens
 * available and with the bucket empty (against `limiter`, rate-limiter-flexible's memory
 * limiter, bottleneck's reservoir, and a floor of one read of the same clock plus the
 * arithmetic), `acquire(1)` with tokens available (against an awaited resolved promise), and a
 * keyed limiter over 100,000 distinct keys.
 *
 * Targets: both `tryAcquire` cases ≤ 1.2× the floor, a refusal allocates nothing but its value;
 * `acquire` with tokens ≤ 1.2× an awaited resolved promise.
 */
import { Gcra, KeyedLimiter, SlidingWindow, TokenBucket } from '@sluice/rate-limit';
import { bytesAllocatedPerOp, measureRetention, suite } from '../../../bench/harness.ts';
import { Bottleneck, LimiterRateLimiter, LimiterTokenBucket, RateLimiterMemory } from '../../../bench/peers.ts';

/** The clock every sluice limiter reads by default, captured the same way (bound once). */
const readClock = performance.now.bind(performance);

/** A rate so high the bucket never runs dry within a measurement. */
const ENDLESS = 1e12;
/**
 * A rate so low an empty bucket stays empty for the whole run (one token per 1,000 s), while its
 * `retryAfterMs` stays a small integer, as real ones are.
 */
const TRICKLE = 0.001;

/** The floor: one clock read and the refill arithmetic, inline — what a token bucket must do. */
class FloorBucket {
  private tokens: number;
  private last = readClock();
  constructor(
    private readonly ratePerMs: number,
    private readonly burst: number,
    initial: number,
  ) {
    this.tokens = initial;
  }
  tryTake(): boolean {
    const now = readClock();
    let tokens = this.tokens + (now - this.last) * this.ratePerMs;
    if (tokens > this.burst) tokens = this.burst;
    this.last = now;
    if (tokens < 1) {
      this.tokens = tokens;
      return false;
    }
    this.tokens = tokens - 1;
    return true;
  }
}

const KEYS = 100_000;
const keyNames = Array.from({ length: KEYS }, (_, i) => `client-${i}`);

suite('rate-limit', (s) => {
  s.group(
    'tryAcquire(1), tokens available',
    {
      note:
        'One op = one synchronous attempt that is granted (the bucket never runs dry: rate 10^12/s). The floor reads the ' +
        'same clock sluice reads (`performance.now`, bound once) and does the refill arithmetic inline. `limiter` is ' +
        'jhurliman/limiter (`tryRemoveTokens`, which reads `Date.now`). The async peers are in their own table. The ' +
        'allocation column is heap bytes per op over a GC-free loop.',
      added: true,
      columns: [{ key: 'alloc', label: 'bytes allocated per op', format: 'bytes-per-item' }],
    },
    (g) => {
      const floor = new FloorBucket(ENDLESS / 1000, 1e15, 1e15);
      const bucket = new TokenBucket({ ratePerSecond: ENDLESS, burst: 1e9 });
      const cell = new Gcra({ ratePerSecond: ENDLESS, burst: 1e9 });
      const window = new SlidingWindow({ limit: 1e9, windowMs: 1 });
      const limiterBucket = new LimiterTokenBucket({ bucketSize: 1e15, tokensPerInterval: 1e15, interval: 'second' });
      const limiterRate = new LimiterRateLimiter({ tokensPerInterval: 1e15, interval: 'second' });
      g.floor('floor: clock read + arithmetic', () => floor.tryTake(), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => floor.tryTake()) }),
      });
      g.time('TokenBucket.tryAcquire(1)', () => bucket.tryAcquire(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => bucket.tryAcquire(1)) }),
      });
      g.time('Gcra.tryAcquire(1)', () => cell.tryAcquire(1), { metrics: () => ({ alloc: bytesAllocatedPerOp(() => cell.tryAcquire(1)) }) });
      g.time('SlidingWindow.tryAcquire(1)', () => window.tryAcquire(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => window.tryAcquire(1)) }),
      });
      g.time('limiter TokenBucket.tryRemoveTokens(1)', () => limiterBucket.tryRemoveTokens(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => limiterBucket.tryRemoveTokens(1)) }),
      });
      g.time('limiter RateLimiter.tryRemoveTokens(1)', () => limiterRate.tryRemoveTokens(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => limiterRate.tryRemoveTokens(1)) }),
      });
    },
  );

  s.group(
    'tryAcquire(1), bucket empty',
    {
      note:
        'One op = one synchronous attempt that is refused (an empty bucket refilling at one token per 1,000 s). sluice returns a ' +
        'refusal value with `retryAfterMs` (no promise, no exception); `limiter` returns `false`. The floor does the same ' +
        'arithmetic and returns false.',
      added: true,
      columns: [{ key: 'alloc', label: 'bytes allocated per op', format: 'bytes-per-item' }],
    },
    (g) => {
      const floor = new FloorBucket(TRICKLE / 1000, 1, 0);
      const bucket = new TokenBucket({ ratePerSecond: TRICKLE, burst: 1, initialTokens: 0 });
      const cell = new Gcra({ ratePerSecond: TRICKLE, burst: 1 });
      cell.tryAcquire(1);
      const limiterBucket = new LimiterTokenBucket({ bucketSize: 1, tokensPerInterval: 1, interval: 1e6 });
      limiterBucket.tryRemoveTokens(1);
      const limiterRate = new LimiterRateLimiter({ tokensPerInterval: 1, interval: 1e6 });
      limiterRate.tryRemoveTokens(1);
      g.floor('floor: clock read + arithmetic', () => floor.tryTake(), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => floor.tryTake()) }),
      });
      g.time('TokenBucket.tryAcquire(1)', () => bucket.tryAcquire(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => bucket.tryAcquire(1)) }),
      });
      g.time('Gcra.tryAcquire(1)', () => cell.tryAcquire(1), { metrics: () => ({ alloc: bytesAllocatedPerOp(() => cell.tryAcquire(1)) }) });
      g.time('limiter TokenBucket.tryRemoveTokens(1)', () => limiterBucket.tryRemoveTokens(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => limiterBucket.tryRemoveTokens(1)) }),
      });
      g.time('limiter RateLimiter.tryRemoveTokens(1)', () => limiterRate.tryRemoveTokens(1), {
        metrics: () => ({ alloc: bytesAllocatedPerOp(() => limiterRate.tryRemoveTokens(1)) }),
      });
    },
  );

  s.group(
    'async: acquire with tokens / refusal through a promise',
    {
      note:
        'One op = one awaited call. Granted rows: sluice `await acquire(1)` (tokens available: no timer, one shared ' +
        'resolved promise), `limiter` `await removeTokens(1)`, rate-limiter-flexible `await consume(key)` ' +
        '(`RateLimiterMemory` is a fixed-window counter: it has no in-memory token bucket), bottleneck `schedule()` with a ' +
        'reservoir. Refused rows: the same calls on an exhausted limiter, awaited and caught (sluice rejects with a ' +
        '`WaitTimeoutError` when `maxWaitMs: 0`; bottleneck drops with highWater 0). Floors: an awaited resolved promise, ' +
        'and an awaited rejected promise that is caught.',
      added: true,
    },
    (g) => {
      const bucket = new TokenBucket({ ratePerSecond: ENDLESS, burst: 1e9 });
      const emptyBucket = new TokenBucket({ ratePerSecond: TRICKLE, burst: 1, initialTokens: 0, queueLimit: 0 });
      const limiterBucket = new LimiterTokenBucket({ bucketSize: 1e15, tokensPerInterval: 1e15, interval: 'second' });
      const flexible = new RateLimiterMemory({ points: 2_000_000_000, duration: 3_600 });
      const flexibleEmpty = new RateLimiterMemory({ points: 1, duration: 3_600 });
      void flexibleEmpty.consume('k').catch(() => {});
      const bottleneck = new Bottleneck({ reservoir: 1e15 });
      const bottleneckEmpty = new Bottleneck({ reservoir: 0, highWater: 0, strategy: Bottleneck.strategy.OVERFLOW });
      const one = async (): Promise<number> => 1;
      const resolved = Promise.resolve(1);
      const failure = new Error('refused');
      g.floor('floor: await resolved promise', async () => {
        await resolved;
      });
      g.time('TokenBucket await acquire(1)', async () => {
        await bucket.acquire(1);
      });
      g.time('limiter await removeTokens(1)', async () => {
        await limiterBucket.removeTokens(1);
      });
      g.time('rate-limiter-flexible await consume()', async () => {
        await flexible.consume('k');
      });
      g.time('bottleneck await schedule() (reservoir)', async () => {
        await bottleneck.schedule(one);
      });
      g.floor(
        'floor: await rejected promise + catch',
        async () => {
          try {
            await Promise.reject(failure);
          } catch {
            // refused
          }
        },
        { param: 'refused' },
      );
      g.time(
        'TokenBucket await acquire(1, { maxWaitMs: 0 }) refused',
        async () => {
          try {
            await emptyBucket.acquire(1, { maxWaitMs: 0 });
          } catch {
            // refused
          }
        },
        { param: 'refused' },
      );
      g.time(
        'rate-limiter-flexible await consume() refused',
        async () => {
          try {
            await flexibleEmpty.consume('k');
          } catch {
            // refused
          }
        },
        { param: 'refused' },
      );
      g.time(
        'bottleneck await schedule() dropped',
        async () => {
          try {
            await bottleneckEmpty.schedule(one);
          } catch {
            // dropped
          }
        },
        { param: 'refused' },
      );
      g.teardown(async () => {
        await bottleneck.stop({ dropWaitingJobs: true }).catch(() => {});
        await bottleneckEmpty.stop({ dropWaitingJobs: true }).catch(() => {});
      });
    },
  );

  s.group(
    'keyed limiter, 100,000 distinct keys',
    {
      note:
        'One op = `tryAcquire(key)` on the next of 100,000 keys in turn (every key already has its limiter), so each call ' +
        'is a map lookup plus the key’s own bucket. sluice: `KeyedLimiter` of `TokenBucket`s (maxKeys 200,000), made by ' +
        '`create` (a `TokenBucket` object per key) or from shared `tokenBucket` options (the compact form: a key holds ' +
        'its tokens and refill time until it needs a real bucket); rate-limiter-flexible: `RateLimiterMemory.consume(key)` ' +
        '(async). Memory: heap bytes per key after 100,000 keys were used once, including each key’s limiter.',
      added: false,
      columns: [{ key: 'bytesPerKey', label: 'bytes per key', format: 'bytes-per-item' }],
    },
    (g) => {
      const keyed = new KeyedLimiter({ create: () => new TokenBucket({ ratePerSecond: ENDLESS, burst: 1e9 }), maxKeys: 200_000 });
      for (const key of keyNames) keyed.tryAcquire(key);
      const flexible = new RateLimiterMemory({ points: 2_000_000_000, duration: 3_600 });
      let i = 0;
      let j = 0;
      g.floor('Map.get(key) on 100,000 keys', () => keyed.has(keyNames[(i = (i + 1) % KEYS)] as string));
      g.time('KeyedLimiter.tryAcquire(key)', () => keyed.tryAcquire(keyNames[(j = (j + 1) % KEYS)] as string), {
        metrics: () => ({
          bytesPerKey: measureRetention({
            items: KEYS,
            create: () => new KeyedLimiter({ create: () => new TokenBucket({ ratePerSecond: 10, burst: 10 }), maxKeys: 200_000 }),
            fill: (limiter, n) => {
              for (let k = 0; k < n; k++) limiter.tryAcquire(keyNames[k] as string);
            },
          }).bytesPerItem,
        }),
      });
      const compact = new KeyedLimiter({ tokenBucket: { ratePerSecond: ENDLESS, burst: 1e9 }, maxKeys: 200_000 });
      for (const key of keyNames) compact.tryAcquire(key);
      let c = 0;
      g.time('KeyedLimiter({ tokenBucket }).tryAcquire(key)', () => compact.tryAcquire(keyNames[(c = (c + 1) % KEYS)] as string), {
        metrics: () => ({
          bytesPerKey: measureRetention({
            items: KEYS,
            create: () => new KeyedLimiter({ tokenBucket: { ratePerSecond: 10, burst: 10 }, maxKeys: 200_000 }),
            fill: (limiter, n) => {
              for (let k = 0; k < n; k++) limiter.tryAcquire(keyNames[k] as string);
            },
          }).bytesPerItem,
        }),
      });
      let k = 0;
      g.time(
        'rate-limiter-flexible await consume(key)',
        async () => {
          await flexible.consume(keyNames[(k = (k + 1) % KEYS)] as string);
        },
        {
          metrics: async () => ({
            bytesPerKey: await (async () => {
              const probe = new RateLimiterMemory({ points: 10, duration: 3_600 });
              const gc = (globalThis as { gc?: () => void }).gc;
              gc?.();
              gc?.();
              const before = process.memoryUsage().heapUsed;
              for (let n = 0; n < KEYS; n++) await probe.consume(keyNames[n] as string);
              gc?.();
              gc?.();
              const bytes = (process.memoryUsage().heapUsed - before) / KEYS;
              void probe;
              return bytes;
            })(),
          }),
        },
      );
    },
  );
});
