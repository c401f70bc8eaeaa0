import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_AFTER_MS, classify } from '../src/classify.js';
import type { Dimension, TimeReference, Triage } from '../src/types.js';

const WALL = Date.UTC(2024, 5, 1, 12, 0, 0);
const DATE_HEADER = 'Sat, 01 Jun 2024 12:00:00 GMT';
const ref: TimeReference = { now: 10_000, wallNow: WALL };

// Bodies as the providers send them (facts A2, A4, A6).
const openAiRateLimit = (message: string, type = 'tokens') => ({
  error: { message, type, param: null, code: 'rate_limit_exceeded' },
});
const OPENAI_TPM =
  'Rate limit reached for o4-mini in organization org-AbC123 on tokens per min (TPM): Limit 200000, Used 162960, Requested 42288. Please try again in 1.574s. Visit https://platform.openai.com/account/rate-limits to learn more.';
const OPENAI_TOO_LARGE =
  'Request too large for gpt-4o in organization org-AbC123 on tokens per min (TPM): Limit 30000, Requested 31538. The input or output tokens must be reduced in order to run successfully. Visit https://platform.openai.com/account/rate-limits to learn more.';
const openAiQuota = {
  error: {
    message:
      'You exceeded your current quota, please check your plan and billing details. For more information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.',
    type: 'insufficient_quota',
    param: null,
    code: 'insufficient_quota',
  },
};
const anthropicError = (type: string, message: string, extra: Record<string, unknown> = {}) => ({
  type: 'error',
  error: { type, message, ...extra },
  request_id: 'req_011CSHoEeqs5C35K2UUqR7Fy',
});
const geminiExhausted = (quotaId: string, retryDelay: string) => ({
  error: {
    code: 429,
    message: 'You exceeded your current quota, please check your plan and billing details.',
    status: 'RESOURCE_EXHAUSTED',
    details: [
      {
        '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
        violations: [
          {
            quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests',
            quotaId,
            quotaDimensions: { location: 'global', model: 'gemini-2.5-pro' },
            quotaValue: '5',
          },
        ],
      },
      {
        '@type': 'type.googleapis.com/google.rpc.Help',
        links: [{ description: 'Learn more', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }],
      },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
    ],
  },
});

/** The expected `retry-after` triage. */
function retryAfter(
  reason: 'rate-limited' | 'overloaded' | 'server-error',
  retryAfterMs: number,
  hinted: boolean,
  dimension?: Dimension,
): Triage {
  return { action: 'retry-after', reason, retryAfterMs, hinted, dimension };
}

describe('success', () => {
  it.each([200, 201, 204, 301, 304, 399])('%d → ok', (status) => {
    expect(classify(status, { 'x-should-retry': 'true' }, openAiQuota, ref)).toEqual({ action: 'ok' });
  });

  it('triages an Anthropic error event that arrived inside a 200 stream', () => {
    expect(classify(200, {}, anthropicError('overloaded_error', 'Overloaded'), ref)).toEqual(
      retryAfter('overloaded', DEFAULT_RETRY_AFTER_MS, false),
    );
    expect(
      classify(
        200,
        { 'retry-after': '3' },
        anthropicError('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'),
        ref,
      ),
    ).toEqual(retryAfter('rate-limited', 3_000, true));
    expect(classify(200, {}, anthropicError('api_error', 'Internal server error'), ref)).toMatchObject({
      action: 'retry-after',
      reason: 'server-error',
    });
    expect(classify(200, {}, anthropicError('invalid_request_error', 'bad'), ref)).toEqual({
      action: 'never',
      reason: 'client-error',
      message: 'bad',
    });
    // An ordinary Anthropic message is not an error.
    expect(classify(200, {}, { type: 'message', content: [], usage: { input_tokens: 1, output_tokens: 1 } }, ref)).toEqual({
      action: 'ok',
    });
  });
});

