import { checkName, checkNumber, checkOptions, optionKeys } from '@sluice/core';
import { UNIT_EPSILON, bucketTokens, bucketWaitMs } from './math.js';
import type { TokenBucketOptions } from './options.js';
import { RateLimiter } from './rate-limiter.js';

const TOKEN_BUCKET_KEYS = optionKeys<TokenBucketOptions>()({
  ratePerSecond: true,
  burst: true,
  initialTokens: true,
  name: true,
  clock: true,
  queueLimit: true,
  maxStarvationMs: true,
});

/**
 * A token bucket: holds at most `burst` tokens and refills continuously at `ratePerSecond`.
 * A request of `count` passes when that many tokens are there, and takes them.
 *
 * - `tryAcquire(count)` answers at once with one clock read and a few arithmetic operations: a
 *   shared permit, or a refusal whose `retryAfterMs` counts the tokens queued ahead.
 * - `acquire(count, { signal, maxWaitMs, priority })` waits in FIFO order (a small request never
 *   jumps a large one queued ahead) on one timer, armed for the head waiter's deficit; a wait
 *   that would exceed `maxWaitMs` is refused at once with its `retryAfterMs`.
 * - A count above `burst` throws a `TooLargeError` at once: it could never pass.
 * - A clock that stands still or jumps backwards refills nothing (no negative tokens, no free
 *   burst).
 *
 * Seed API mapping: `tryConsume(n)` → `tryAcquire(n).granted`; `waitAndConsume(n)` →
 * `acquire(n)`; `availableTokens` → `available` (whole tokens) or `tokens` (exact).
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ ratePerSecond: 10, burst: 20 });
 * const result = bucket.tryAcquire();
 * if (!result.granted) reply(429, { retryAfterMs: result.retryAfterMs });
 * await bucket.acquire(5, { maxWaitMs: 1_000 }); // or wait, at most a second
 * ```
 */
export class TokenBucket extends RateLimiter {
  /** Tokens per second. */
  readonly ratePerSecond: number;
  /** Most tokens held. */
  readonly burst: number;
  private readonly ratePerMs: number;
  /** 1 / ratePerMs: a multiplication on the refusal path instead of a division. */
  private readonly msPerToken: number;
  private tokenCount: number;
  private updatedAt: number;

  /** @throws InvalidArgumentError naming a bad option (rate ≤ 0, NaN or Infinity; burst < 1 or fractional; …). */
  constructor(options: TokenBucketOptions) {
    const o = checkOptions('TokenBucket', options, TOKEN_BUCKET_KEYS);
    const name = checkName('TokenBucket', o.name, 'token-bucket');
    const ratePerSecond = checkNumber(name, 'ratePerSecond', o.ratePerSecond, { min: 0, exclusiveMin: true });
    const burst = checkNumber(name, 'burst', o.burst, { min: 1, integer: true });
    const initialTokens = checkNumber(name, 'initialTokens', o.initialTokens ?? burst, { min: 0, max: burst });
    super({ name, clock: o.clock, capacity: burst, queueLimit: o.queueLimit, maxStarvationMs: o.maxStarvationMs });
    this.ratePerSecond = ratePerSecond;
    this.burst = burst;
    this.ratePerMs = ratePerSecond / 1000;
    this.msPerToken = 1000 / ratePerSecond;
    this.tokenCount = initialTokens;
    this.updatedAt = this.lastNow;
  }

  /** Tokens now, exactly (fractional while refilling; negative while a `debit` is paid off). */
  get tokens(): number {
    const now = this.monotonic(this.clock.now());
    return bucketTokens(this.tokenCount, this.updatedAt, now, this.ratePerMs, this.burst);
  }

  /** The hot path in one pass: one clock read, the refill, the comparison, the debit. */
  protected override tryTake(count: number): boolean {
    let now = this.clock.now();
    if (now > this.lastNow) this.lastNow = now;
    else now = this.lastNow;
    const tokens = now === this.updatedAt ? this.tokenCount : this.refill(now);
    const needed = count === 0 ? 1 : count;
    if (tokens + UNIT_EPSILON < needed) {
      this.refusedWaitMs = Math.ceil((needed - tokens) * this.msPerToken);
      return false;
    }
    this.tokenCount = tokens > count ? tokens - count : 0;
    return true;
  }

  protected canTakeAt(count: number, nowMs: number): boolean {
    const tokens = this.refill(nowMs);
    return tokens + UNIT_EPSILON >= (count === 0 ? 1 : count);
  }

  protected takeAt(count: number, nowMs: number): void {
    // never below zero, even when the tolerance let a hair-short request through
    this.tokenCount = Math.max(0, this.refill(nowMs) - count);
  }

  protected waitMsAt(units: number, nowMs: number): number {
    return bucketWaitMs(this.refill(nowMs), units, this.ratePerMs);
  }

  protected availableAt(nowMs: number): number {
    const tokens = Math.floor(this.refill(nowMs) + UNIT_EPSILON);
    return tokens > 0 ? tokens : 0;
  }

  /** A debit may take the bucket below zero: the debt refills like any deficit. */
  protected override debitAt(count: number, nowMs: number): void {
    this.tokenCount = this.refill(nowMs) - count;
  }

  protected refundAt(count: number, nowMs: number): void {
    this.tokenCount = Math.min(this.burst, this.refill(nowMs) + count);
  }

  /** Brings the stored tokens up to `nowMs` (the pure refill, committed) and returns them. */
  private refill(nowMs: number): number {
    if (nowMs === this.updatedAt) return this.tokenCount;
    const tokens = bucketTokens(this.tokenCount, this.updatedAt, nowMs, this.ratePerMs, this.burst);
    this.tokenCount = tokens;
    this.updatedAt = nowMs;
    return tokens;
  }
}

/** Creates a {@link TokenBucket}. */
export function tokenBucket(options: TokenBucketOptions): TokenBucket {
  return new TokenBucket(options);
}
