// Reads the rate-limit headers of OpenAI, Anthropic, Azure OpenAI and OpenAI-compatible providers
// into one RateLimitSnapshot. One pass over the headers collects the raw strings per dimension;
// values are parsed once each afterwards. Unknown headers and malformed values are skipped, never
// thrown on.

import { checkOptions, optionKeys } from '@sluice/core';
import { parseDecimal, parseGoDuration, parseHttpDate, parseResetAt } from './duration.js';
import type { Dimension, HeadersLike, LimitObservation, Provider, RateLimitSnapshot, TimeReference } from './types.js';

/** Options of {@link parseRateLimitHeaders}. */
export interface RateLimitHeaderOptions {
  /**
   * The provider whose format the headers are in. Default: detected from the headers by
   * {@link detectProvider}. `gemini` is never detected (Gemini sends no rate-limit headers; its
   * hints are in the error body, see `classify`); passing it reads `x-ratelimit-*` headers the
   * generic way.
   */
  readonly provider?: Provider | undefined;
}

const RATE_LIMIT_HEADER_KEYS = optionKeys<RateLimitHeaderOptions>()({ provider: true });

/** Dimensions in the order observations are reported. */
const DIMENSION_ORDER: readonly Dimension[] = ['requests', 'tokens', 'input-tokens', 'output-tokens', 'requests-per-day', 'tokens-per-day'];

const ANTHROPIC_PREFIX = 'anthropic-ratelimit-';
const OPENAI_PREFIX = 'x-ratelimit-';

type Field = 'limit' | 'remaining' | 'reset';

interface RawDimension {
  limit?: string | undefined;
  remaining?: string | undefined;
  reset?: string | undefined;
}

function isField(text: string): text is Field {
  return text === 'limit' || text === 'remaining' || text === 'reset';
}

function addValue(target: Map<string, string>, name: string, value: unknown): void {
  if (value === undefined || value === null) return;
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') text = String(value);
  else if (Array.isArray(value)) {
    // Node's IncomingHttpHeaders gives repeated headers as arrays; the first value is the one a
    // provider meant (rate-limit headers are never legitimately repeated).
    for (const item of value as readonly unknown[]) {
      if (typeof item === 'string' || typeof item === 'number') {
        addValue(target, name, item);
        return;
      }
    }
    return;
  } else return;
  const key = name.trim().toLowerCase();
  // First occurrence wins for repeated names in pair lists, matching the array rule above.
  if (key.length > 0 && !target.has(key)) target.set(key, text.trim());
}

/**
 * Normalises headers in any {@link HeadersLike} shape into a `Map` from lower-case name to
 * trimmed value.
 *
 * - A Fetch `Headers` (or anything with `forEach(value, name)`, such as a `Map`) is read through
 *   `forEach`; `Headers` has already joined repeated values with `", "`.
 * - A plain object (Node's `IncomingHttpHeaders`) is read through its own enumerable keys: array
 *   values contribute their first string or number, numbers and booleans are stringified,
 *   `undefined`, `null` and other values are skipped.
 * - An array or iterable of `[name, value]` pairs keeps the first value of a repeated name.
 *
 * `undefined` and `null` give an empty map. Never throws: if iterating the input throws (a
 * hostile getter, a consumed iterator), what was read until then is returned.
 *
 * @example
 * ```ts
 * readHeaders({ 'X-RateLimit-Limit-Requests': ['60', '60'], 'Content-Length': 42 });
 * // Map { 'x-ratelimit-limit-requests' => '60', 'content-length' => '42' }
 * ```
 */
