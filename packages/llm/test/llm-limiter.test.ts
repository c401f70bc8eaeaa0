import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, NOT_RUN, TooLargeError, WaitTimeoutError, type Permit } from '@sluice/core';
import { LlmLimiter, type LlmPermit } from '../src/llm-limiter.js';
import { VirtualClock, track as settle } from '@sluice/testing';

describe('LlmLimiter: options', () => {
  it('rejects bad options at construction', () => {
    expect(() => new LlmLimiter({})).toThrow(/at least one of requestsPerMinute/);
    expect(() => new LlmLimiter({ tokensPerMinute: 0 })).toThrow(InvalidArgumentError);
    expect(() => new LlmLimiter({ requestsPerMinute: -5 })).toThrow(/requestsPerMinute/);
    expect(() => new LlmLimiter({ tokensPerMinute: Number.NaN })).toThrow(/tokensPerMinute/);
    expect(() => new LlmLimiter({ tokensPerMinute: 10, headroom: 0.95 })).toThrow(/headroom/);
    expect(() => new LlmLimiter({ tokensPerMinute: 10, queueLimit: -1 })).toThrow(/queueLimit/);
    expect(() => new LlmLimiter({ tokensPerMinute: 10, wallClock: 5 as never })).toThrow(/wallClock/);
  });

  it('plans against limit × (1 − headroom) and reports its dimensions', () => {
    const limiter = new LlmLimiter({
      requestsPerMinute: 100,
      tokensPerMinute: 1_000,
      tokensPerDay: 50_000,
      headroom: 0.1,
      clock: new VirtualClock(),
    });
    expect(limiter.dimensions).toEqual(['requests', 'tokens', 'tokens-per-day']);
    expect(limiter.capacity).toBe(900);
    expect(limiter.remaining('tokens')).toBe(900);
    expect(limiter.remaining('requests')).toBe(90);
    expect(limiter.remaining('input-tokens')).toBe(Infinity);
    expect(() => limiter.remaining('bananas' as never)).toThrow(InvalidArgumentError);
  });
});

