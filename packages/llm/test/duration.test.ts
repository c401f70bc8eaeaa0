import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseGoDuration, parseHttpDate, parseProtoDuration, parseResetAt, parseRfc3339 } from '../src/duration.js';
import type { TimeReference } from '../src/types.js';

const WALL = Date.UTC(2024, 5, 1, 12, 0, 0); // 2024-06-01T12:00:00Z
const ref: TimeReference = { now: 5_000, wallNow: WALL };

describe('parseGoDuration', () => {
  it.each([
    // Values seen in OpenAI's x-ratelimit-reset-* headers (facts A1).
    ['12ms', 12],
    ['9ms', 9],
    ['1s', 1_000],
    ['6m0s', 360_000],
    ['1m1.5s', 61_500],
    ['4h43m36.314s', 17_016_314],
    ['1.574s', 1_574],
    ['2m59.56s', 179_560],
    // Other valid forms.
    ['0', 0],
    ['0s', 0],
    ['1h', 3_600_000],
    ['1.5h', 5_400_000],
    ['0.5m', 30_000],
    ['.5s', 500],
    ['1.s', 1_000],
    ['1.25ms', 1.25],
    ['100us', 0.1],
    ['100\u00b5s', 0.1],
    ['100\u03bcs', 0.1],
    ['1500ns', 0.0015],
    ['1h1m1s1ms1us1ns', 3_661_001.001001],
    ['1s1h', 3_601_000],
    ['  6m0s\t', 360_000],
  ])('%j → %d ms', (text, expected) => {
    expect(parseGoDuration(text)).toBe(expected);
  });

  it.each([
    '',
    '   ',
    '20',
    '1',
    '00',
    '-1s',
    '+1s',
    's',
    'ms',
    '1x',
    '1d',
    '1S',
    '1sec',
    '1 s',
    '1m s',
    '1.2.3s',
    '1e3s',
    '0x10s',
    'NaN',
    'Infinity',
    '1s,',
    '1s 2s',
    '1u',
    '1n',
    `${'9'.repeat(400)}s`,
  ])('%j → undefined', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });

  it('rejects non-string input instead of throwing', () => {
    expect(parseGoDuration(undefined as unknown as string)).toBeUndefined();
    expect(parseGoDuration(12 as unknown as string)).toBeUndefined();
  });

  it('reads long inputs in one pass', () => {
    expect(parseGoDuration('1s'.repeat(10_000))).toBe(10_000_000);
    expect(parseGoDuration(`${'1'.repeat(50_000)}`)).toBeUndefined();
    expect(parseGoDuration(`${'1.'.repeat(50_000)}s`)).toBeUndefined();
  });
});

/** Formats a whole number of ms the way Go's `Duration.String` does (`4h43m36.314s`, `12ms`, `0s`). */
function formatGoStyle(ms: number): string {
  if (ms === 0) return '0s';
  if (ms < 1_000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const millis = ms % 60_000;
  const whole = Math.floor(millis / 1_000);
  const fraction = String(millis % 1_000)
    .padStart(3, '0')
    .replace(/0+$/, '');
  const seconds = fraction.length > 0 ? `${whole}.${fraction}s` : `${whole}s`;
  if (hours > 0) return `${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${minutes}m${seconds}`;
  return seconds;
}

/** A decimal with exactly the given number of thousandths, e.g. (1500, 'x') → "1.5x". */
function thousandths(value: number, unit: string): string {
  const whole = Math.floor(value / 1_000);
  const fraction = String(value % 1_000)
    .padStart(3, '0')
    .replace(/0+$/, '');
  return fraction.length > 0 ? `${whole}.${fraction}${unit}` : `${whole}${unit}`;
}

describe('parseGoDuration round trip (fast-check)', () => {
  it('parses what Go-style formatting of a whole number of ms produces', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 99 * 3_600_000 }), (ms) => {
        expect(parseGoDuration(formatGoStyle(ms))).toBe(ms);
      }),
      { numRuns: 2_000 },
    );
  });

  it('parses any sequence of h/m/s/ms parts with fractions to their sum', () => {
    // Each part as an exact count of microseconds, so the expected sum is integer arithmetic.
    const part = fc.oneof(
      fc.record({ unit: fc.constant('h'), thousandths: fc.integer({ min: 0, max: 99_000 }) }),
      fc.record({ unit: fc.constant('m'), thousandths: fc.integer({ min: 0, max: 999_000 }) }),
      fc.record({ unit: fc.constant('s'), thousandths: fc.integer({ min: 0, max: 99_999_999 }) }),
      fc.record({ unit: fc.constant('ms'), thousandths: fc.integer({ min: 0, max: 99_999_999 }) }),
    );
    const usPerUnit: Record<string, number> = { h: 3_600_000_000, m: 60_000_000, s: 1_000_000, ms: 1_000 };
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map((p) => thousandths(p.thousandths, p.unit)).join('');
        let microseconds = 0;
        for (const p of parts) microseconds += (p.thousandths * (usPerUnit[p.unit] as number)) / 1_000;
        expect(parseGoDuration(text)).toBe(microseconds / 1_000);
      }),
      { numRuns: 2_000 },
    );
  });
});