describe('OpenAI 429s', () => {
  it('rate_limit_exceeded on tokens: the message wait, dimension tokens', () => {
    expect(classify(429, {}, openAiRateLimit(OPENAI_TPM), ref)).toEqual(retryAfter('rate-limited', 1_574, true, 'tokens'));
  });

  it.each([
    ['Please try again in 20ms.', 20],
    ['Please try again in 6m0s. Visit https://platform.openai.com/account/rate-limits to learn more.', 360_000],
    ['Please try again in 1m1.5s.', 61_500],
    ['Please try again in 30 seconds.', 30_000],
    ['Please Try Again In 2s', 2_000],
  ])('reads "%s" as %d ms', (tail, expected) => {
    const message = `Rate limit reached for gpt-4o in organization org-AbC123 on requests per min (RPM): Limit 500, Used 500, Requested 1. ${tail}`;
    expect(classify(429, {}, openAiRateLimit(message, 'requests'), ref)).toEqual(retryAfter('rate-limited', expected, true, 'requests'));
  });

  it('names the per-day dimension when the message says so', () => {
    const message =
      'Rate limit reached for gpt-4o in organization org-AbC123 on requests per day (RPD): Limit 10000, Used 10000, Requested 1. Please try again in 8.64s.';
    expect(classify(429, {}, openAiRateLimit(message, 'requests'), ref)).toEqual(
      retryAfter('rate-limited', 8_640, true, 'requests-per-day'),
    );
    const tpd = 'Rate limit reached for gpt-4o on tokens per day (TPD): Limit 90000, Used 89000, Requested 2000.';
    expect(classify(429, {}, openAiRateLimit(tpd, 'tokens'), ref)).toMatchObject({ dimension: 'tokens-per-day' });
  });

  it('prefers retry-after-ms over retry-after over the message', () => {
    const body = openAiRateLimit(OPENAI_TPM);
    expect(classify(429, { 'retry-after-ms': '1200', 'retry-after': '2' }, body, ref)).toMatchObject({ retryAfterMs: 1_200, hinted: true });
    expect(classify(429, { 'retry-after': '2' }, body, ref)).toMatchObject({ retryAfterMs: 2_000, hinted: true });
    expect(
      classify(429, new Headers({ 'retry-after': DATE_HEADER.replace('12:00:00', '12:00:05'), date: DATE_HEADER }), body, ref),
    ).toMatchObject({ retryAfterMs: 5_000 });
  });

  it('falls back to the reset header of the named dimension', () => {
    const headers = {
      'x-ratelimit-limit-requests': '5000',
      'x-ratelimit-remaining-requests': '4999',
      'x-ratelimit-reset-requests': '12ms',
      'x-ratelimit-limit-tokens': '30000',
      'x-ratelimit-remaining-tokens': '12000',
      'x-ratelimit-reset-tokens': '36s',
    };
    const body = openAiRateLimit('Rate limit reached for gpt-4o on tokens per min (TPM): Limit 30000, Used 18000, Requested 20000.');
    expect(classify(429, headers, body, ref)).toEqual(retryAfter('rate-limited', 36_000, true, 'tokens'));
  });

  it('insufficient_quota → never', () => {
    expect(classify(429, {}, openAiQuota, ref)).toEqual({
      action: 'never',
      reason: 'insufficient-quota',
      message: openAiQuota.error.message,
    });
    // Also when only the code says so, and when the body is JSON text.
    expect(classify(429, {}, JSON.stringify({ error: { message: 'quota', type: null, code: 'insufficient_quota' } }), ref)).toMatchObject({
      action: 'never',
      reason: 'insufficient-quota',
    });
  });

  it('Request too large → shrink with the limit and the request size', () => {
    expect(classify(429, { 'retry-after': '1' }, openAiRateLimit(OPENAI_TOO_LARGE), ref)).toEqual({
      action: 'shrink',
      reason: 'request-too-large',
      limit: 30_000,
      requested: 31_538,
      message: OPENAI_TOO_LARGE,
    });
  });

  it('shrink without numbers when the message gives none', () => {
    expect(classify(429, {}, openAiRateLimit('Request too large for gpt-4o. The input or output tokens must be reduced.'), ref)).toEqual({
      action: 'shrink',
      reason: 'request-too-large',
      limit: undefined,
      requested: undefined,
      message: 'Request too large for gpt-4o. The input or output tokens must be reduced.',
    });
    expect(classify(429, {}, openAiRateLimit('Request too large: Limit 1,000,000, Requested 1,200,000.'), ref)).toMatchObject({
      limit: 1_000_000,
      requested: 1_200_000,
    });
  });
});

