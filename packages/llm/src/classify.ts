// Sorts a provider response into ok / wait and retry / never retry / shrink the request, from its
// status, headers and error body. Neither official SDK makes this split (both retry every 429), so
// the rules come from the bodies providers are documented to send.

import { parseDecimal, parseGoDuration, parseProtoDuration } from './duration.js';
import { parseRateLimitMap, readHeaders } from './headers.js';
import type { Dimension, HeadersLike, RateLimitSnapshot, TimeReference, Triage } from './types.js';

/**
 * The wait, in ms, that {@link classify} suggests for a retryable response when the provider gave
 * no hint: 2,000 ms, reported with `hinted: false`. It is a first wait, not a backoff schedule —
 * a retry layer should grow it on repeated failures.
 */
export const DEFAULT_RETRY_AFTER_MS = 2_000;

/** Longest raw-text body kept as a message, in characters. */
const MAX_TEXT_MESSAGE = 1_000;
/** Bounds on arrays walked in a body, so a hostile body cannot make triage expensive. */
const MAX_DETAILS = 64;

/** What triage needs from an error body, whatever its provider. */
interface ErrorFacts {
  type: string | undefined;
  code: string | undefined;
  message: string | undefined;
  /** Anthropic `error.details.error_code`. */
  detailCode: string | undefined;
  /** Gemini `QuotaFailure.violations[].quotaId`. */
  quotaIds: string[];
  /** Gemini `RetryInfo.retryDelay`, ms. */
  retryDelayMs: number | undefined;
  /** True when the body is an Anthropic error envelope `{ type: 'error', error: { type } }`. */
  anthropicEnvelope: boolean;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asString(value: unknown): string | undefined {
  return typeof value === 'string' ? value : typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

/**
 * Pulls the facts triage uses out of a body: a parsed JSON value, JSON text, or other text.
 * Understands OpenAI's `{ error: { message, type, param, code } }`, Anthropic's
 * `{ type: 'error', error: { type, message, details? } }` and Gemini's
 * `{ error: { code, message, status, details: [...] } }` (also inside a one-element array, as
 * Gemini's streaming endpoint sends it). Missing or oddly typed fields are skipped.
 */
function readErrorBody(body: unknown): ErrorFacts {
  const facts: ErrorFacts = {
    type: undefined,
    code: undefined,
    message: undefined,
    detailCode: undefined,
    quotaIds: [],
    retryDelayMs: undefined,
    anthropicEnvelope: false,
  };
  let value = body;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{') || text.startsWith('[')) {
      try {
        value = JSON.parse(text) as unknown;
      } catch {
        value = undefined;
      }
    } else {
      value = undefined;
    }
    if (value === undefined) {
      // Not JSON (an HTML page from a proxy, a plain-text reason): keep it as the message.
      if (text.length > 0) facts.message = text.slice(0, MAX_TEXT_MESSAGE);
      return facts;
    }
  }
  if (Array.isArray(value)) value = value[0];
  if (!isRecord(value)) return facts;

  let error: Record<string, unknown> = value;
  if (isRecord(value.error)) error = value.error;
  else if (typeof value.error === 'string') facts.message = value.error;
  facts.anthropicEnvelope = value.type === 'error' && isRecord(value.error);

  facts.type = asString(error.type);
  facts.code = asString(error.code);
  // Gemini puts the symbolic status (`RESOURCE_EXHAUSTED`) in `status` and the HTTP code in `code`.
  if (typeof error.status === 'string') facts.code = error.status;
  facts.message = asString(error.message) ?? facts.message;

  const details = error.details;
  if (isRecord(details)) {
    facts.detailCode = asString(details.error_code);
  } else if (Array.isArray(details)) {
    for (const detail of details.slice(0, MAX_DETAILS) as unknown[]) {
      if (!isRecord(detail)) continue;
      const violations = detail.violations;
      if (Array.isArray(violations)) {
        for (const violation of violations.slice(0, MAX_DETAILS) as unknown[]) {
          if (!isRecord(violation)) continue;
          const quotaId = asString(violation.quotaId);
          if (quotaId !== undefined) facts.quotaIds.push(quotaId);
        }
      }
      if ('retryDelay' in detail) facts.retryDelayMs ??= parseProtoDuration(detail.retryDelay);
      if (facts.detailCode === undefined) facts.detailCode = asString(detail.error_code);
    }
  }
  return facts;
}

/** The status an Anthropic error type implies, for error events that arrive in a 200 stream. */
function statusOfAnthropicType(type: string | undefined): number {
  switch (type) {
    case 'invalid_request_error':
      return 400;
    case 'authentication_error':
      return 401;
    case 'billing_error':
      return 402;
    case 'permission_error':
      return 403;
    case 'not_found_error':
      return 404;
    case 'request_too_large':
      return 413;
    case 'rate_limit_error':
      return 429;
    case 'overloaded_error':
      return 529;
    default:
      return 500;
  }
}

/**
 * The dimension a rate-limit error names: OpenAI's `error.type` (`tokens`, `requests`), a Gemini
 * quota id, or the wording of the message ("tokens per min (TPM)", "input tokens per minute",
 * "requests per day (RPD)"). `undefined` when nothing says.
 */
function dimensionOf(facts: ErrorFacts): Dimension | undefined {
  const message = facts.message?.toLowerCase() ?? '';
  const perDay = message.includes('per day') || message.includes('(rpd)') || message.includes('(tpd)');
  if (facts.type === 'tokens') return perDay ? 'tokens-per-day' : 'tokens';
  if (facts.type === 'requests') return perDay ? 'requests-per-day' : 'requests';
  for (const id of facts.quotaIds) {
    const lower = id.toLowerCase();
    if (lower.includes('inputtoken')) return 'input-tokens';
    if (lower.includes('outputtoken')) return 'output-tokens';
    if (lower.includes('token')) return 'tokens';
    if (lower.includes('request')) return 'requests';
  }
  if (message.includes('input tokens per min')) return 'input-tokens';
  if (message.includes('output tokens per min')) return 'output-tokens';
  if (message.includes('tokens per day') || message.includes('(tpd)')) return 'tokens-per-day';
  if (message.includes('requests per day') || message.includes('(rpd)')) return 'requests-per-day';
  if (message.includes('tokens per min') || message.includes('(tpm)')) return 'tokens';
  if (message.includes('requests per min') || message.includes('(rpm)')) return 'requests';
  return undefined;
}

/**
 * Reads the number after `label` in `message` ("Limit 30000", "Requested 31,538"), commas
 * allowed. A plain index search and digit scan: no regular expression over provider text.
 */
function numberAfter(message: string, label: string): number | undefined {
  const at = message.indexOf(label);
  if (at < 0) return undefined;
  let i = at + label.length;
  while (message[i] === ' ' || message[i] === ':') i++;
  let digits = '';
  for (; i < message.length; i++) {
    const c = message[i] as string;
    if (c >= '0' && c <= '9') digits += c;
    else if (c !== ',' || digits.length === 0) break;
  }
  return digits.length === 0 ? undefined : Number(digits);
}

/**
 * The wait an error message asks for: "Please try again in 1.574s" (any Go duration: `20ms`,
 * `6m0s`) or "try again in 30 seconds". `undefined` when there is none.
 */
function waitFromMessage(message: string | undefined): number | undefined {
  if (message === undefined) return undefined;
  const lower = message.toLowerCase();
  const label = 'try again in ';
  const at = lower.indexOf(label);
  if (at < 0) return undefined;
  const start = at + label.length;
  let end = start;
  // A Go duration is digits, dots and unit letters; stop at the first other character.
  while (end < lower.length && end - start < 40 && 'hmsuµμn0123456789.'.includes(lower[end] as string)) end++;
  let token = lower.slice(start, end);
  while (token.endsWith('.')) token = token.slice(0, -1); // the sentence's full stop
  const duration = parseGoDuration(token);
  if (duration !== undefined) return duration;
  const number = parseDecimal(token);
  if (number === undefined) return undefined;
  const unit = lower.slice(end).trimStart();
  if (unit.startsWith('second') || unit.startsWith('sec')) return number * 1000;
  if (unit.startsWith('minute') || unit.startsWith('min')) return number * 60_000;
  if (unit.startsWith('millisecond')) return number;
  return undefined;
}

/**
 * The wait the reset headers imply for a 429: the exhausted dimension's reset when the error
 * named one, else the longest reset among dimensions with nothing left (all of them must refill),
 * else the reset of the dimension with the smallest share left. Resets count until the bucket is
 * full again, so this errs long. `undefined` when no reset lies in the future.
 */
function waitFromResets(snapshot: RateLimitSnapshot, dimension: Dimension | undefined, now: number): number | undefined {
  const future = snapshot.observations.filter((o) => o.resetAt !== undefined && o.resetAt > now);
  if (future.length === 0) return undefined;
  const named = future.filter((o) => o.dimension === dimension);
  const exhausted = future.filter((o) => o.remaining === 0);
  let chosen = named.length > 0 ? named : exhausted;
  if (chosen.length === 0) {
    let best = Infinity;
    for (const o of future) {
      const share = o.remaining !== undefined && o.limit !== undefined && o.limit > 0 ? o.remaining / o.limit : 1;
      if (share < best) {
        best = share;
        chosen = [o];
      } else if (share === best) {
        chosen.push(o);
      }
    }
  }
  let wait = 0;
  for (const o of chosen) wait = Math.max(wait, (o.resetAt as number) - now);
  return wait;
}

type Retry = Extract<Triage, { action: 'retry-after' }>;

function retry(reason: Retry['reason'], waitMs: number | undefined, dimension: Dimension | undefined): Retry {
  return waitMs !== undefined && Number.isFinite(waitMs) && waitMs >= 0
    ? { action: 'retry-after', reason, retryAfterMs: waitMs, hinted: true, dimension }
    : { action: 'retry-after', reason, retryAfterMs: DEFAULT_RETRY_AFTER_MS, hinted: false, dimension };
}

/** Triage from the status and body alone, before `x-should-retry` is applied. */
function triageByStatus(status: number, facts: ErrorFacts, snapshot: RateLimitSnapshot, now: number): Triage {
  const message = facts.message;
  const hint = snapshot.retryAfterMs ?? facts.retryDelayMs;

  if (status === 529 || status === 503 || facts.type === 'overloaded_error') return retry('overloaded', hint, undefined);

  if (status === 429) {
    const lower = message?.toLowerCase() ?? '';
    if (facts.type === 'insufficient_quota' || facts.code === 'insufficient_quota') {
      return { action: 'never', reason: 'insufficient-quota', message };
    }
    if (facts.detailCode === 'enforced_spend_limit_reached' || lower.includes('spend limit')) {
      return { action: 'never', reason: 'spend-limit', message };
    }
    if (facts.quotaIds.some((id) => id.toLowerCase().includes('perday'))) {
      return { action: 'never', reason: 'daily-quota', message };
    }
    if (lower.startsWith('request too large') || lower.includes('tokens must be reduced')) {
      return {
        action: 'shrink',
        reason: 'request-too-large',
        limit: message === undefined ? undefined : numberAfter(message, 'Limit'),
        requested: message === undefined ? undefined : numberAfter(message, 'Requested'),
        message,
      };
    }
    const dimension = dimensionOf(facts);
    return retry('rate-limited', hint ?? waitFromMessage(message) ?? waitFromResets(snapshot, dimension, now), dimension);
  }

  if (status === 413) {
    return { action: 'shrink', reason: 'request-too-large', limit: undefined, requested: undefined, message };
  }
  if (status >= 500 || status === 408 || status === 409) return retry('server-error', hint, undefined);
  return { action: 'never', reason: 'client-error', message };
}

/**
 * Decides what to do about a provider response: nothing (`ok`), wait and retry (`retry-after`),
 * never retry as is (`never`), or retry only a smaller request (`shrink`).
 *
 * Rules, first match wins:
 * 1. Status 200–399 → `ok`. Exception: an Anthropic error event (`{ type: 'error', error: { type } }`)
 *    as the body of a 200 — errors that arrive inside an SSE stream — is triaged as the status its
 *    `error.type` implies (`overloaded_error` → 529, `rate_limit_error` → 429, …).
 * 2. 529, 503 or an Anthropic `overloaded_error` → `retry-after` / `overloaded`.
 * 3. 429:
 *    - OpenAI `insufficient_quota` (as `type` or `code`) → `never` / `insufficient-quota`;
 *    - Anthropic `error.details.error_code: enforced_spend_limit_reached`, or a message about a
 *      "spend limit" → `never` / `spend-limit`;
 *    - a Gemini `QuotaFailure` whose `quotaId` contains `PerDay` → `never` / `daily-quota`;
 *    - a message that starts "Request too large" or says the tokens "must be reduced" → `shrink`,
 *      with `limit` and `requested` read from "Limit N" and "Requested M";
 *    - otherwise `retry-after` / `rate-limited`, with `dimension` from OpenAI's `error.type`
 *      (`tokens`, `requests`; per-day when the message says so), a Gemini quota id or the message.
 * 4. 413 (Anthropic `request_too_large`) → `shrink`.
 * 5. 408, 409 and every status ≥ 500 → `retry-after` / `server-error`.
 * 6. Other statuses → `never` / `client-error`. A status that is not a number ≥ 100 (no response)
 *    is treated as a server error.
 * 7. Finally `x-should-retry: false` turns a `retry-after` into `never` / `should-not-retry`, and
 *    `x-should-retry: true` turns a `never` into `retry-after` (`rate-limited` for a 429, else
 *    `server-error`) — the providers' own override, as their SDKs honour it. A `shrink` stays a
 *    `shrink` either way: the same request cannot fit.
 *
 * The wait (`retryAfterMs`, ms) is the first of: `retry-after-ms`, `retry-after` (seconds or an
 * HTTP date), Gemini's `RetryInfo.retryDelay`, the message's "try again in 1.574s" (429 only),
 * the reset headers (429 only; see {@link parseRateLimitHeaders}), each with `hinted: true`;
 * else {@link DEFAULT_RETRY_AFTER_MS} (2,000 ms) with `hinted: false`. Hints are not capped:
 * unlike the openai SDK, which distrusts hints above 60 s, the caller decides how long is too long.
 *
 * Never throws, whatever the body (`null`, arrays, non-JSON text, missing fields).
 *
 * @param status - The HTTP status.
 * @param headers - The response headers, any {@link HeadersLike} shape. Optional.
 * @param body - The error body: parsed JSON, JSON text, or other text. Optional.
 * @param ref - Monotonic and wall-clock "now", used to turn reset headers into waits. Default:
 *   `{ now: 0, wallNow: Date.now() }`, the wall clock (the response's `Date` header is preferred when present).
 *
 * @example
 * ```ts
 * const triage = classify(response.status, response.headers, await response.text());
 * if (triage.action === 'retry-after') await sleep(triage.retryAfterMs);
 * else if (triage.action === 'shrink') shortenPrompt(triage.limit);
 * else if (triage.action === 'never') throw new Error(triage.message ?? triage.reason);
 * ```
 */
export function classify(status: number, headers?: HeadersLike, body?: unknown, ref?: TimeReference): Triage {
  try {
    return classifyUnchecked(status, headers, body, ref);
  } catch {
    // Only reachable through a hostile body (a throwing getter or Proxy): fall back to the status.
    if (status >= 200 && status < 400) return { action: 'ok' };
    if (status === 429 || status === 408 || status === 409 || !(status < 500))
      return retry(status === 429 ? 'rate-limited' : 'server-error', undefined, undefined);
    return status === 413
      ? { action: 'shrink', reason: 'request-too-large', limit: undefined, requested: undefined, message: undefined }
      : { action: 'never', reason: 'client-error', message: undefined };
  }
}

function classifyUnchecked(status: number, headers: HeadersLike | undefined, body: unknown, ref: TimeReference | undefined): Triage {
  let effectiveStatus = Number.isFinite(status) && status >= 100 ? status : 500;
  const facts = readErrorBody(body);
  if (effectiveStatus < 400) {
    if (!facts.anthropicEnvelope) return { action: 'ok' };
    effectiveStatus = statusOfAnthropicType(facts.type);
  }
  const map = readHeaders(headers);
  const time = ref ?? { now: 0, wallNow: Date.now() }; // why: a reset given as a wall-clock time needs the wall clock
  const snapshot = parseRateLimitMap(map, time);
  const triage = triageByStatus(effectiveStatus, facts, snapshot, time.now);

  const shouldRetry = map.get('x-should-retry')?.toLowerCase();
  if (shouldRetry === 'false' && triage.action === 'retry-after') {
    return { action: 'never', reason: 'should-not-retry', message: facts.message };
  }
  if (shouldRetry === 'true' && triage.action === 'never') {
    const dimension = effectiveStatus === 429 ? dimensionOf(facts) : undefined;
    return retry(effectiveStatus === 429 ? 'rate-limited' : 'server-error', snapshot.retryAfterMs ?? facts.retryDelayMs, dimension);
  }
  return triage;
}
