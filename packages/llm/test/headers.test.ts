import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { detectProvider, parseRateLimitHeaders, readHeaders, wallClockFromDateHeader } from '../src/headers.js';
import type { HeadersLike, LimitObservation, Provider, TimeReference } from '../src/types.js';

const WALL = Date.UTC(2024, 5, 1, 12, 0, 0); // 2024-06-01T12:00:00Z, a Saturday
const DATE_HEADER = 'Sat, 01 Jun 2024 12:00:00 GMT';
/** Monotonic now 1,000 ms; the local wall clock agrees with the server's Date header. */
const ref: TimeReference = { now: 1_000, wallNow: WALL };

function observation(partial: Partial<LimitObservation> & Pick<LimitObservation, 'dimension'>): LimitObservation {
  return { limit: undefined, remaining: undefined, resetAt: undefined, rounded: false, ...partial };
}

describe('OpenAI headers', () => {
  it('reads the documented sample (60 / 150000 / 59 / 149984 / 1s / 6m0s)', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': '60',
        'x-ratelimit-limit-tokens': '150000',
        'x-ratelimit-remaining-requests': '59',
        'x-ratelimit-remaining-tokens': '149984',
        'x-ratelimit-reset-requests': '1s',
        'x-ratelimit-reset-tokens': '6m0s',
      },
      ref,
    );
    expect(snapshot).toEqual({
      provider: 'openai',
      observations: [
        observation({ dimension: 'requests', limit: 60, remaining: 59, resetAt: 1_000 + 1_000 }),
        observation({ dimension: 'tokens', limit: 150_000, remaining: 149_984, resetAt: 1_000 + 360_000 }),
      ],
      retryAfterMs: undefined,
    });
  });

  it('reads the community-thread response (5000/4999/12ms, 160000/159976/9ms) and ignores tokens_usage_based', () => {
    const headers = new Headers({
      date: DATE_HEADER,
      'content-type': 'application/json',
      'openai-organization': 'org-example',
      'openai-processing-ms': '412',
      'openai-version': '2020-10-01',
      'x-ratelimit-limit-requests': '5000',
      'x-ratelimit-limit-tokens': '160000',
      'x-ratelimit-remaining-requests': '4999',
      'x-ratelimit-remaining-tokens': '159976',
      'x-ratelimit-reset-requests': '12ms',
      'x-ratelimit-reset-tokens': '9ms',
      'x-ratelimit-limit-tokens_usage_based': '160000',
      'x-ratelimit-remaining-tokens_usage_based': '159976',
      'x-ratelimit-reset-tokens_usage_based': '9ms',
      'x-request-id': 'req_0123456789abcdef',
    });
    const snapshot = parseRateLimitHeaders(headers, ref);
    expect(snapshot.provider).toBe('openai');
    expect(snapshot.observations).toEqual([
      observation({ dimension: 'requests', limit: 5_000, remaining: 4_999, resetAt: 1_012 }),
      observation({ dimension: 'tokens', limit: 160_000, remaining: 159_976, resetAt: 1_009 }),
    ]);
    // The facts' derivation: one request refills in 60 s / 5000 = 12 ms, 24 tokens in 9 ms.
    expect(60_000 / 5_000).toBe(12);
    expect((24 * 60_000) / 160_000).toBe(9);
  });

  it('reads the per-day response (10000 / 8030 / 4h43m36.314s)', () => {
    const snapshot = parseRateLimitHeaders(
      [
        ['x-ratelimit-limit-requests', '10000'],
        ['x-ratelimit-remaining-requests', '8030'],
        ['x-ratelimit-reset-requests', '4h43m36.314s'],
        ['x-ratelimit-limit-tokens', '2000000'],
        ['x-ratelimit-remaining-tokens', '1999950'],
        ['x-ratelimit-reset-tokens', '1.5ms'],
      ],
      ref,
    );
    expect(snapshot.provider).toBe('openai');
    expect(snapshot.observations).toEqual([
      observation({ dimension: 'requests', limit: 10_000, remaining: 8_030, resetAt: 1_000 + 17_016_314 }),
      observation({ dimension: 'tokens', limit: 2_000_000, remaining: 1_999_950, resetAt: 1_001.5 }),
    ]);
  });

  it('reads a 429 with retry-after-ms (float ms) ahead of retry-after', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-tokens': '30000',
        'x-ratelimit-remaining-tokens': '0',
        'x-ratelimit-reset-tokens': '1m1.5s',
        'retry-after-ms': '1574.5',
        'retry-after': '2',
      },
      ref,
    );
    expect(snapshot.retryAfterMs).toBe(1_574.5);
    expect(snapshot.observations).toEqual([observation({ dimension: 'tokens', limit: 30_000, remaining: 0, resetAt: 62_500 })]);
  });

  it('keeps a dimension with one malformed field, and omits one with nothing usable', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests': 'sixty',
        'x-ratelimit-remaining-requests': '59',
        'x-ratelimit-reset-requests': 'soon',
        'x-ratelimit-limit-tokens': 'NaN',
        'x-ratelimit-remaining-tokens': '1e5',
        'x-ratelimit-reset-tokens': '-6m0s',
      },
      ref,
      { provider: 'openai' },
    );
    expect(snapshot.observations).toEqual([observation({ dimension: 'requests', remaining: 59 })]);
  });
});

