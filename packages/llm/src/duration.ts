// Parsers for the duration and time formats providers put in rate-limit headers and error bodies.
// Every parser here is a hand-written scanner over the input: no regular expression runs on
// untrusted text, so the cost is linear in its length, and nothing throws — malformed input gives
// `undefined`.

import type { TimeReference } from './types.js';

const MS_PER_HOUR = 3_600_000;
const MS_PER_MINUTE = 60_000;
const MS_PER_SECOND = 1_000;
const NS_PER_MS = 1e6;
const NS_PER_SECOND = 1e9;
const NS_PER_MINUTE = 6e10;
const NS_PER_HOUR = 3.6e12;

/** Readings above this are epoch milliseconds (2001-09-09 onwards), not seconds. */
const EPOCH_MS_THRESHOLD = 1e12;
/** Readings above this are epoch seconds (2001-09-09 onwards), not a number of seconds to wait. */
const EPOCH_SECONDS_THRESHOLD = 1e9;

/**
 * Rounds to the nanosecond (1e-6 ms). Summing `36.314 × 1000` and friends leaves binary noise
 * such as 36314.000000000004; no provider sends finer than nanoseconds, so this only removes noise.
 */
function roundToNanosecond(ms: number): number {
  return Math.round(ms * 1e6) / 1e6;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** An unsigned decimal as scanned: the text of its whole and fractional digits. */
interface ScannedDecimal {
  /** Index just after the number. */
  readonly end: number;
  /** The whole-number digits (may be empty, as in `.5`). */
  readonly whole: string;
  /** The digits after the point (may be empty, as in `1` or `1.`). */
  readonly fraction: string;
}

/**
 * Reads an unsigned decimal (`20`, `0.5`, `.5`, `1.`) starting at `start`, or `undefined` when no
 * digit is there. Signs, exponents and hex are not decimals here: `Number()` alone would accept
 * `""`, `"0x10"` and `"1e3"`.
 */
function scanDecimal(text: string, start: number): ScannedDecimal | undefined {
  let i = start;
  while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  const wholeEnd = i;
  let fractionStart = i;
  if (text.charCodeAt(i) === 46 /* . */) {
    fractionStart = ++i;
    while (i < text.length && isDigit(text.charCodeAt(i))) i++;
  }
  if (wholeEnd === start && i === fractionStart) return undefined;
  return { end: i, whole: text.slice(start, wholeEnd), fraction: text.slice(fractionStart, i) };
}

/**
 * The value of a scanned decimal times `unitNs`, in whole nanoseconds. The whole part is
 * multiplied exactly (below 2^53 ns, about 104 days); only the fraction is rounded, to the
 * nearest nanosecond. Summing milliseconds as floats instead leaves noise such as
 * 36.314 × 1000 = 36314.00000000001.
 */
function toNanoseconds(decimal: ScannedDecimal, unitNs: number): number {
  const whole = decimal.whole.length > 0 ? Number(decimal.whole) * unitNs : 0;
  const fraction = decimal.fraction.length > 0 ? Math.round(Number(`0.${decimal.fraction}`) * unitNs) : 0;
  return whole + fraction;
}

/**
 * Parses an unsigned decimal number that makes up the whole of `text` (surrounding whitespace
 * allowed): `"20"`, `"0.5"`, `"149984"`. Signs, exponents, hex and empty strings give `undefined`,
 * so a negative sentinel such as `-1` is never read as a number.
 *
 * @internal
 */
export function parseDecimal(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  const scanned = scanDecimal(s, 0);
  if (scanned === undefined || scanned.end !== s.length) return undefined;
  const value = Number(`${scanned.whole.length > 0 ? scanned.whole : '0'}.${scanned.fraction}`);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * Parses a Go-style duration, the format of OpenAI's `x-ratelimit-reset-*` headers, into
 * milliseconds.
 *
 * The text is one or more `<number><unit>` pairs with no separators, where the number is an
 * unsigned decimal (fractions allowed: `1.5s`, `.5s`) and the unit is one of `h`, `m`, `s`, `ms`,
 * `us` / `µs` / `μs` or `ns`. Units may repeat and come in any order, as in Go's
 * `time.ParseDuration`; the bare string `"0"` means zero. Surrounding whitespace is ignored.
 *
 * Returns `undefined` for anything else: an empty string, a sign (`-1s`: a reset is never
 * negative), a missing or unknown unit (`"20"`, `"5d"`), or a result too large to be finite.
 * Fractions are rounded to the nanosecond; below 2^53 ns (about 104 days) the sum is exact, so
 * `"4h43m36.314s"` is exactly 17016314. Never throws; linear in the length of `text`.
 *
 * @param text - The header value, e.g. `"6m0s"`.
 * @returns The duration in ms, or `undefined` when `text` is not a Go duration.
 *
 * @example
 * ```ts
 * parseGoDuration('12ms');         // 12
 * parseGoDuration('6m0s');         // 360000
 * parseGoDuration('1m1.5s');       // 61500
 * parseGoDuration('4h43m36.314s'); // 17016314
 * parseGoDuration('20');           // undefined — no unit
 * ```
 */
export function parseGoDuration(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  if (s === '0') return 0;
  if (s.length === 0) return undefined;
  let totalNs = 0;
  let i = 0;
  while (i < s.length) {
    const scanned = scanDecimal(s, i);
    if (scanned === undefined) return undefined;
    i = scanned.end;
    const unit = s[i];
    const next = s[i + 1];
    let unitNs: number;
    if (unit === 'h') {
      unitNs = NS_PER_HOUR;
      i += 1;
    } else if (unit === 'm') {
      // Longest match, as Go does: `ms` is milliseconds, `m` followed by anything else is minutes.
      if (next === 's') {
        unitNs = NS_PER_MS;
        i += 2;
      } else {
        unitNs = NS_PER_MINUTE;
        i += 1;
      }
    } else if (unit === 's') {
      unitNs = NS_PER_SECOND;
      i += 1;
    } else if ((unit === 'u' || unit === '\u00b5' || unit === '\u03bc') && next === 's') {
      unitNs = 1_000;
      i += 2;
    } else if (unit === 'n' && next === 's') {
      unitNs = 1;
      i += 2;
    } else {
      return undefined;
    }
    totalNs += toNanoseconds(scanned, unitNs);
  }
  const ms = totalNs / NS_PER_MS;
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Parses a protobuf `Duration` — the type of Gemini's `google.rpc.RetryInfo.retryDelay` — into
 * milliseconds.
 *
 * Accepts the JSON form, a decimal number of seconds followed by `s` (`"37s"`, `"1.5s"`,
 * `"0.000000001s"`), and the object form `{ seconds, nanos }` some clients produce (`seconds` as
 * a number or a numeric string, since int64 travels as a string in JSON; both fields optional).
 * Negative durations, other units and anything else give `undefined`. Never throws.
 *
 * @param value - The `retryDelay` field as found in the parsed body.
 * @returns The duration in ms, or `undefined`.
 *
 * @example
 * ```ts
 * parseProtoDuration('37s');                         // 37000
 * parseProtoDuration('1.5s');                        // 1500
 * parseProtoDuration({ seconds: '2', nanos: 5e8 });  // 2500
 * ```
 */
export function parseProtoDuration(value: unknown): number | undefined {
  if (typeof value === 'string') {
    const s = value.trim();
    const scanned = scanDecimal(s, 0);
    if (scanned === undefined || scanned.end !== s.length - 1 || s[scanned.end] !== 's') return undefined;
    const ms = toNanoseconds(scanned, NS_PER_SECOND) / NS_PER_MS;
    return Number.isFinite(ms) ? ms : undefined;
  }
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { seconds, nanos } = value as { seconds?: unknown; nanos?: unknown };
    if (seconds === undefined && nanos === undefined) return undefined;
    const s =
      seconds === undefined ? 0 : typeof seconds === 'number' ? seconds : typeof seconds === 'string' ? parseDecimal(seconds) : undefined;
    const n = nanos === undefined ? 0 : typeof nanos === 'number' ? nanos : undefined;
    if (s === undefined || n === undefined || !(s >= 0) || !(n >= 0)) return undefined;
    const ms = roundToNanosecond(s * MS_PER_SECOND + n / 1e6);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

/** Reads exactly `length` digits at `start` as an integer, or -1 when any is not a digit. */
function fixedDigits(text: string, start: number, length: number): number {
  if (start + length > text.length) return -1;
  let value = 0;
  for (let i = start; i < start + length; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    value = value * 10 + (code - 48);
  }
  return value;
}

/** Days in `month` (1–12) of `year`, proleptic Gregorian. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/**
 * Wall-clock ms of a UTC calendar time, after checking every field's range. `Date.UTC` would
 * silently roll 31 February into March and map years 0–99 to 1900–1999; this does neither.
 */
function utcMs(year: number, month: number, day: number, hour: number, minute: number, second: number): number | undefined {
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // 60 seconds admits a leap second; it lands on the next minute's first instant.
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const ms = date.getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Parses an RFC 3339 timestamp — the format of Anthropic's `anthropic-ratelimit-*-reset`
 * headers — into wall-clock milliseconds since the epoch.
 *
 * Accepts `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`, with `t`, `z` or a space accepted for the
 * separators as RFC 3339 allows, and any number of fraction digits. Every field is range-checked
 * (no rolling 31 February into March). Anything else gives `undefined`. Never throws.
 *
 * @param text - The timestamp, e.g. `"2024-06-01T12:00:30.5Z"`.
 * @returns Wall-clock ms since the epoch, or `undefined`.
 *
 * @example
 * ```ts
 * parseRfc3339('1970-01-01T00:01:00Z');      // 60000
 * parseRfc3339('1970-01-01T01:00:00+01:00'); // 0
 * ```
 */
export function parseRfc3339(text: string): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  if (s.length < 20) return undefined;
  const year = fixedDigits(s, 0, 4);
  const month = fixedDigits(s, 5, 2);
  const day = fixedDigits(s, 8, 2);
  const hour = fixedDigits(s, 11, 2);
  const minute = fixedDigits(s, 14, 2);
  const second = fixedDigits(s, 17, 2);
  const separator = s[10];
  if (s[4] !== '-' || s[7] !== '-' || s[13] !== ':' || s[16] !== ':') return undefined;
  if (separator !== 'T' && separator !== 't' && separator !== ' ') return undefined;
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return undefined;
  let i = 19;
  let fractionMs = 0;
  if (s[i] === '.') {
    const start = ++i;
    while (i < s.length && isDigit(s.charCodeAt(i))) i++;
    if (i === start) return undefined;
    fractionMs = Number(`0.${s.slice(start, i)}`) * MS_PER_SECOND;
  }
  let offsetMs: number;
  const zone = s[i];
  if ((zone === 'Z' || zone === 'z') && i + 1 === s.length) {
    offsetMs = 0;
  } else if ((zone === '+' || zone === '-') && i + 6 === s.length && s[i + 3] === ':') {
    const offsetHours = fixedDigits(s, i + 1, 2);
    const offsetMinutes = fixedDigits(s, i + 4, 2);
    if (offsetHours < 0 || offsetHours > 23 || offsetMinutes < 0 || offsetMinutes > 59) return undefined;
    offsetMs = (zone === '+' ? 1 : -1) * (offsetHours * MS_PER_HOUR + offsetMinutes * MS_PER_MINUTE);
  } else {
    return undefined;
  }
  const base = utcMs(year, month, day, hour, minute, second);
  if (base === undefined) return undefined;
  // A local time ahead of UTC (+01:00) names an earlier UTC instant, hence the subtraction.
  return base + fractionMs - offsetMs;
}

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const SHORT_DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const LONG_DAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

/** Month number 1–12 of a three-letter English month name (any case), or -1. */
function monthNumber(name: string | undefined): number {
  return name === undefined ? -1 : MONTHS.indexOf(name.toLowerCase()) + 1 || -1;
}

/** Hours, minutes and seconds of `HH:MM:SS`, or undefined. */
function clockTime(text: string | undefined): [number, number, number] | undefined {
  if (text === undefined || text.length !== 8 || text[2] !== ':' || text[5] !== ':') return undefined;
  const h = fixedDigits(text, 0, 2);
  const m = fixedDigits(text, 3, 2);
  const sec = fixedDigits(text, 6, 2);
  return h < 0 || m < 0 || sec < 0 ? undefined : [h, m, sec];
}

/** An integer made only of 1 to `maxLength` digits, or -1. */
function smallInteger(text: string | undefined, maxLength: number): number {
  if (text === undefined || text.length === 0 || text.length > maxLength) return -1;
  return fixedDigits(text, 0, text.length);
}

/**
 * Splits on runs of spaces and tabs. Written out rather than `split(/\s+/)` so the cost stays
 * obviously linear.
 */
function words(text: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    const blank = c === undefined || c === ' ' || c === '\t';
    if (blank) {
      if (start >= 0) out.push(text.slice(start, i));
      start = -1;
    } else if (start < 0) {
      start = i;
    }
  }
  return out;
}

/**
 * Parses an HTTP date — the format of the `Date` header and of `Retry-After` when it is not a
 * number of seconds — into wall-clock milliseconds since the epoch.
 *
 * Accepts the three forms HTTP recipients must understand (RFC 9110 §5.6.7): IMF-fixdate
 * (`Sun, 06 Nov 1994 08:49:37 GMT`), the obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`,
 * two-digit years below 70 read as 20xx) and asctime (`Sun Nov  6 08:49:37 1994`). Names are
 * matched case-insensitively; the weekday is checked to be a weekday name but not against the
 * date. `UTC` is accepted in place of `GMT`. Anything else gives `undefined`. Never throws.
 *
 * @param text - The header value.
 * @returns Wall-clock ms since the epoch, or `undefined`.
 *
 * @example
 * ```ts
 * parseHttpDate('Thu, 01 Jan 1970 00:01:00 GMT'); // 60000
 * ```
 */
export function parseHttpDate(text: string): number | undefined {
  if (typeof text !== 'string' || text.length > 64) return undefined;
  const parts = words(text.trim());
  const first = parts[0]?.toLowerCase();
  if (first === undefined) return undefined;
  const gmt = (zone: string | undefined): boolean => zone === 'GMT' || zone === 'UTC' || zone === 'gmt' || zone === 'utc';

  if (parts.length === 6 && first.endsWith(',') && SHORT_DAYS.includes(first.slice(0, -1))) {
    // IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT
    const day = smallInteger(parts[1], 2);
    const month = monthNumber(parts[2]);
    const year = parts[3]?.length === 4 ? smallInteger(parts[3], 4) : -1;
    const time = clockTime(parts[4]);
    if (day < 0 || month < 0 || year < 0 || time === undefined || !gmt(parts[5])) return undefined;
    return utcMs(year, month, day, ...time);
  }
  if (parts.length === 4 && first.endsWith(',') && LONG_DAYS.includes(first.slice(0, -1))) {
    // RFC 850: Sunday, 06-Nov-94 08:49:37 GMT
    const date = parts[1] ?? '';
    if (date.length !== 9 || date[2] !== '-' || date[6] !== '-') return undefined;
    const day = fixedDigits(date, 0, 2);
    const month = monthNumber(date.slice(3, 6));
    const shortYear = fixedDigits(date, 7, 2);
    const time = clockTime(parts[2]);
    if (day < 0 || month < 0 || shortYear < 0 || time === undefined || !gmt(parts[3])) return undefined;
    return utcMs(shortYear < 70 ? 2000 + shortYear : 1900 + shortYear, month, day, ...time);
  }
  if (parts.length === 5 && SHORT_DAYS.includes(first)) {
    // asctime: Sun Nov  6 08:49:37 1994
    const month = monthNumber(parts[1]);
    const day = smallInteger(parts[2], 2);
    const time = clockTime(parts[3]);
    const year = parts[4]?.length === 4 ? smallInteger(parts[4], 4) : -1;
    if (day < 0 || month < 0 || year < 0 || time === undefined) return undefined;
    return utcMs(year, month, day, ...time);
  }
  return undefined;
}

/**
 * Turns a wall-clock instant into the caller's monotonic time:
 * `ref.now + (wallMs − ref.wallNow)`.
 */
function toMonotonic(wallMs: number, ref: TimeReference): number | undefined {
  const at = ref.now + (wallMs - ref.wallNow);
  return Number.isFinite(at) ? at : undefined;
}

/**
 * Parses a rate-limit reset value in any format providers are known to send, and returns when
 * the limit resets as an absolute time on the caller's monotonic clock (ms).
 *
 * Recognised, in this order:
 * 1. A plain unsigned decimal. Above 1e12 it is epoch milliseconds, above 1e9 epoch seconds
 *    (both absolute); otherwise a number of seconds to wait (`"20"`, `"0.5"`, Cerebras'
 *    `"33011.382867"`).
 * 2. A Go duration (`"1s"`, `"6m0s"`, `"4h43m36.314s"`, OpenAI's format): a wait.
 * 3. An RFC 3339 timestamp (Anthropic's format): absolute.
 * 4. An HTTP date: absolute.
 *
 * A wait `d` gives `ref.now + d`. An absolute wall-clock time `w` gives
 * `ref.now + (w − ref.wallNow)`, which lies in the past when the reset has already happened (or
 * the two clocks disagree); callers should read a past reset as "already full". Negative numbers,
 * non-finite results and unrecognised text give `undefined`. Never throws.
 *
 * @param text - The header value.
 * @param ref - The monotonic and wall-clock times that correspond to "now".
 * @returns The reset instant on the monotonic clock, ms, or `undefined`.
 *
 * @example
 * ```ts
 * const ref = { now: 5_000, wallNow: Date.parse('2024-06-01T12:00:00Z') };
 * parseResetAt('6m0s', ref);                 // 365000
 * parseResetAt('20', ref);                   // 25000
 * parseResetAt('2024-06-01T12:00:30Z', ref); // 35000
 * parseResetAt('1717243230', ref);           // 35000 — epoch seconds
 * ```
 */
export function parseResetAt(text: string, ref: TimeReference): number | undefined {
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  const number = parseDecimal(s);
  if (number !== undefined) {
    if (number > EPOCH_MS_THRESHOLD) return toMonotonic(number, ref);
    if (number > EPOCH_SECONDS_THRESHOLD) return toMonotonic(number * MS_PER_SECOND, ref);
    const at = ref.now + number * MS_PER_SECOND;
    return Number.isFinite(at) ? at : undefined;
  }
  const duration = parseGoDuration(s);
  if (duration !== undefined) {
    const at = ref.now + duration;
    return Number.isFinite(at) ? at : undefined;
  }
  const wall = parseRfc3339(s) ?? parseHttpDate(s);
  return wall === undefined ? undefined : toMonotonic(wall, ref);
}