describe('Anthropic', () => {
  it('429 rate_limit_error: retry-after seconds, dimension from the message', () => {
    const body = anthropicError(
      'rate_limit_error',
      'This request would exceed the rate limit for your organization (8c1a) of 50,000 input tokens per minute. For details, refer to: https://docs.claude.com/en/api/rate-limits.',
    );
    expect(classify(429, { 'retry-after': '7', 'request-id': 'req_1' }, body, ref)).toEqual(
      retryAfter('rate-limited', 7_000, true, 'input-tokens'),
    );
  });

  it('429 without retry-after: the reset of the exhausted dimension', () => {
    const headers = {
      date: DATE_HEADER,
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '49',
      'anthropic-ratelimit-requests-reset': '2024-06-01T12:00:01Z',
      'anthropic-ratelimit-output-tokens-limit': '8000',
      'anthropic-ratelimit-output-tokens-remaining': '0',
      'anthropic-ratelimit-output-tokens-reset': '2024-06-01T12:00:45Z',
    };
    expect(classify(429, headers, anthropicError('rate_limit_error', 'Rate limited'), ref)).toEqual(
      retryAfter('rate-limited', 45_000, true),
    );
  });

  it('429 with several exhausted dimensions waits for the last to refill', () => {
    const headers = {
      date: DATE_HEADER,
      'anthropic-ratelimit-input-tokens-remaining': '0',
      'anthropic-ratelimit-input-tokens-reset': '2024-06-01T12:00:20Z',
      'anthropic-ratelimit-output-tokens-remaining': '0',
      'anthropic-ratelimit-output-tokens-reset': '2024-06-01T12:00:45Z',
      'anthropic-ratelimit-requests-remaining': '3',
      'anthropic-ratelimit-requests-reset': '2024-06-01T12:00:50Z',
    };
    expect(classify(429, headers, anthropicError('rate_limit_error', 'Rate limited'), ref)).toMatchObject({
      retryAfterMs: 45_000,
      hinted: true,
    });
  });

  it('429 with nothing exhausted uses the dimension with the smallest share left', () => {
    const headers = {
      date: DATE_HEADER,
      'anthropic-ratelimit-requests-limit': '50',
      'anthropic-ratelimit-requests-remaining': '40',
      'anthropic-ratelimit-requests-reset': '2024-06-01T12:00:10Z',
      'anthropic-ratelimit-tokens-limit': '90000',
      'anthropic-ratelimit-tokens-remaining': '9000',
      'anthropic-ratelimit-tokens-reset': '2024-06-01T12:00:30Z',
    };
    expect(classify(429, headers, anthropicError('rate_limit_error', 'Rate limited'), ref)).toMatchObject({
      retryAfterMs: 30_000,
      hinted: true,
    });
  });

  it('429 with no hint at all: the 2,000 ms default, not hinted', () => {
    expect(DEFAULT_RETRY_AFTER_MS).toBe(2_000);
    expect(classify(429, {}, anthropicError('rate_limit_error', 'Rate limited'), ref)).toEqual(retryAfter('rate-limited', 2_000, false));
    // Resets in the past say nothing about a wait.
    expect(
      classify(
        429,
        { date: DATE_HEADER, 'anthropic-ratelimit-tokens-remaining': '0', 'anthropic-ratelimit-tokens-reset': '2024-06-01T11:59:00Z' },
        undefined,
        ref,
      ),
    ).toEqual(retryAfter('rate-limited', 2_000, false));
  });

  it('429 enforced_spend_limit_reached → never / spend-limit', () => {
    const body = anthropicError('rate_limit_error', 'You have reached your specified workspace API usage limits.', {
      details: { error_code: 'enforced_spend_limit_reached' },
    });
    expect(classify(429, { 'retry-after': '60' }, body, ref)).toEqual({
      action: 'never',
      reason: 'spend-limit',
      message: body.error.message,
    });
    expect(
      classify(429, {}, anthropicError('rate_limit_error', 'Your organization has reached its monthly spend limit.'), ref),
    ).toMatchObject({
      action: 'never',
      reason: 'spend-limit',
    });
  });

  it('413 request_too_large → shrink, whatever the body', () => {
    const body = anthropicError('request_too_large', 'Request exceeds the maximum allowed number of bytes.');
    expect(classify(413, {}, body, ref)).toEqual({
      action: 'shrink',
      reason: 'request-too-large',
      limit: undefined,
      requested: undefined,
      message: body.error.message,
    });
    expect(classify(413, {}, '<html><body>413 Request Entity Too Large</body></html>', ref)).toMatchObject({ action: 'shrink' });
  });

  it('529 overloaded_error → overloaded, with or without a hint', () => {
    const body = anthropicError('overloaded_error', 'Overloaded');
    expect(classify(529, {}, body, ref)).toEqual(retryAfter('overloaded', 2_000, false));
    expect(classify(529, { 'retry-after': '15' }, body, ref)).toEqual(retryAfter('overloaded', 15_000, true));
    // The error type alone is enough.
    expect(classify(500, {}, body, ref)).toMatchObject({ reason: 'overloaded' });
  });
});