describe('LlmLimiter: admission', () => {
  it('reserves input + the whole output cap in every dimension at once', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({
      requestsPerMinute: 60,
      tokensPerMinute: 1_000,
      inputTokensPerMinute: 800,
      outputTokensPerMinute: 500,
      clock,
    });
    const permit = limiter.tryAcquire({ inputTokens: 200, maxOutputTokens: 300 });
    expect(permit.granted).toBe(true);
    expect(permit).toMatchObject({ inputTokens: 200, maxOutputTokens: 300 });
    expect(['requests', 'tokens', 'input-tokens', 'output-tokens'].map((d) => limiter.remaining(d as never))).toEqual([59, 500, 600, 200]);
  });

  it('is atomic: a request waiting on TPM holds no RPM, and is admitted when every bucket has room', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ requestsPerMinute: 60, tokensPerMinute: 1_200, clock });
    expect(limiter.tryAcquire({ inputTokens: 1_000 }).granted).toBe(true);
    const big = settle(limiter.acquire({ inputTokens: 600 })); // 400 short: 20 s of refill at 20 tokens/s
    await clock.advance(0);
    expect(big.done).toBe(false);
    expect(limiter.remaining('requests')).toBeCloseTo(59, 6);
    await clock.advance(19_999);
    expect(big.done).toBe(false);
    await clock.advance(1);
    expect(big.done && big.value?.granted).toBe(true);
    expect(limiter.remaining('tokens')).toBeCloseTo(0, 6);
    // RPM refilled to its cap of 60 while it waited, then gave one to the big request
    expect(limiter.remaining('requests')).toBeCloseTo(59, 6);
  });

  it('refuses at once, never queues, a request that could never fit: shrink it', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 1_000, outputTokensPerMinute: 200, clock });
    expect(() => limiter.tryAcquire({ inputTokens: 800, maxOutputTokens: 300 })).toThrow(TooLargeError);
    const error = await limiter.acquire({ inputTokens: 100, maxOutputTokens: 300 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TooLargeError);
    expect((error as Error).message).toMatch(/300 output-tokens .* at most 200.*shrink/);
    expect(() => limiter.tryAcquire(1_001)).toThrow(TooLargeError);
    expect(limiter.stats()).toMatchObject({ admitted: 0, waiting: 0 });
    expect(limiter.remaining('tokens')).toBe(1_000);
    await expect(limiter.acquire({ inputTokens: -1 })).rejects.toThrow(/inputTokens/);
    await expect(limiter.acquire({ maxOutputTokens: 2.5 })).rejects.toThrow(/maxOutputTokens/);
  });

  it('serves waiters FIFO within a priority, a larger priority first', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 600, clock }); // 10 tokens/s
    limiter.tryAcquire(600);
    const order: string[] = [];
    const track = (label: string, p: Promise<Permit>) => p.then(() => order.push(label));
    const all = [track('a', limiter.acquire(10)), track('b', limiter.acquire(10)), track('urgent', limiter.acquire(10, { priority: 5 }))];
    await clock.settle(Promise.all(all));
    expect(order).toEqual(['urgent', 'a', 'b']);
    expect(clock.now()).toBe(3_000);
  });

  it('a queued request is served, estimated and reserved with its own input and output split', async () => {
    const clock = new VirtualClock();
    // 10 tokens/s total; output 2/s: a waiter's output cap, not its total, decides when it fits
    const limiter = new LlmLimiter({ tokensPerMinute: 600, outputTokensPerMinute: 120, clock });
    limiter.tryAcquire({ inputTokens: 480, maxOutputTokens: 120 });
    const first = limiter.acquire({ inputTokens: 10, maxOutputTokens: 10 });
    const second = limiter.acquire({ inputTokens: 30, maxOutputTokens: 0 }, { maxWaitMs: 7_000 }).catch((e: unknown) => e);
    // total would fit after 2 s; the output bucket needs 5 s for 10 output tokens
    await clock.advance(4_999);
    expect(limiter.stats().waiting).toBe(2);
    await clock.advance(1);
    const permit = (await first) as LlmPermit;
    expect([permit.inputTokens, permit.maxOutputTokens]).toEqual([10, 10]);
    expect(limiter.remaining('output-tokens')).toBeCloseTo(0, 6);
    // the second needs 30 tokens of which none are output: 50 − 20 = 30 tokens left already
    await clock.advance(0);
    const next = (await second) as LlmPermit;
    expect([next.inputTokens, next.maxOutputTokens]).toEqual([30, 0]);
    expect(clock.now()).toBe(5_000);
  });

  it('refuses at once when the wait it predicts exceeds maxWaitMs, with the hint', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 600, clock });
    limiter.tryAcquire(600);
    const error = await limiter.acquire(50, { maxWaitMs: 1_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).retryAfterMs).toBe(5_000);
    expect(limiter.tryAcquire(50)).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: 5_000 });
  });
});