describe('Anthropic headers', () => {
  const anthropic = {
    date: DATE_HEADER,
    'request-id': 'req_018EeWyXxfu5pfWkrYcMdjWG',
    'anthropic-ratelimit-requests-limit': '50',
    'anthropic-ratelimit-requests-remaining': '49',
    'anthropic-ratelimit-requests-reset': '2024-06-01T12:00:01Z',
    'anthropic-ratelimit-tokens-limit': '90000',
    'anthropic-ratelimit-tokens-remaining': '89000',
    'anthropic-ratelimit-tokens-reset': '2024-06-01T12:00:00.667Z',
    'anthropic-ratelimit-input-tokens-limit': '50000',
    'anthropic-ratelimit-input-tokens-remaining': '49000',
    'anthropic-ratelimit-input-tokens-reset': '2024-06-01T12:00:02Z',
    'anthropic-ratelimit-output-tokens-limit': '40000',
    'anthropic-ratelimit-output-tokens-remaining': '40000',
    'anthropic-ratelimit-output-tokens-reset': '2024-06-01T12:00:00Z',
  };

  it('reads all four dimensions, RFC 3339 resets against the Date header, and flags rounded tokens', () => {
    // The local wall clock runs 5 s fast; the Date header wins, so resets are measured on the
    // server's clock.
    const snapshot = parseRateLimitHeaders(anthropic, { now: 1_000, wallNow: WALL + 5_000 });
    expect(snapshot).toEqual({
      provider: 'anthropic',
      observations: [
        observation({ dimension: 'requests', limit: 50, remaining: 49, resetAt: 2_000, rounded: false }),
        observation({ dimension: 'tokens', limit: 90_000, remaining: 89_000, resetAt: 1_667, rounded: true }),
        observation({ dimension: 'input-tokens', limit: 50_000, remaining: 49_000, resetAt: 3_000, rounded: true }),
        observation({ dimension: 'output-tokens', limit: 40_000, remaining: 40_000, resetAt: 1_000, rounded: true }),
      ],
      retryAfterMs: undefined,
    });
  });

  it('falls back to ref.wallNow without a Date header', () => {
    const { date: _, ...withoutDate } = anthropic;
    const snapshot = parseRateLimitHeaders(withoutDate, { now: 1_000, wallNow: WALL - 1_000 });
    expect(snapshot.observations[0]).toEqual(observation({ dimension: 'requests', limit: 50, remaining: 49, resetAt: 3_000 }));
  });

  it('reads a 429 retry-after in seconds, and ignores x-ratelimit-* headers in Anthropic mode', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'retry-after': '7',
        'anthropic-ratelimit-input-tokens-limit': '50000',
        'anthropic-ratelimit-input-tokens-remaining': '0',
        'anthropic-ratelimit-input-tokens-reset': '2024-06-01T12:00:45Z',
        'anthropic-ratelimit-unknown-limit': '5',
        'anthropic-priority-input-tokens-limit': '10',
        'x-ratelimit-limit-requests': '1',
      },
      ref,
    );
    expect(snapshot).toEqual({
      provider: 'anthropic',
      observations: [observation({ dimension: 'input-tokens', limit: 50_000, remaining: 0, resetAt: 46_000, rounded: true })],
      retryAfterMs: 7_000,
    });
  });
});

