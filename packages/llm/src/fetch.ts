import {
  InvalidArgumentError,
  NOT_RUN,
  checkFunction,
  checkNumber,
  checkOptions,
  optionKeys,
  systemClock,
  type AcquireOptions,
  type Clock,
  type Outcome,
  type TokenUsage,
  checkClock,
} from '@sluice/core';
import type { FetchLimiter } from './types.js';
import { SseUsageTracker, usageFromResponseBody } from './usage.js';

/**
 * What `fetch` takes first: a URL string, a `URL`, or a `Request`. It is the DOM's
 * `RequestInfo | URL`, spelled out so the declarations also compile in a Node project without the
 * DOM lib (Node's global `fetch` takes exactly these three).
 */
export type FetchInput = string | URL | Request;

/**
 * The standard `fetch` signature, as the `openai` and `@anthropic-ai/sdk` clients accept it in
 * their `fetch` option. The runtime's own `fetch` (the DOM's, or Node's global one) is one, and
 * a `FetchFunction` can stand wherever `typeof fetch` is expected.
 */
export type FetchFunction = (input: FetchInput, init?: RequestInit) => Promise<Response>;

/** A request body as `RequestInit.body` holds it (the DOM's `BodyInit | null`). */
type RequestBodyInit = Exclude<RequestInit['body'], undefined>;

/** Options of {@link wrapFetch} and {@link limiterFetch}. Every one is optional. */
export interface WrapFetchOptions {
  /**
   * Estimates a request's input tokens from its body: `text` is the body as sent, `json` the same
   * body parsed. Called only for bodies that parse as JSON (any other body counts 0 input tokens).
   * Must return a finite number ≥ 0; it is rounded up to a whole token.
   *
   * Default {@link estimateTokensByChars}: a quarter of the characters in the body's string
   * values. Plug in a real tokenizer for tighter reservations, e.g. a function that encodes
   * each message's content with `js-tiktoken` and adds the few tokens of per-message overhead.
   * Whatever the estimate, the reservation is reconciled to the provider's reported usage after
   * the call, so an estimate only decides how much is held while the call runs.
   */
  readonly estimateTokens?: (text: string, json: unknown) => number;
  /**
   * Output tokens reserved when the request body names no cap (`max_completion_tokens`,
   * `max_tokens`, `max_output_tokens`, `generationConfig.maxOutputTokens`). An integer ≥ 0;
   * default 4096. A request without any body (a `GET`) reserves no tokens at all, only one request.
   */
  readonly defaultMaxOutputTokens?: number;
  /**
   * The priority of a call (larger is more urgent; any finite number), from its URL and parsed
   * body (`undefined` when not JSON). Default: 0 for every call.
   */
  readonly priority?: (url: string, json: unknown) => number;
  /**
   * Longest wait for the limiter, ms, before the call is rejected with a `WaitTimeoutError`
   * without reaching the network; `0` means "now or never". Default: no limit.
   */
  readonly maxWaitMs?: number;
  /**
   * Clock used to time calls (`durationMs` in the release outcome). Default `systemClock`; pass the
   * limiter's clock in tests and simulations.
   */
  readonly clock?: Clock;
}

/** Default output cap reserved per call, in tokens. */
const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/** Most of an error body read for the triage, in bytes: provider error bodies are a few hundred. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

/**
 * Rough input-token estimate of a request body: the total length of every string value in the
 * parsed JSON (recursively; object keys are not counted) divided by 4, rounded up. Numbers,
 * booleans and `null` count nothing. `text` is ignored.
 *
 * Chars/4 matches English prose and, since it also counts the model name, roles and tool schemas,
 * tends to come out high there; it is low for CJK text (about one token per character) and far
 * too high for inline base64 images (which providers bill at a fixed size). It is a reservation,
 * reconciled after the call, so an error only changes how much quota is held while the call
 * runs. Pass `estimateTokens` to {@link wrapFetch} to use a real tokenizer.
 *
 * @param text - the raw body (unused; present so it fits `estimateTokens`).
 * @param json - the parsed body.
 * @returns tokens, an integer ≥ 0 (0 for a body with no strings).
 *
 * @example
 * ```ts
 * import { estimateTokensByChars } from '@sluice/llm';
 * estimateTokensByChars('', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello there!' }] });
 * // → 6 (22 characters: "gpt-4o" + "user" + "Hello there!")
 * ```
 */
