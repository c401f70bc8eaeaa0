import { describe, expect, it } from 'vitest';
import { ProviderSimulator, VirtualClock, goDuration } from '@sluice/testing';

describe('ProviderSimulator', () => {
  it('charges input + max output up front, answers after the latency with usage, and refunds the unused part', async () => {
    const clock = new VirtualClock();
    const provider = new ProviderSimulator({
      clock,
      requestsPerMinute: 60,
      tokensPerMinute: 6_000,
      latencyMs: 200,
      outputShare: () => 0.5,
    });
    const pending = provider.call({ inputTokens: 1_000, maxOutputTokens: 2_000 });
    const response = await clock.settle(pending);
    expect(clock.now()).toBe(200);
    expect(response.status).toBe(200);
    expect(response.headers).toMatchObject({
      'x-ratelimit-limit-tokens': '6000',
      'x-ratelimit-remaining-tokens': '3000',
      'x-ratelimit-remaining-requests': '59',
      'x-ratelimit-reset-tokens': '30s',
      'x-ratelimit-reset-requests': '1s',
    });
    expect(response.usage?.outputTokens).toBe(1_000);
    expect(response.usage?.inputTokens).toBeGreaterThanOrEqual(900);
    expect(response.usage?.inputTokens).toBeLessThanOrEqual(1_100);
    expect(response.body).toMatchObject({ usage: { completion_tokens: 1_000 } });
    expect(provider.stats()).toMatchObject({ requests: 1, ok: 1, rateLimited: 0 });
  });

  it('answers 429 with retry-after and the provider error body when a bucket has no room, charging the request', async () => {
    const clock = new VirtualClock();
    const provider = new ProviderSimulator({ clock, requestsPerMinute: 60, tokensPerMinute: 6_000, latencyMs: 0, refundUnused: false });
    await clock.settle(provider.call({ inputTokens: 5_000, maxOutputTokens: 0 }));
    const refused = await provider.call({ inputTokens: 2_000, maxOutputTokens: 0 });
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after-ms']).toBe('10000'); // 1,000 tokens short at 100/s
    expect(refused.headers['retry-after']).toBe('10');
    expect(refused.body).toMatchObject({ error: { code: 'rate_limit_exceeded', type: 'tokens' } });
    expect((refused.body as { error: { message: string } }).error.message).toContain('Please try again in 10s');
    expect(provider.stats()).toMatchObject({ requests: 2, ok: 1, rateLimited: 1 });
    expect(refused.headers['x-ratelimit-remaining-requests']).toBe('58');
  });

  it('speaks the Anthropic format: RFC 3339 resets and token counts rounded to thousands', async () => {
    const clock = new VirtualClock();
    const provider = new ProviderSimulator({ clock, format: 'anthropic', requestsPerMinute: 50, tokensPerMinute: 40_000, latencyMs: 0 });
    const response = await clock.settle(provider.call({ inputTokens: 1_234, maxOutputTokens: 0 }));
    expect(response.headers['anthropic-ratelimit-tokens-remaining']).toBe('39000');
    const reset = Date.parse(response.headers['anthropic-ratelimit-tokens-reset'] as string);
    const date = Date.parse(response.headers.date as string);
    expect(reset - date).toBeGreaterThan(1_000);
    expect(reset - date).toBeLessThan(3_000);
    expect(response.body).toMatchObject({ usage: { output_tokens: 0 } });
  });

  it('formats durations as Go does', () => {
    expect([goDuration(12), goDuration(1_000), goDuration(360_000), goDuration(61_500), goDuration(17_016_314), goDuration(0)]).toEqual([
      '12ms',
      '1s',
      '6m0s',
      '1m1.5s',
      '4h43m36.314s',
      '0s',
    ]);
  });

  it('rejects bad options', () => {
    const clock = new VirtualClock();
    expect(() => new ProviderSimulator({ clock, requestsPerMinute: 0, tokensPerMinute: 1 })).toThrow(/requestsPerMinute/);
    expect(() => new ProviderSimulator({ clock, requestsPerMinute: 1, tokensPerMinute: 1, format: 'gemini' as never })).toThrow(/format/);
  });
});