describe('Azure OpenAI headers', () => {
  it('treats -1 sentinels as unknown and drops the placeholder reset-tokens: 0', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'apim-request-id': '9f3e7a52-0000-0000-0000-000000000000',
        'azureml-model-session': 'd001-20250101',
        'x-ms-region': 'Sweden Central',
        'x-ratelimit-limit-tokens': '-1',
        'x-ratelimit-remaining-tokens': '-1',
        'x-ratelimit-reset-tokens': '0',
        'x-ratelimit-limit-requests': '-1',
        'x-ratelimit-remaining-requests': '299',
      },
      ref,
    );
    expect(snapshot).toEqual({
      provider: 'azure',
      observations: [observation({ dimension: 'requests', remaining: 299 })],
      retryAfterMs: undefined,
    });
  });

  it('detects Azure from the sentinels alone, and skips a negative retry-after-ms for retry-after', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-tokens': '-1',
        'x-ratelimit-remaining-tokens': '-1',
        'x-ratelimit-reset-tokens': '0',
        'retry-after-ms': '-1',
        'retry-after': '5',
      },
      ref,
    );
    expect(snapshot).toEqual({ provider: 'azure', observations: [], retryAfterMs: 5_000 });
  });

  it('keeps a zero reset when the counts are known (the bucket really is full)', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ms-region': 'East US',
        'x-ratelimit-remaining-tokens': '80000',
        'x-ratelimit-limit-tokens': '80000',
        'x-ratelimit-reset-tokens': '0',
      },
      ref,
    );
    expect(snapshot.observations).toEqual([observation({ dimension: 'tokens', limit: 80_000, remaining: 80_000, resetAt: 1_000 })]);
  });
});