export function estimateTokensByChars(text: string, json: unknown): number {
  void text;
  let chars = 0;
  // an explicit stack: a deeply nested body must not overflow the call stack
  const pending: unknown[] = [json];
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') chars += value.length;
    else if (Array.isArray(value)) for (const item of value) pending.push(item);
    else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) pending.push(item);
  }
  return Math.ceil(chars / 4);
}

const WRAP_FETCH_KEYS = optionKeys<WrapFetchOptions>()({
  estimateTokens: true,
  defaultMaxOutputTokens: true,
  priority: true,
  maxWaitMs: true,
  clock: true,
});

/**
 * Wraps a `fetch` so every call goes through an `LlmLimiter` (any {@link FetchLimiter}): a drop-in `fetch` for the
 * official `openai` and `@anthropic-ai/sdk` clients (their `fetch` option), or for any code that
 * calls an LLM HTTP API with `fetch`.
 *
 * Per call:
 * 1. **Reserve.** The request body (a string, `URLSearchParams`, bytes, or a `Request`'s body read
 *    from a clone) is parsed as JSON; its input tokens are estimated (`estimateTokens`) and its
 *    output cap read from `max_completion_tokens` ?? `max_tokens` ?? `max_output_tokens` ??
 *    `generationConfig.maxOutputTokens` ?? `defaultMaxOutputTokens`, times `n` (or Gemini's
 *    `candidateCount`) when above 1. `limiter.acquire` then waits for room, honouring the call's
 *    `signal`, `maxWaitMs` and `priority`. A refusal (`TooLargeError`, `WaitTimeoutError`, an
 *    abort) rejects the call without touching the network; a signal that aborts just as the
 *    permit arrives refunds it. A call without a body (a `GET`) reserves one request, no tokens.
 * 2. **Forward** the call unchanged (same `input` and `init`).
 * 3. **Settle** — exactly one release per call:
 *    - the network call throws: the reservation is kept (the provider may have counted it), and
 *      the error rethrown;
 *    - status ≥ 400: the error body (up to 64 KiB, read from a clone) and headers go to
 *      `limiter.observe`, so a retryable 429 pauses the limiter for everyone; the reservation is
 *      kept and the response returned untouched (the SDK's own retries then wait in the limiter);
 *    - other statuses (2xx) with a JSON body: headers go to `observe`, the usage is read from a clone of the body and the
 *      reservation reconciled to it (kept when the body reports none), and the original response
 *      returned with its body unread (so the call resolves once the body has arrived, which the
 *      SDK waits for anyway); any other 2xx body (audio, NDJSON) is not read, and its
 *      reservation is kept;
 *    - 2xx with `text/event-stream`: the body is passed through chunk by chunk, untouched and without
 *      delay, while its events are watched for usage ({@link SseUsageTracker}); the permit is
 *      settled when the stream ends, is cancelled by the reader, or fails: reconciled to the
 *      usage seen, if any, else kept; `ok` only for a stream that ended normally with usage and
 *      no error event. The returned `Response` has the original status, status text
 *      and headers. A stream nobody reads to the end or cancels is never settled: its
 *      reservation simply stands, as when no usage arrives.
 *
 * Per call, the request headers `x-sluice-priority` and `x-sluice-max-wait-ms` (numbers;
 * {@link PRIORITY_HEADER}, {@link MAX_WAIT_HEADER}) take precedence over the `priority` and
 * `maxWaitMs` options — SDKs let a caller set headers per request — and are removed from
 * `init.headers` before the request leaves (a `Request` input is forwarded as it is). A value
 * that is not a number rejects the call with an `InvalidArgumentError`.
 *
 * @param fetchImpl - the `fetch` to call, e.g. `globalThis.fetch` or a proxy-aware one.
 * @param limiter - the limiter every call acquires from.
 * @param options - see {@link WrapFetchOptions}.
 * @throws InvalidArgumentError for a bad argument or option, at once.
 *
 * @example
 * ```ts fragment
 * import OpenAI from 'openai';
 * import { LlmLimiter, wrapFetch } from '@sluice/llm';
 *
 * const limiter = new LlmLimiter({ requestsPerMinute: 500, tokensPerMinute: 200_000 });
 * const client = new OpenAI({ fetch: wrapFetch(globalThis.fetch, limiter, { maxWaitMs: 30_000 }) });
 * ```
 */