describe('parseProtoDuration', () => {
  it.each([
    ['37s', 37_000],
    ['1.5s', 1_500],
    ['0s', 0],
    ['0.000000001s', 0.000001],
    [' 2s ', 2_000],
    [{ seconds: '2', nanos: 500_000_000 }, 2_500],
    [{ seconds: 3 }, 3_000],
    [{ nanos: 1_000_000 }, 1],
  ] as const)('%j → %d ms', (value, expected) => {
    expect(parseProtoDuration(value)).toBe(expected);
  });

  it.each([
    ['-1s'],
    ['37'],
    ['1m'],
    ['s'],
    [''],
    ['1.5 s'],
    [37],
    [null],
    [undefined],
    [[]],
    [{}],
    [{ seconds: -1 }],
    [{ seconds: 'x' }],
    [{ seconds: 1, nanos: 'y' }],
    [{ seconds: Number.POSITIVE_INFINITY }],
  ])('%j → undefined', (value) => {
    expect(parseProtoDuration(value)).toBeUndefined();
  });
});

describe('parseRfc3339', () => {
  it.each([
    ['2024-06-01T12:00:00Z', WALL],
    ['2024-06-01T12:00:30Z', WALL + 30_000],
    ['2024-06-01T12:00:00.5Z', WALL + 500],
    ['2024-06-01T12:00:00.123456789Z', WALL + 123.456789],
    ['2024-06-01t12:00:00z', WALL],
    ['2024-06-01 12:00:00Z', WALL],
    ['2024-06-01T14:00:00+02:00', WALL],
    ['2024-06-01T07:30:00-04:30', WALL],
    ['2024-02-29T00:00:00Z', Date.UTC(2024, 1, 29)],
    ['1970-01-01T00:01:00Z', 60_000],
  ])('%s → %d', (text, expected) => {
    expect(parseRfc3339(text)).toBeCloseTo(expected, 3);
  });

  it.each([
    '2024-06-01',
    '2024-06-01T12:00:00',
    '2024-06-01T12:00Z',
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-06-01T24:00:00Z',
    '2024-06-01T12:60:00Z',
    '2024-06-01T12:00:00.Z',
    '2024-06-01T12:00:00+2:00',
    '2024-06-01T12:00:00+24:00',
    '2024-06-01X12:00:00Z',
    '2024-06-01T12:00:00Z trailing',
    'Sat, 01 Jun 2024 12:00:00 GMT',
  ])('%j → undefined', (text) => {
    expect(parseRfc3339(text)).toBeUndefined();
  });
});