describe('generic OpenAI-compatible headers', () => {
  it('reads Cerebras-style per-window names into per-minute and per-day dimensions (seconds resets)', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests-day': '14400',
        'x-ratelimit-limit-tokens-minute': '60000',
        'x-ratelimit-remaining-requests-day': '14399',
        'x-ratelimit-remaining-tokens-minute': '59000',
        'x-ratelimit-reset-requests-day': '33011.382867',
        'x-ratelimit-reset-tokens-minute': '11.382867',
      },
      ref,
    );
    expect(snapshot.provider).toBe('generic');
    expect(snapshot.observations).toHaveLength(2);
    expect(snapshot.observations[0]).toMatchObject({ dimension: 'tokens', limit: 60_000, remaining: 59_000, rounded: false });
    expect(snapshot.observations[0]?.resetAt).toBeCloseTo(1_000 + 11_382.867, 6);
    expect(snapshot.observations[1]).toMatchObject({ dimension: 'requests-per-day', limit: 14_400, remaining: 14_399 });
    expect(snapshot.observations[1]?.resetAt).toBeCloseTo(1_000 + 33_011_382.867, 6);
  });

  it('maps -minute names to the plain dimensions and -day tokens to tokens-per-day', () => {
    const snapshot = parseRateLimitHeaders(
      {
        'x-ratelimit-limit-requests-minute': '30',
        'x-ratelimit-remaining-requests-minute': '29',
        'x-ratelimit-limit-tokens-day': '1000000',
        'x-ratelimit-remaining-tokens-day': '999000',
      },
      ref,
    );
    expect(snapshot.observations.map((o) => [o.dimension, o.limit, o.remaining])).toEqual([
      ['requests', 30, 29],
      ['tokens-per-day', 1_000_000, 999_000],
    ]);
  });

  it.each([
    ['epoch seconds', String(WALL / 1_000 + 30), 31_000],
    ['epoch ms', String(WALL + 2_500), 3_500],
    ['RFC 3339', '2024-06-01T12:00:10Z', 11_000],
    ['plain seconds', '20', 21_000],
    ['fractional seconds', '0.5', 1_500],
  ])('reads %s resets', (_, reset, expected) => {
    const snapshot = parseRateLimitHeaders(
      { 'x-ratelimit-limit-requests': '100', 'x-ratelimit-remaining-requests': '0', 'x-ratelimit-reset-requests': reset },
      ref,
    );
    expect(snapshot.provider).toBe('generic');
    expect(snapshot.observations).toEqual([observation({ dimension: 'requests', limit: 100, remaining: 0, resetAt: expected })]);
  });

  it('reads unsuffixed x-ratelimit-{limit,remaining,reset} (OpenRouter style) as requests', () => {
    const snapshot = parseRateLimitHeaders(
      { 'X-RateLimit-Limit': '20', 'X-RateLimit-Remaining': '19', 'X-RateLimit-Reset': String(WALL + 60_000) },
      ref,
    );
    expect(snapshot).toEqual({
      provider: 'generic',
      observations: [observation({ dimension: 'requests', limit: 20, remaining: 19, resetAt: 61_000 })],
      retryAfterMs: undefined,
    });
  });

  it('prefers a suffixed requests header over the unsuffixed one, field by field', () => {
    const snapshot = parseRateLimitHeaders(
      { 'x-ratelimit-limit': '20', 'x-ratelimit-remaining': '19', 'x-ratelimit-remaining-requests': '5' },
      ref,
    );
    expect(snapshot.observations).toEqual([observation({ dimension: 'requests', limit: 20, remaining: 5 })]);
  });

  it('uses the provider it is told, e.g. Anthropic rounding flags', () => {
    const snapshot = parseRateLimitHeaders({ 'anthropic-ratelimit-tokens-remaining': '1000' }, ref, { provider: 'anthropic' });
    expect(snapshot.observations[0]?.rounded).toBe(true);
    const asOpenAi = parseRateLimitHeaders({ 'x-ratelimit-remaining-tokens': '1000', 'x-ratelimit-reset-tokens': '20' }, ref, {
      provider: 'openai',
    });
    expect(asOpenAi).toEqual({
      provider: 'openai',
      observations: [observation({ dimension: 'tokens', remaining: 1_000, resetAt: 21_000 })],
      retryAfterMs: undefined,
    });
  });
});

describe('retry-after', () => {
  it.each([
    [{ 'retry-after-ms': '250' }, 250],
    [{ 'retry-after-ms': '0' }, 0],
    [{ 'retry-after-ms': 'abc', 'retry-after': '3' }, 3_000],
    [{ 'retry-after': '20' }, 20_000],
    [{ 'retry-after': '0.5' }, 500],
    [{ 'retry-after': 'Sat, 01 Jun 2024 12:00:30 GMT', date: DATE_HEADER }, 30_000],
    [{ 'retry-after': 'Sat, 01 Jun 2024 12:00:30 GMT', date: 'Sat, 01 Jun 2024 12:00:10 GMT' }, 20_000],
    [{ 'retry-after': 'Sat, 01 Jun 2024 12:00:30 GMT' }, 30_000],
    [{ 'retry-after': 'Sat, 01 Jun 2024 11:59:00 GMT' }, 0],
    [{ 'retry-after': '-5' }, undefined],
    [{ 'retry-after': 'NaN' }, undefined],
    [{ 'retry-after': 'soon' }, undefined],
    [{ 'retry-after-ms': '-1' }, undefined],
    [{}, undefined],
  ])('%j → %s', (headers, expected) => {
    expect(parseRateLimitHeaders(headers, ref).retryAfterMs).toBe(expected);
  });

  it('measures an HTTP date against ref.wallNow when there is no Date header', () => {
    const snapshot = parseRateLimitHeaders({ 'retry-after': 'Sat, 01 Jun 2024 12:00:30 GMT' }, { now: 0, wallNow: WALL + 10_000 });
    expect(snapshot.retryAfterMs).toBe(20_000);
  });
});