export function wrapFetch(fetchImpl: FetchFunction, limiter: FetchLimiter, options?: WrapFetchOptions): FetchFunction {
  checkFunction('wrapFetch', 'fetchImpl', fetchImpl);
  if (typeof limiter !== 'object' || limiter === null || typeof (limiter as Partial<FetchLimiter>).acquire !== 'function') {
    throw new InvalidArgumentError('wrapFetch', 'limiter', 'an LlmLimiter', limiter);
  }
  const o = checkOptions('wrapFetch', options, WRAP_FETCH_KEYS);
  checkFunction('wrapFetch', 'estimateTokens', o.estimateTokens, true);
  checkFunction('wrapFetch', 'priority', o.priority, true);
  const estimate = o.estimateTokens ?? estimateTokensByChars;
  const priorityOf = o.priority;
  const defaultMaxOutputTokens = checkNumber('wrapFetch', 'defaultMaxOutputTokens', o.defaultMaxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS, {
    min: 0,
    integer: true,
  });
  const maxWaitMs =
    o.maxWaitMs === undefined ? undefined : checkNumber('wrapFetch', 'maxWaitMs', o.maxWaitMs, { min: 0, allowInfinity: true });
  const clock = checkClock('wrapFetch', o.clock) ?? systemClock;

  return async function limitedFetch(input: FetchInput, callInit?: RequestInit): Promise<Response> {
    let init = callInit;
    const request = isRequestLike(input) ? input : undefined;
    const body = await readRequestBody(request, init);
    let json: unknown;
    let parsed = false;
    if (body.text !== undefined) {
      try {
        json = JSON.parse(body.text);
        parsed = true;
      } catch {
        // not JSON: counted as 0 input tokens
      }
    }
    let inputTokens = 0;
    if (parsed) {
      const estimated = estimate(body.text as string, json);
      if (!(typeof estimated === 'number' && Number.isFinite(estimated) && estimated >= 0)) {
        throw new InvalidArgumentError(`${limiter.name}: fetch`, 'estimateTokens()', 'a finite number ≥ 0', estimated);
      }
      inputTokens = Math.ceil(estimated);
    }
    const maxOutputTokens = body.present ? outputCapOf(json, defaultMaxOutputTokens) : 0;
    const signal = init?.signal ?? request?.signal ?? undefined;
    const perCall = callOptions(limiter.name, request, init);
    if (perCall.init !== undefined) init = perCall.init;
    const callMaxWaitMs = perCall.maxWaitMs ?? maxWaitMs;
    const acquireOptions: AcquireOptions = {
      priority: perCall.priority ?? (priorityOf === undefined ? 0 : priorityOf(urlOf(input), json)),
      ...(signal === undefined ? {} : { signal }),
      ...(callMaxWaitMs === undefined ? {} : { maxWaitMs: callMaxWaitMs }),
    };
    const permit = await limiter.acquire({ inputTokens, maxOutputTokens }, acquireOptions);

    if (signal?.aborted === true) {
      // aborted as the permit arrived: the call never leaves, so nothing was used
      permit.release(NOT_RUN);
      throw signal.reason;
    }

    const started = clock.now();
    let released = false;
    const release = (outcome: Outcome): void => {
      if (released) return;
      released = true;
      permit.release({ ...outcome, durationMs: clock.now() - started });
    };

    let response: Response;
    try {
      response = await (init === undefined ? fetchImpl(input) : fetchImpl(input, init));
    } catch (error) {
      release({ ok: false, error });
      throw error;
    }

    let streamSettles = false;
    try {
      if (response.status >= 400) {
        const text = await readErrorBody(response);
        observe(limiter, response, text);
        release({ ok: false });
        return response;
      }
      observe(limiter, response, undefined);
      const contentType = response.headers.get('content-type') ?? '';
      if (response.body !== null && contentType.toLowerCase().includes('text/event-stream')) {
        const wrapped = trackStream(response, release);
        streamSettles = true;
        return wrapped;
      }
      if (response.body !== null && isJsonType(contentType)) {
        let text: string;
        try {
          text = await response.clone().text();
        } catch (error) {
          // the body failed mid-way: the caller will see the same error when it reads
          release({ ok: false, error });
          return response;
        }
        let usage: TokenUsage | undefined;
        try {
          usage = usageFromResponseBody(JSON.parse(text));
        } catch {
          usage = undefined;
        }
        release(usage === undefined ? { ok: true } : { ok: true, usage });
        return response;
      }
      release({ ok: true });
      return response;
    } finally {
      // whatever went wrong above (a clone of a locked body, a bad Response), settle once
      if (!streamSettles) release({ ok: false });
    }
  };
}