describe('parseHttpDate', () => {
  it.each([
    ['Sat, 01 Jun 2024 12:00:00 GMT', WALL],
    ['sat, 01 jun 2024 12:00:00 gmt', WALL],
    ['Saturday, 01-Jun-24 12:00:00 GMT', WALL],
    ['Sat Jun  1 12:00:00 2024', WALL],
    ['Thu, 01 Jan 1970 00:01:00 GMT', 60_000],
    ['Sunday, 06-Nov-94 08:49:37 GMT', Date.UTC(1994, 10, 6, 8, 49, 37)],
  ])('%s → %d', (text, expected) => {
    expect(parseHttpDate(text)).toBe(expected);
  });

  it.each([
    '',
    'soon',
    '120',
    '2024-06-01T12:00:00Z',
    'Sat, 01 Jun 2024 12:00:00',
    'Sat, 01 Jun 2024 12:00:00 PST',
    'Sat, 31 Feb 2024 12:00:00 GMT',
    'Sat, 01 Foo 2024 12:00:00 GMT',
    'Xyz, 01 Jun 2024 12:00:00 GMT',
    'Sat, 01 Jun 2024 12:00 GMT',
    `Sat, 01 Jun 2024 12:00:00 GMT${' '.repeat(100)}x`,
  ])('%j → undefined', (text) => {
    expect(parseHttpDate(text)).toBeUndefined();
  });
});

describe('parseResetAt', () => {
  it.each([
    ['Go duration', '6m0s', 5_000 + 360_000],
    ['Go duration, fractional', '1m1.5s', 5_000 + 61_500],
    ['plain seconds', '20', 25_000],
    ['fractional seconds', '0.5', 5_500],
    ['Cerebras-style seconds', '11.382867', 5_000 + 11_382.867],
    ['zero seconds', '0', 5_000],
    ['epoch seconds', String(WALL / 1_000 + 30), 35_000],
    ['epoch seconds, fractional', String(WALL / 1_000 + 1.5), 6_500],
    ['epoch ms', String(WALL + 750), 5_750],
    ['RFC 3339', '2024-06-01T12:00:30Z', 35_000],
    ['RFC 3339 with offset', '2024-06-01T14:00:30+02:00', 35_000],
    ['HTTP date', 'Sat, 01 Jun 2024 12:01:00 GMT', 65_000],
    ['absolute time in the past', '2024-06-01T11:59:59Z', 4_000],
  ])('%s (%j)', (_, text, expected) => {
    expect(parseResetAt(text, ref)).toBeCloseTo(expected, 6);
  });

  it.each(['', '-1', '-1s', '-0.5', 'soon', 'NaN', 'Infinity', '1e3', '0x10', '2024-13-01T00:00:00Z', `${'9'.repeat(400)}`])(
    '%j → undefined',
    (text) => {
      expect(parseResetAt(text, ref)).toBeUndefined();
    },
  );

  it('gives undefined rather than NaN when the reference itself is not finite', () => {
    expect(parseResetAt('1s', { now: Number.NaN, wallNow: WALL })).toBeUndefined();
    expect(parseResetAt('2024-06-01T12:00:30Z', { now: 0, wallNow: Number.POSITIVE_INFINITY })).toBeUndefined();
  });
});

describe('no parser throws on arbitrary text (fast-check)', () => {
  const texts = fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: fc.constantFrom(...'0123456789.hmsuµnT:-+Z, ') }));
  it('returns a finite non-negative number or undefined', () => {
    fc.assert(
      fc.property(texts, (text) => {
        for (const value of [parseGoDuration(text), parseProtoDuration(text)]) {
          if (value !== undefined) {
            expect(Number.isFinite(value)).toBe(true);
            expect(value).toBeGreaterThanOrEqual(0);
          }
        }
        for (const value of [parseRfc3339(text), parseHttpDate(text), parseResetAt(text, ref)]) {
          if (value !== undefined) expect(Number.isFinite(value)).toBe(true);
        }
      }),
      { numRuns: 3_000 },
    );
  });

  it('parseProtoDuration accepts any value without throwing', () => {
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const ms = parseProtoDuration(value);
        expect(ms === undefined || (Number.isFinite(ms) && ms >= 0)).toBe(true);
      }),
    );
  });
});