describe('header shapes', () => {
  const expected = [observation({ dimension: 'requests', limit: 60, remaining: 59, resetAt: 2_000 })];

  it.each<[string, HeadersLike]>([
    [
      'Headers',
      new Headers({ 'X-RateLimit-Limit-Requests': '60', 'x-ratelimit-remaining-requests': '59', 'x-ratelimit-reset-requests': '1s' }),
    ],
    [
      'plain object, mixed case, numbers and arrays',
      {
        'X-RateLimit-Limit-Requests': 60,
        'x-ratelimit-remaining-requests': ['59', '58'],
        'X-RATELIMIT-RESET-REQUESTS': ' 1s ',
        other: undefined,
      },
    ],
    [
      'pairs',
      [
        ['x-ratelimit-limit-requests', '60'],
        ['x-ratelimit-remaining-requests', '59'],
        ['x-ratelimit-reset-requests', '1s'],
      ],
    ],
    [
      'Map',
      new Map([
        ['X-RateLimit-Limit-Requests', '60'],
        ['x-ratelimit-remaining-requests', '59'],
        ['x-ratelimit-reset-requests', '1s'],
      ]),
    ],
    [
      'iterable of pairs',
      (function* pairs(): Generator<readonly [string, string]> {
        yield ['x-ratelimit-limit-requests', '60'];
        yield ['x-ratelimit-remaining-requests', '59'];
        yield ['x-ratelimit-reset-requests', '1s'];
      })(),
    ],
  ])('%s', (_, headers) => {
    const snapshot = parseRateLimitHeaders(headers, ref);
    expect(snapshot.provider).toBe('openai');
    expect(snapshot.observations).toEqual(expected);
  });

  it('gives an empty generic snapshot for no headers at all', () => {
    for (const headers of [undefined, null, {}, [], new Headers()]) {
      expect(parseRateLimitHeaders(headers, ref)).toEqual({ provider: 'generic', observations: [], retryAfterMs: undefined });
    }
  });
});

describe('readHeaders', () => {
  it('lower-cases names, trims values, takes the first of an array, stringifies numbers', () => {
    const map = readHeaders({
      'X-RateLimit-Limit-Requests': ['60', '61'],
      'Content-Length': 42,
      Empty: [],
      Missing: undefined,
      Null: null,
      Flag: true,
      Nested: { a: 1 },
      ' Date ': ` ${DATE_HEADER} `,
    } as unknown as HeadersLike);
    expect([...map]).toEqual([
      ['x-ratelimit-limit-requests', '60'],
      ['content-length', '42'],
      ['flag', 'true'],
      ['date', DATE_HEADER],
    ]);
  });

  it('keeps the first value of a name repeated in pairs, and skips malformed pairs', () => {
    const map = readHeaders([['Retry-After', '1'], ['retry-after', '2'], ['lonely'], [3, 'x']] as unknown as HeadersLike);
    expect([...map]).toEqual([['retry-after', '1']]);
  });

  it('returns what it read before a hostile input threw', () => {
    const hostile = {
      'x-ratelimit-remaining-requests': '5',
      get 'x-ratelimit-limit-requests'(): string {
        throw new Error('boom');
      },
    };
    expect([...readHeaders(hostile)]).toEqual([['x-ratelimit-remaining-requests', '5']]);
    expect(() => parseRateLimitHeaders(hostile, ref)).not.toThrow();
  });

  it('gives an empty map for null, undefined and non-objects', () => {
    expect(readHeaders(undefined).size).toBe(0);
    expect(readHeaders(null).size).toBe(0);
    expect(readHeaders('x-ratelimit-limit: 1' as unknown as HeadersLike).size).toBe(0);
  });
});

describe('wallClockFromDateHeader', () => {
  it('reads the Date header in any shape', () => {
    expect(wallClockFromDateHeader({ Date: DATE_HEADER })).toBe(WALL);
    expect(wallClockFromDateHeader(new Headers({ date: DATE_HEADER }))).toBe(WALL);
    expect(wallClockFromDateHeader([['date', 'Thu, 01 Jan 1970 00:01:00 GMT']])).toBe(60_000);
  });

  it('is undefined when absent or malformed', () => {
    expect(wallClockFromDateHeader({})).toBeUndefined();
    expect(wallClockFromDateHeader({ date: 'yesterday' })).toBeUndefined();
    expect(wallClockFromDateHeader(undefined)).toBeUndefined();
  });
});