/**
 * {@link wrapFetch} over the runtime's global `fetch`, looked up at each call rather than when
 * wrapping, so a `fetch` installed or stubbed later is used.
 *
 * @param limiter - the limiter every call acquires from.
 * @param options - see {@link WrapFetchOptions}.
 * @returns a `fetch` for the `openai` or `@anthropic-ai/sdk` client's `fetch` option.
 *
 * @example
 * ```ts fragment
 * import Anthropic from '@anthropic-ai/sdk';
 * import { LlmLimiter, limiterFetch } from '@sluice/llm';
 *
 * const limiter = new LlmLimiter({ requestsPerMinute: 50, inputTokensPerMinute: 40_000, outputTokensPerMinute: 8_000 });
 * const client = new Anthropic({ fetch: limiterFetch(limiter) });
 * ```
 */
export function limiterFetch(limiter: FetchLimiter, options?: WrapFetchOptions): FetchFunction {
  return wrapFetch((input, init) => (init === undefined ? globalThis.fetch(input) : globalThis.fetch(input, init)), limiter, options);
}

// ---- internals ----

/**
 * Returns a `Response` whose body is `response`'s, passed through unchanged while the SSE events
 * are watched for usage; settles the permit once, when the stream ends, fails or is cancelled.
 */
function trackStream(response: Response, release: (outcome: Outcome) => void): Response {
  const tracker = new SseUsageTracker();
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      controller.enqueue(chunk); // first: the reader never waits on the parsing
      tracker.write(chunk);
    },
  });
  // pipeTo settles on every path: resolved when the source ended and the last chunk went through;
  // rejected when the source failed or the reader cancelled (cancel errors the writable side)
  (response.body as ReadableStream<Uint8Array>).pipeTo(writable).then(
    () => {
      tracker.end();
      const usage = tracker.usage;
      if (usage === undefined) release({ ok: false });
      else release(tracker.failed ? { ok: false, usage } : { ok: true, usage });
    },
    (error: unknown) => {
      // cut off (cancelled or failed): what was seen so far is only a lower bound of what the
      // provider generated and bills, so the reservation stands
      release({ ok: false, error });
    },
  );
  const wrapped = new Response(readable, { status: response.status, statusText: response.statusText, headers: response.headers });
  // a constructed Response has an empty url; keep the original's for SDK logs and errors
  Object.defineProperty(wrapped, 'url', { value: response.url, enumerable: true });
  Object.defineProperty(wrapped, 'redirected', { value: response.redirected, enumerable: true });
  return wrapped;
}

/** Calls `limiter.observe`, never letting a header or body it cannot read fail the call. */
function observe(limiter: FetchLimiter, response: Response, body: string | undefined): void {
  try {
    if (body === undefined) limiter.observe(response);
    else limiter.observe(response, body);
  } catch {
    // observation is advisory: the call itself succeeded or failed on its own terms
  }
}

/** Reads up to {@link MAX_ERROR_BODY_BYTES} of a clone of the error body; `undefined` if unreadable. */
async function readErrorBody(response: Response): Promise<string | undefined> {
  let stream: ReadableStream<Uint8Array> | null;
  try {
    stream = response.clone().body;
  } catch {
    return undefined;
  }
  if (stream === null) return '';
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let bytes = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return text + decoder.decode();
      const room = MAX_ERROR_BODY_BYTES - bytes;
      const piece = value.byteLength > room ? value.subarray(0, room) : value;
      text += decoder.decode(piece, { stream: true });
      bytes += piece.byteLength;
      if (bytes >= MAX_ERROR_BODY_BYTES) {
        // cancelling the clone leaves the caller's copy of the body intact
        reader.cancel().catch(() => undefined);
        return text + decoder.decode();
      }
    }
  } catch {
    return text.length > 0 ? text : undefined;
  }
}

interface RequestBody {
  /** A body was sent (even one that could not be read as text). */
  readonly present: boolean;
  /** The body as text, when it could be read. */
  readonly text: string | undefined;
}