describe('LlmLimiter: reconciliation', () => {
  it('refunds what was not used, debits what was used beyond the reservation, keeps it without usage', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 1_000, inputTokensPerMinute: 1_000, outputTokensPerMinute: 1_000, clock });
    const a = limiter.tryAcquire({ inputTokens: 100, maxOutputTokens: 400 }) as LlmPermit;
    expect(limiter.remaining('tokens')).toBe(500);
    a.release({ ok: true, usage: { inputTokens: 90, outputTokens: 50 } });
    expect([limiter.remaining('tokens'), limiter.remaining('input-tokens'), limiter.remaining('output-tokens')]).toEqual([860, 910, 950]);
    a.release({ ok: true, usage: { inputTokens: 0, outputTokens: 0 } }); // a second release counts for nothing
    expect(limiter.remaining('tokens')).toBe(860);

    const b = limiter.tryAcquire({ inputTokens: 100, maxOutputTokens: 100 }) as LlmPermit;
    b.release({ ok: true, usage: { inputTokens: 150, outputTokens: 120 } }); // an estimate that came out low
    expect(limiter.remaining('tokens')).toBe(590);

    const c = limiter.tryAcquire({ inputTokens: 100, maxOutputTokens: 100 }) as LlmPermit;
    c.release({ ok: false }); // the stream was cut off: the provider charged the reservation
    expect(limiter.remaining('tokens')).toBe(390);

    const d = limiter.tryAcquire({ inputTokens: 40, maxOutputTokens: 60 }) as LlmPermit;
    d.release({ ok: true, usage: { totalTokens: 30 } });
    expect(limiter.remaining('tokens')).toBe(360);
    d.release();
  });

  it('refunds everything, the request included, when the call never ran', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ requestsPerMinute: 10, tokensPerMinute: 1_000, clock });
    const permit = limiter.tryAcquire({ inputTokens: 300, maxOutputTokens: 200 }) as LlmPermit;
    permit.release(NOT_RUN);
    expect([limiter.remaining('requests'), limiter.remaining('tokens')]).toEqual([10, 1_000]);
  });

  it('a refund serves the waiters it makes room for', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 1_000, clock });
    const first = limiter.tryAcquire({ inputTokens: 200, maxOutputTokens: 800 }) as LlmPermit;
    const next = settle(limiter.acquire({ inputTokens: 500 }));
    await clock.advance(0);
    expect(next.done).toBe(false);
    first.release({ ok: true, usage: { inputTokens: 200, outputTokens: 100 } });
    await clock.advance(0);
    expect(next.done && next.value?.granted).toBe(true);
    expect(limiter.remaining('tokens')).toBe(200);
  });
});

describe('LlmLimiter: pause', () => {
  it('pauses intake: waiters keep their place, events fire once each way, no timer left after close', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 10_000, clock });
    const events: string[] = [];
    limiter.onPause((event) => events.push(`pause ${event.durationMs}`));
    limiter.onResume(() => events.push(`resume ${clock.now()}`));
    limiter.pause(5_000);
    limiter.pause(2_000); // inside the pause already: nothing changes
    expect(limiter.isPaused).toBe(true);
    expect(limiter.tryAcquire(10)).toMatchObject({ granted: false, retryAfterMs: 5_000 });
    const waiting = settle(limiter.acquire(10));
    await clock.advance(4_999);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.done && waiting.value?.granted).toBe(true);
    expect(events).toEqual(['pause 5000', 'resume 5000']);
    limiter.pause(1_000);
    limiter.close();
    expect(clock.pendingTimers).toBe(0);
    expect(() => limiter.pause(-1)).toThrow(InvalidArgumentError);
  });
});