export function readHeaders(headers: HeadersLike | null | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (headers === null || headers === undefined || typeof headers !== 'object') return out;
  try {
    if (Array.isArray(headers)) {
      for (const pair of headers as readonly unknown[]) {
        if (Array.isArray(pair) && typeof pair[0] === 'string') addValue(out, pair[0], pair[1]);
      }
    } else if (typeof (headers as { forEach?: unknown }).forEach === 'function') {
      (headers as { forEach(callback: (value: unknown, name: unknown) => void): void }).forEach((value, name) => {
        if (typeof name === 'string') addValue(out, name, value);
      });
    } else if (typeof (headers as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function') {
      for (const pair of headers as Iterable<unknown>) {
        if (Array.isArray(pair) && typeof pair[0] === 'string') addValue(out, pair[0], pair[1]);
      }
    } else {
      const record = headers as Readonly<Record<string, unknown>>;
      for (const name of Object.keys(record)) addValue(out, name, record[name]);
    }
  } catch {
    // Keep what was read: a partial header set is still worth parsing.
  }
  return out;
}

/**
 * The wall-clock time of the response's `Date` header, in ms since the epoch, or `undefined`
 * when it is absent or not an HTTP date. The header has one-second resolution and is truncated,
 * so the server's real "now" is up to 1 s later.
 *
 * Use it as {@link TimeReference.wallNow} so that absolute resets are measured against the
 * server's own clock rather than a possibly skewed local one.
 *
 * @example
 * ```ts
 * wallClockFromDateHeader({ date: 'Thu, 01 Jan 1970 00:01:00 GMT' }); // 60000
 * ```
 */
export function wallClockFromDateHeader(headers: HeadersLike | null | undefined): number | undefined {
  return dateIn(readHeaders(headers));
}

/** {@link wallClockFromDateHeader} on headers already normalised by {@link readHeaders}. */
function dateIn(map: ReadonlyMap<string, string>): number | undefined {
  const value = map.get('date');
  return value === undefined ? undefined : parseHttpDate(value);
}

/**
 * Splits an `x-ratelimit-*` name into its field and dimension, or `undefined` for names this
 * library does not know (`-tokens_usage_based` and the like). Unsuffixed names
 * (`x-ratelimit-limit`, used by OpenRouter and others) map to `requests`, flagged `bare`.
 */
function parseOpenAiStyleName(name: string): { field: Field; dimension: Dimension; bare: boolean } | undefined {
  const rest = name.slice(OPENAI_PREFIX.length);
  const dash = rest.indexOf('-');
  const field = dash < 0 ? rest : rest.slice(0, dash);
  if (!isField(field)) return undefined;
  if (dash < 0) return { field, dimension: 'requests', bare: true };
  switch (rest.slice(dash + 1)) {
    case 'requests':
    case 'requests-minute':
      return { field, dimension: 'requests', bare: false };
    case 'tokens':
    case 'tokens-minute':
      return { field, dimension: 'tokens', bare: false };
    case 'requests-day':
      return { field, dimension: 'requests-per-day', bare: false };
    case 'tokens-day':
      return { field, dimension: 'tokens-per-day', bare: false };
    default:
      return undefined;
  }
}

/** Splits an `anthropic-ratelimit-*` name into its dimension and field. */
function parseAnthropicName(name: string): { field: Field; dimension: Dimension } | undefined {
  const rest = name.slice(ANTHROPIC_PREFIX.length);
  const dash = rest.lastIndexOf('-');
  if (dash < 0) return undefined;
  const field = rest.slice(dash + 1);
  if (!isField(field)) return undefined;
  const dimension = rest.slice(0, dash);
  return dimension === 'requests' || dimension === 'tokens' || dimension === 'input-tokens' || dimension === 'output-tokens'
    ? { field, dimension }
    : undefined;
}

function isAzureMarker(name: string): boolean {
  return name.startsWith('x-ms-') || name === 'apim-request-id' || name === 'azureml-model-session' || name.startsWith('ms-azureml-');
}

/**
 * Guesses which provider's format a header set is in, from the header names (and, to tell Azure
 * and OpenAI-compatible providers from OpenAI, a few values):
 *
 * 1. Any `anthropic-ratelimit-*` header → `anthropic`.
 * 2. An Azure marker — a name starting with `x-ms-` or `ms-azureml-`, `apim-request-id`, or
 *    `azureml-model-session` — → `azure`. So is a negative `x-ratelimit-limit-*` or
 *    `x-ratelimit-remaining-*` value (Azure's `-1` "unknown" sentinel; OpenAI never sends one).
 * 3. `x-ratelimit-*` names with a `-minute` / `-day` window suffix (Cerebras) or with no dimension
 *    at all (`x-ratelimit-limit`, OpenRouter) → `generic`.
 * 4. Other `x-ratelimit-*` headers → `openai` when an `openai-*` header is present or every
 *    `x-ratelimit-reset-*` value is a Go duration (OpenAI's format, which some compatible
 *    providers such as Groq copy); otherwise (seconds, epoch or timestamp resets) `generic`.
 * 5. No rate-limit headers at all → `generic`.
 *
 * Accepts anything {@link readHeaders} does.
 *
 * @example
 * ```ts
 * detectProvider({ 'anthropic-ratelimit-requests-limit': '50' });  // 'anthropic'
 * detectProvider({ 'x-ratelimit-reset-requests': '1s' });          // 'openai'
 * detectProvider({ 'x-ratelimit-reset-tokens-minute': '11.38' });  // 'generic'
 * ```
 */
export function detectProvider(headers: HeadersLike | null | undefined): Provider {
  return detectIn(readHeaders(headers));
}

/** {@link detectProvider} on headers already normalised by {@link readHeaders}. */
function detectIn(map: ReadonlyMap<string, string>): Provider {
  let rateLimitHeaders = false;
  let windowed = false;
  let negativeSentinel = false;
  let openAiMarker = false;
  let azureMarker = false;
  let nonGoReset = false;
  for (const [name, value] of map) {
    if (name.startsWith(ANTHROPIC_PREFIX)) return 'anthropic';
    if (isAzureMarker(name)) azureMarker = true;
    else if (name.startsWith('openai-')) openAiMarker = true;
    else if (name.startsWith(OPENAI_PREFIX)) {
      const parsed = parseOpenAiStyleName(name);
      if (parsed === undefined) continue;
      rateLimitHeaders = true;
      if (parsed.bare || name.endsWith('-minute') || name.endsWith('-day')) windowed = true;
      if (parsed.field === 'reset') {
        if (parseGoDuration(value) === undefined || parseDecimal(value) !== undefined) nonGoReset = true;
      } else if (value.startsWith('-')) {
        negativeSentinel = true;
      }
    }
  }
  if (azureMarker || negativeSentinel) return 'azure';
  if (!rateLimitHeaders || windowed) return 'generic';
  return openAiMarker || !nonGoReset ? 'openai' : 'generic';
}

/** A count header: an unsigned finite decimal. Negative sentinels (`-1`) and junk mean unknown. */
function parseCount(text: string | undefined): number | undefined {
  return text === undefined ? undefined : parseDecimal(text);
}

/**
 * Parses the `retry-after-ms` (float ms) header, else `retry-after` (float seconds, or an HTTP
 * date measured against `wallNow`; a date in the past gives 0). Negative and malformed values
 * are skipped.
 */
function parseRetryAfterMs(map: ReadonlyMap<string, string>, wallNow: number): number | undefined {
  const ms = map.get('retry-after-ms');
  if (ms !== undefined) {
    const value = parseDecimal(ms);
    if (value !== undefined) return value;
  }
  const after = map.get('retry-after');
  if (after === undefined) return undefined;
  const seconds = parseDecimal(after);
  if (seconds !== undefined) {
    const value = seconds * 1000;
    return Number.isFinite(value) ? value : undefined;
  }
  const date = parseHttpDate(after);
  if (date === undefined) return undefined;
  const wait = date - wallNow;
  return Number.isFinite(wait) ? Math.max(0, wait) : undefined;
}

/**
 * Reads what one response's headers say about rate limits into a {@link RateLimitSnapshot}.
 *
 * Header families understood:
 * - **OpenAI** `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` → dimensions `requests`
 *   and `tokens`. Resets are Go durations (`1s`, `6m0s`) meaning "until the bucket is full
 *   again". Unknown suffixes such as `-tokens_usage_based` are ignored.
 * - **Anthropic** `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
 *   → the dimensions of the same names. Resets are RFC 3339 timestamps. Token `remaining` values
 *   are rounded to thousands by Anthropic, so token observations carry `rounded: true`.
 * - **Azure OpenAI**: the OpenAI names, where a negative limit or remaining (`-1`) means unknown
 *   and becomes `undefined`.
 * - **Generic OpenAI-compatible**: the OpenAI names, optionally with a `-minute` suffix (same
 *   dimensions) or `-day` suffix (`requests-per-day`, `tokens-per-day`), as Cerebras sends; the
 *   unsuffixed `x-ratelimit-{limit,remaining,reset}` (OpenRouter and others) → `requests`, unless
 *   a suffixed requests header says more. Resets may be seconds, epoch seconds or ms, RFC 3339,
 *   or Go durations (see {@link parseResetAt}).
 *
 * Absolute resets and HTTP-date `retry-after` values are measured against the response's `Date`
 * header when it is present and parseable (which cancels clock skew between server and client;
 * the header's 1 s truncation errs towards waiting longer), else against `ref.wallNow`; `ref.now`
 * anchors the result on the monotonic clock.
 *
 * Per field: a malformed value becomes `undefined`, never an exception. A reset of zero on a
 * dimension whose limit and remaining are both unknown (Azure's `reset-tokens: 0` next to `-1`
 * sentinels) says nothing and becomes `undefined`. A dimension with nothing usable is omitted.
 * Observations come in the order `requests`, `tokens`, `input-tokens`, `output-tokens`,
 * `requests-per-day`, `tokens-per-day`. `retryAfterMs` is `retry-after-ms` (float ms) if valid,
 * else `retry-after` (float seconds or an HTTP date, a past date giving 0), else `undefined`.
 *
 * @param headers - The response headers, in any {@link HeadersLike} shape; `null` and
 *   `undefined` give an empty snapshot.
 * @param ref - Monotonic and wall-clock "now" at the time the response arrived.
 * @param options - See {@link RateLimitHeaderOptions}; the provider is detected by default.
 *
 * @example
 * ```ts
 * const snapshot = parseRateLimitHeaders(response.headers, { now: clock.now(), wallNow: Date.now() });
 * for (const o of snapshot.observations) console.log(o.dimension, o.remaining, o.resetAt);
 * ```
 */
export function parseRateLimitHeaders(
  headers: HeadersLike | null | undefined,
  ref: TimeReference,
  options?: RateLimitHeaderOptions,
): RateLimitSnapshot {
  if (options !== undefined) checkOptions('parseRateLimitHeaders', options, RATE_LIMIT_HEADER_KEYS);
  return parseRateLimitMap(readHeaders(headers), ref, options?.provider);
}

/**
 * {@link parseRateLimitHeaders} on headers already normalised by {@link readHeaders}.
 *
 * @internal
 */
export function parseRateLimitMap(map: ReadonlyMap<string, string>, ref: TimeReference, forcedProvider?: Provider): RateLimitSnapshot {
  const provider = forcedProvider ?? detectIn(map);
  const wallNow = dateIn(map) ?? ref.wallNow;
  const effectiveRef: TimeReference = { now: ref.now, wallNow };

  const raw = new Map<Dimension, RawDimension>();
  const bare: RawDimension = {};
  for (const [name, value] of map) {
    let field: Field;
    let dimension: Dimension;
    if (provider === 'anthropic') {
      if (!name.startsWith(ANTHROPIC_PREFIX)) continue;
      const parsed = parseAnthropicName(name);
      if (parsed === undefined) continue;
      ({ field, dimension } = parsed);
    } else {
      if (!name.startsWith(OPENAI_PREFIX)) continue;
      const parsed = parseOpenAiStyleName(name);
      if (parsed === undefined) continue;
      if (parsed.bare) {
        bare[parsed.field] ??= value;
        continue;
      }
      ({ field, dimension } = parsed);
    }
    let entry = raw.get(dimension);
    if (entry === undefined) raw.set(dimension, (entry = {}));
    entry[field] ??= value;
  }
  if (bare.limit !== undefined || bare.remaining !== undefined || bare.reset !== undefined) {
    const requests = raw.get('requests') ?? {};
    raw.set('requests', {
      limit: requests.limit ?? bare.limit,
      remaining: requests.remaining ?? bare.remaining,
      reset: requests.reset ?? bare.reset,
    });
  }

  const observations: LimitObservation[] = [];
  for (const dimension of DIMENSION_ORDER) {
    const entry = raw.get(dimension);
    if (entry === undefined) continue;
    const limit = parseCount(entry.limit);
    const remaining = parseCount(entry.remaining);
    let resetAt = entry.reset === undefined ? undefined : parseResetAt(entry.reset, effectiveRef);
    // A zero reset next to unknown counts (Azure: limit -1, remaining -1, reset 0) is a
    // placeholder, not a statement that the bucket is full now.
    if (resetAt === ref.now && limit === undefined && remaining === undefined) resetAt = undefined;
    if (limit === undefined && remaining === undefined && resetAt === undefined) continue;
    observations.push({
      dimension,
      limit,
      remaining,
      resetAt,
      rounded: provider === 'anthropic' && dimension !== 'requests',
    });
  }

  return { provider, observations, retryAfterMs: parseRetryAfterMs(map, wallNow) };
}