const NO_BODY: RequestBody = { present: false, text: undefined };
const UNREADABLE_BODY: RequestBody = { present: true, text: undefined };

/** The request body as text: `init.body` when given (it overrides a `Request`'s), else the `Request`'s. */
async function readRequestBody(request: Request | undefined, init: RequestInit | undefined): Promise<RequestBody> {
  if (init !== undefined && init.body !== undefined) return bodyInitText(init.body);
  if (request === undefined || request.body === null || request.body === undefined) return NO_BODY;
  try {
    return { present: true, text: await request.clone().text() };
  } catch {
    return UNREADABLE_BODY; // already read, or a stream that failed
  }
}

function bodyInitText(body: RequestBodyInit): RequestBody {
  if (body === null) return NO_BODY;
  if (typeof body === 'string') return { present: true, text: body };
  if (typeof URLSearchParams !== 'undefined' && body instanceof URLSearchParams) return { present: true, text: body.toString() };
  if (ArrayBuffer.isView(body)) {
    return { present: true, text: new TextDecoder().decode(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)) };
  }
  if (body instanceof ArrayBuffer) return { present: true, text: new TextDecoder().decode(body) };
  return UNREADABLE_BODY; // Blob, FormData, ReadableStream: not read, so not consumed
}

/** The output tokens a request may produce: its cap (or the default) × its number of choices. */
function outputCapOf(json: unknown, fallback: number): number {
  const body = isRecord(json) ? json : undefined;
  const generation = body === undefined ? undefined : isRecord(body.generationConfig) ? body.generationConfig : undefined;
  const cap =
    tokenCount(body?.max_completion_tokens) ??
    tokenCount(body?.max_tokens) ??
    tokenCount(body?.max_output_tokens) ??
    tokenCount(generation?.maxOutputTokens) ??
    fallback;
  const choices = tokenCount(body?.n) ?? tokenCount(generation?.candidateCount);
  return choices !== undefined && choices > 1 ? cap * choices : cap;
}

function tokenCount(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.ceil(value) : undefined;
}

/** JSON content types (`application/json`, `application/problem+json`), or none given; not NDJSON/JSONL. */
function isJsonType(contentType: string): boolean {
  return contentType === '' || /(?:^|[/+])json(?:$|[\s;])/i.test(contentType);
}

/** Request header that sets one call's priority (a finite number), read and removed by {@link wrapFetch}. */
export const PRIORITY_HEADER = 'x-sluice-priority';
/** Request header that sets one call's `maxWaitMs` (a number ≥ 0), read and removed by {@link wrapFetch}. */
export const MAX_WAIT_HEADER = 'x-sluice-max-wait-ms';

/**
 * The per-call overrides in the request's headers, and the `init` to forward without them (when
 * they came in `init.headers`). A bad value rejects the call.
 */
function callOptions(
  name: string,
  request: Request | undefined,
  init: RequestInit | undefined,
): { priority: number | undefined; maxWaitMs: number | undefined; init: RequestInit | undefined } {
  const source = init?.headers !== undefined ? new Headers(init.headers) : request?.headers;
  const priorityText = source?.get(PRIORITY_HEADER) ?? null;
  const maxWaitText = source?.get(MAX_WAIT_HEADER) ?? null;
  if (priorityText === null && maxWaitText === null) return { priority: undefined, maxWaitMs: undefined, init: undefined };
  const priority = priorityText === null ? undefined : checkNumber(`${name}: fetch`, PRIORITY_HEADER, Number(priorityText));
  const maxWaitMs =
    maxWaitText === null ? undefined : checkNumber(`${name}: fetch`, MAX_WAIT_HEADER, Number(maxWaitText), { min: 0, allowInfinity: true });
  if (init?.headers === undefined) return { priority, maxWaitMs, init: undefined };
  const headers = new Headers(init.headers);
  headers.delete(PRIORITY_HEADER);
  headers.delete(MAX_WAIT_HEADER);
  return { priority, maxWaitMs, init: { ...init, headers } };
}

function isRequestLike(input: unknown): input is Request {
  return (
    typeof input === 'object' &&
    input !== null &&
    typeof (input as Request).url === 'string' &&
    typeof (input as Request).clone === 'function'
  );
}

function urlOf(input: FetchInput): string {
  if (typeof input === 'string') return input;
  if (isRequestLike(input)) return input.url;
  return input.href;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