describe('Gemini RESOURCE_EXHAUSTED', () => {
  it('a per-day quotaId → never / daily-quota', () => {
    const body = geminiExhausted('GenerateRequestsPerDayPerProjectPerModel-FreeTier', '37s');
    expect(classify(429, {}, body, ref)).toEqual({ action: 'never', reason: 'daily-quota', message: body.error.message });
  });

  it('a per-minute quotaId → retry after RetryInfo.retryDelay', () => {
    const body = geminiExhausted('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '37s');
    expect(classify(429, {}, body, ref)).toEqual(retryAfter('rate-limited', 37_000, true, 'requests'));
    const tokens = geminiExhausted('GenerateContentInputTokensPerModelPerMinute-FreeTier', '1.5s');
    expect(classify(429, {}, tokens, ref)).toEqual(retryAfter('rate-limited', 1_500, true, 'input-tokens'));
  });

  it('reads the body as JSON text and inside a one-element array (streaming endpoint)', () => {
    const body = geminiExhausted('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '12s');
    expect(classify(429, {}, JSON.stringify(body), ref)).toMatchObject({ retryAfterMs: 12_000, hinted: true });
    expect(classify(429, {}, [body], ref)).toMatchObject({ retryAfterMs: 12_000, hinted: true });
    expect(classify(429, {}, JSON.stringify([geminiExhausted('GenerateRequestsPerDayPerProjectPerModel', '1s')]), ref)).toMatchObject({
      reason: 'daily-quota',
    });
  });

  it('a retry-after header wins over retryDelay; a malformed retryDelay is no hint', () => {
    const body = geminiExhausted('GenerateRequestsPerMinutePerProjectPerModel-FreeTier', '37s');
    expect(classify(429, { 'retry-after': '4' }, body, ref)).toMatchObject({ retryAfterMs: 4_000 });
    expect(classify(429, {}, geminiExhausted('GenerateRequestsPerMinutePerProjectPerModel', 'soon'), ref)).toMatchObject({
      retryAfterMs: 2_000,
      hinted: false,
    });
  });

  it('503 UNAVAILABLE → overloaded', () => {
    expect(
      classify(503, {}, { error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } }, ref),
    ).toEqual(retryAfter('overloaded', 2_000, false));
  });
});

describe('statuses', () => {
  it.each([500, 502, 504, 520, 599])('%d → server-error', (status) => {
    expect(classify(status, {}, { error: { message: 'The server had an error', type: 'server_error' } }, ref)).toEqual(
      retryAfter('server-error', 2_000, false),
    );
  });

  it.each([408, 409])('%d → server-error (retried like the SDKs do)', (status) => {
    expect(classify(status, { 'retry-after-ms': '500' }, undefined, ref)).toEqual(retryAfter('server-error', 500, true));
  });

  it('503 → overloaded with its hint', () => {
    expect(classify(503, { 'retry-after': '10' }, undefined, ref)).toEqual(retryAfter('overloaded', 10_000, true));
  });

  it.each([
    [400, anthropicError('invalid_request_error', 'max_tokens: Field required')],
    [
      401,
      { error: { message: 'Incorrect API key provided: sk-xxx.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } },
    ],
    [403, anthropicError('permission_error', 'Your API key does not have permission to use the specified resource.')],
    [404, anthropicError('not_found_error', 'model: claude-x')],
    [422, { error: { message: 'Unprocessable' } }],
  ])('%d → never / client-error with the message', (status, body) => {
    expect(classify(status, {}, body, ref)).toEqual({
      action: 'never',
      reason: 'client-error',
      message: (body as { error: { message: string } }).error.message,
    });
  });

  it('a non-numeric or missing status is a server error (no response)', () => {
    expect(classify(Number.NaN, undefined, undefined, ref)).toMatchObject({ action: 'retry-after', reason: 'server-error' });
    expect(classify(0)).toMatchObject({ action: 'retry-after', reason: 'server-error', hinted: false });
  });
});

describe('x-should-retry', () => {
  it('false turns any retry into never / should-not-retry', () => {
    expect(classify(429, { 'x-should-retry': 'false', 'retry-after': '1' }, openAiRateLimit(OPENAI_TPM), ref)).toEqual({
      action: 'never',
      reason: 'should-not-retry',
      message: OPENAI_TPM,
    });
    expect(classify(500, { 'X-Should-Retry': 'FALSE' }, undefined, ref)).toEqual({
      action: 'never',
      reason: 'should-not-retry',
      message: undefined,
    });
    expect(classify(529, new Headers({ 'x-should-retry': 'false' }), anthropicError('overloaded_error', 'Overloaded'), ref)).toMatchObject({
      reason: 'should-not-retry',
    });
  });

  it('false keeps a more specific never reason and a shrink', () => {
    expect(classify(429, { 'x-should-retry': 'false' }, openAiQuota, ref)).toMatchObject({ action: 'never', reason: 'insufficient-quota' });
    expect(classify(429, { 'x-should-retry': 'false' }, openAiRateLimit(OPENAI_TOO_LARGE), ref)).toMatchObject({ action: 'shrink' });
  });

  it('true turns a never into a retry', () => {
    expect(classify(400, { 'x-should-retry': 'true' }, anthropicError('invalid_request_error', 'bad'), ref)).toEqual(
      retryAfter('server-error', 2_000, false),
    );
    expect(classify(404, { 'x-should-retry': 'true', 'retry-after': '3' }, undefined, ref)).toEqual(
      retryAfter('server-error', 3_000, true),
    );
    expect(classify(429, { 'x-should-retry': 'true' }, openAiQuota, ref)).toEqual(retryAfter('rate-limited', 2_000, false));
  });

  it('true leaves a shrink alone, and unknown values change nothing', () => {
    expect(classify(413, { 'x-should-retry': 'true' }, undefined, ref)).toMatchObject({ action: 'shrink' });
    expect(classify(400, { 'x-should-retry': 'maybe' }, undefined, ref)).toMatchObject({ action: 'never', reason: 'client-error' });
    expect(classify(500, { 'x-should-retry': '1' }, undefined, ref)).toMatchObject({ action: 'retry-after' });
  });
});

describe('weird bodies', () => {
  it.each<[string, unknown]>([
    ['undefined', undefined],
    ['null', null],
    ['an empty array', []],
    ['an array of null', [null]],
    ['a number', 42],
    ['a boolean', true],
    ['an empty object', {}],
    ['error: null', { error: null }],
    ['error: a number', { error: 7 }],
    ['error with odd types', { error: { message: 5, type: ['x'], code: { a: 1 }, details: 'none' } }],
    [
      'details with junk entries',
      { error: { details: [null, 1, 'x', { violations: 'no' }, { violations: [null, { quotaId: 3 }] }, { retryDelay: {} }] } },
    ],
    ['broken JSON text', '{"error": {"message": "unterminated'],
    ['empty text', ''],
    ['deep nesting', JSON.parse(`${'['.repeat(500)}${']'.repeat(500)}`) as unknown],
  ])('429 with %s → rate-limited default', (_, body) => {
    expect(classify(429, {}, body, ref)).toEqual(retryAfter('rate-limited', 2_000, false));
  });

  it('keeps non-JSON text as the message', () => {
    expect(classify(400, {}, 'Bad Request: malformed JSON', ref)).toEqual({
      action: 'never',
      reason: 'client-error',
      message: 'Bad Request: malformed JSON',
    });
    expect(classify(429, {}, 'Request too large. Limit 100, Requested 200', ref)).toMatchObject({
      action: 'shrink',
      limit: 100,
      requested: 200,
    });
    expect(classify(400, {}, { error: 'plain string error' }, ref)).toMatchObject({ message: 'plain string error' });
  });

  it('survives a body whose getters throw', () => {
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('boom');
        },
        has() {
          throw new Error('boom');
        },
      },
    );
    expect(classify(429, {}, hostile, ref)).toEqual(retryAfter('rate-limited', 2_000, false));
    expect(classify(400, {}, hostile, ref)).toEqual({ action: 'never', reason: 'client-error', message: undefined });
    expect(classify(413, {}, hostile, ref)).toMatchObject({ action: 'shrink' });
    expect(classify(200, {}, hostile, ref)).toEqual({ action: 'ok' });
  });

  it('never throws and always returns a well-formed triage (fast-check)', () => {
    const status = fc.oneof(fc.integer({ min: 100, max: 599 }), fc.constantFrom(429, 529, 413, 503), fc.double());
    const body = fc.oneof(
      fc.anything(),
      fc.json(),
      fc.string(),
      fc.constant(geminiExhausted('x', 'y')),
      fc.constant(openAiRateLimit(OPENAI_TPM)),
    );
    const headers = fc.dictionary(
      fc.constantFrom(
        'retry-after',
        'retry-after-ms',
        'x-should-retry',
        'date',
        'x-ratelimit-reset-tokens',
        'anthropic-ratelimit-tokens-reset',
      ),
      fc.string(),
    );
    fc.assert(
      fc.property(status, headers, body, (s, h, b) => {
        const triage = classify(s, h, b, ref);
        expect(['ok', 'retry-after', 'never', 'shrink']).toContain(triage.action);
        if (triage.action === 'retry-after') {
          expect(Number.isFinite(triage.retryAfterMs)).toBe(true);
          expect(triage.retryAfterMs).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