describe('LlmLimiter: observe', () => {
  it('lowers local buckets to what OpenAI headers say is left, minding headroom', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ requestsPerMinute: 100, tokensPerMinute: 10_000, headroom: 0.1, clock });
    const headers = new Headers({
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-requests': '95',
      'x-ratelimit-remaining-tokens': '4000',
      'x-ratelimit-reset-requests': '3s',
      'x-ratelimit-reset-tokens': '36s',
    });
    const seen = limiter.observe(new Response('{}', { status: 200, headers }));
    expect(seen.snapshot.provider).toBe('openai');
    expect(seen.triage).toEqual({ action: 'ok' });
    // 4,000 left of 10,000 is 3,000 left of the 9,000 we plan with; 95 of 100 requests is 85 of 90
    expect(seen.corrected).toEqual(['requests', 'tokens']);
    expect(limiter.remaining('tokens')).toBe(3_000);
    expect(limiter.remaining('requests')).toBe(85);
    // a provider view with more left than ours never raises it
    limiter.observe(headers);
    expect(limiter.remaining('tokens')).toBe(3_000);
    headers.set('x-ratelimit-remaining-tokens', '9000');
    expect(limiter.observe(headers).corrected).toEqual([]);
  });

  it('reads Anthropic headers with rounded token counts without pulling the bucket down by the rounding', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ inputTokensPerMinute: 40_000, outputTokensPerMinute: 8_000, clock });
    limiter.tryAcquire({ inputTokens: 5_300, maxOutputTokens: 0 });
    const date = 'Tue, 24 Nov 2026 10:00:00 GMT';
    limiter.observe({
      status: 200,
      headers: {
        date,
        'anthropic-ratelimit-input-tokens-limit': '40000',
        'anthropic-ratelimit-input-tokens-remaining': '35000', // 34,700 really, rounded
        'anthropic-ratelimit-input-tokens-reset': '2026-11-24T10:00:08Z',
        'anthropic-ratelimit-output-tokens-limit': '8000',
        'anthropic-ratelimit-output-tokens-remaining': '5000',
        'anthropic-ratelimit-output-tokens-reset': '2026-11-24T10:00:23Z',
      },
    });
    expect(limiter.remaining('input-tokens')).toBe(34_700);
    expect(limiter.remaining('output-tokens')).toBe(5_500);
  });

  it('pauses intake on a retryable 429 until the hinted time, and not on a quota that will not come back', async () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ tokensPerMinute: 100_000, clock });
    const pauses: number[] = [];
    limiter.onPause((event) => pauses.push(event.durationMs));
    const body = {
      error: {
        message: 'Rate limit reached for gpt-4o on tokens per min (TPM): Limit 100000, Used 99000, Requested 5000. Please try again in 3s.',
        type: 'tokens',
        code: 'rate_limit_exceeded',
      },
    };
    const seen = limiter.observe({ status: 429, headers: { 'retry-after-ms': '2500' } }, body);
    expect(seen.triage).toMatchObject({ action: 'retry-after', reason: 'rate-limited', retryAfterMs: 2_500 });
    expect(limiter.isPaused).toBe(true);
    expect(pauses).toEqual([2_500]);
    const waiting = settle(limiter.acquire(10));
    await clock.advance(2_499);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.done).toBe(true);

    const quota = limiter.observe(
      { status: 429, headers: {} },
      { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', code: 'insufficient_quota' } },
    );
    expect(quota.triage).toMatchObject({ action: 'never', reason: 'insufficient-quota' });
    expect(limiter.isPaused).toBe(false);
    const broken = limiter.observe({ status: 200, headers: { 'x-ratelimit-remaining-tokens': 'lots', 'x-ratelimit-reset-tokens': '1m?' } });
    expect(broken.corrected).toEqual([]);
    limiter.close();
  });
});

describe('LlmLimiter: capacity and wait estimates', () => {
  it('reports per-dimension capacity and the wait a request would face', () => {
    const clock = new VirtualClock();
    const limiter = new LlmLimiter({ requestsPerMinute: 60, tokensPerMinute: 6_000, headroom: 0.5, clock });
    expect([limiter.capacityOf('requests'), limiter.capacityOf('tokens'), limiter.capacityOf('tokens-per-day')]).toEqual([
      30,
      3_000,
      Infinity,
    ]);
    expect(limiter.waitEstimateMs({ inputTokens: 1_000 })).toBe(0);
    limiter.tryAcquire({ inputTokens: 3_000 });
    expect(limiter.waitEstimateMs({ inputTokens: 500 })).toBe(10_000); // 50 tokens/s
    limiter.pause(20_000);
    expect(limiter.waitEstimateMs({ inputTokens: 1 })).toBe(20_000);
    expect(() => limiter.waitEstimateMs({ inputTokens: 4_000 })).toThrow(/shrink/);
    expect(() => limiter.capacityOf('nope' as never)).toThrow(InvalidArgumentError);
    limiter.close();
  });
});