describe('detectProvider', () => {
  it.each<[string, Record<string, string>, string]>([
    ['Anthropic', { 'anthropic-ratelimit-requests-limit': '50', 'x-ms-region': 'x' }, 'anthropic'],
    ['OpenAI by Go-duration resets', { 'x-ratelimit-reset-requests': '1s' }, 'openai'],
    ['OpenAI by openai-* marker even with odd resets', { 'openai-organization': 'org', 'x-ratelimit-reset-requests': '20' }, 'openai'],
    ['OpenAI with counts only', { 'x-ratelimit-remaining-requests': '1' }, 'openai'],
    ['Azure by apim-request-id', { 'apim-request-id': 'x', 'x-ratelimit-remaining-tokens': '1' }, 'azure'],
    ['Azure by azureml-model-session', { 'azureml-model-session': 'x' }, 'azure'],
    ['Azure by an x-ms- header', { 'x-ms-region': 'East US', 'x-ratelimit-remaining-requests': '1' }, 'azure'],
    ['Azure by a -1 sentinel', { 'x-ratelimit-remaining-tokens': '-1' }, 'azure'],
    ['generic by window suffix', { 'x-ratelimit-remaining-tokens-minute': '1' }, 'generic'],
    ['generic by unsuffixed names', { 'x-ratelimit-limit': '1' }, 'generic'],
    ['generic by seconds resets', { 'x-ratelimit-reset-requests': '20' }, 'generic'],
    ['generic by RFC 3339 resets', { 'x-ratelimit-reset-tokens': '2024-06-01T12:00:10Z' }, 'generic'],
    ['generic when only unknown suffixes', { 'x-ratelimit-limit-tokens_usage_based': '1' }, 'generic'],
    ['generic with nothing', { 'content-type': 'application/json' }, 'generic'],
  ])('%s', (_, headers, expected) => {
    expect(detectProvider(headers)).toBe(expected);
  });
});

describe('never throws on arbitrary headers (fast-check)', () => {
  const knownNames = [
    'x-ratelimit-limit-requests',
    'x-ratelimit-remaining-tokens',
    'x-ratelimit-reset-tokens',
    'x-ratelimit-reset-requests-day',
    'x-ratelimit-limit',
    'anthropic-ratelimit-tokens-remaining',
    'anthropic-ratelimit-input-tokens-reset',
    'retry-after',
    'retry-after-ms',
    'date',
    'x-ms-region',
  ];
  const name = fc.oneof(fc.constantFrom(...knownNames), fc.string(), fc.string({ unit: 'grapheme' }));
  const value = fc.oneof(
    fc.string(),
    fc.string({ unit: 'grapheme' }),
    fc.constantFrom('-1', '0', '1s', '6m0s', 'NaN', '1e400', '2024-06-01T12:00:10Z', DATE_HEADER),
    fc.double().map(String),
  );

  it('gives finite non-negative counts and finite resets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(name, value), { maxLength: 20 }),
        fc.constantFrom<Provider | undefined>(undefined, 'openai', 'anthropic', 'azure', 'gemini', 'generic'),
        (pairs, provider) => {
          const snapshot = parseRateLimitHeaders(pairs, ref, provider === undefined ? undefined : { provider });
          for (const o of snapshot.observations) {
            expect(o.limit === undefined || (Number.isFinite(o.limit) && o.limit >= 0)).toBe(true);
            expect(o.remaining === undefined || (Number.isFinite(o.remaining) && o.remaining >= 0)).toBe(true);
            expect(o.resetAt === undefined || Number.isFinite(o.resetAt)).toBe(true);
            expect(o.limit !== undefined || o.remaining !== undefined || o.resetAt !== undefined).toBe(true);
          }
          const wait = snapshot.retryAfterMs;
          expect(wait === undefined || (Number.isFinite(wait) && wait >= 0)).toBe(true);
        },
      ),
      { numRuns: 2_000 },
    );
  });
});
