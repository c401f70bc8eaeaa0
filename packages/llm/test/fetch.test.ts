import { afterEach, describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { InvalidArgumentError, NOT_RUN, TooLargeError, WaitTimeoutError, type AcquireOptions, type Outcome } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';
import { LlmLimiter, type LlmLimiterOptions, type LlmPermit, type LlmRequest } from '../src/llm-limiter.js';
import { estimateTokensByChars, limiterFetch, wrapFetch, type FetchFunction } from '../src/fetch.js';
import { splitAt } from './support/split.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const TPM = 100_000;
const CHAT_URL = 'https://api.openai.com/v1/chat/completions';
const MESSAGES_URL = 'https://api.anthropic.com/v1/messages';

// ---- recorded-shape bodies ----

const OPENAI_REQUEST = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: 'You are a terse assistant.' },
    { role: 'user', content: 'Name three rivers in Europe, one line each.' },
  ],
  max_completion_tokens: 500,
};

const OPENAI_RESPONSE = {
  id: 'chatcmpl-AqN3',
  object: 'chat.completion',
  created: 1737000000,
  model: 'gpt-4o-mini-2024-07-18',
  choices: [
    { index: 0, message: { role: 'assistant', content: 'Danube\nRhine\nLoire', refusal: null }, logprobs: null, finish_reason: 'stop' },
  ],
  usage: {
    prompt_tokens: 31,
    completion_tokens: 9,
    total_tokens: 40,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  },
  service_tier: 'default',
  system_fingerprint: 'fp_72ed7ab54c',
};

const OPENAI_HEADERS = {
  'content-type': 'application/json',
  'openai-processing-ms': '312',
  'x-request-id': 'req_6b1c',
};

const ANTHROPIC_REQUEST = {
  model: 'claude-sonnet-4-5',
  max_tokens: 1024,
  system: [{ type: 'text', text: 'You answer in haiku.', cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: 'Describe a sluice gate.' }],
};

const ANTHROPIC_RESPONSE = {
  id: 'msg_013Zva2CMHLNnXjNJJKqJ2EF',
  type: 'message',
  role: 'assistant',
  model: 'claude-sonnet-4-5-20250929',
  content: [{ type: 'text', text: 'Water held in check\nthe gate lifts a measured inch\nthe river breathes out' }],
  stop_reason: 'end_turn',
  stop_sequence: null,
  usage: { input_tokens: 14, cache_creation_input_tokens: 0, cache_read_input_tokens: 1_800, output_tokens: 24, service_tier: 'standard' },
};

const GEMINI_REQUEST = {
  contents: [{ role: 'user', parts: [{ text: 'Explain backpressure in one sentence.' }] }],
  generationConfig: { maxOutputTokens: 256, temperature: 0.2 },
};

const GEMINI_RESPONSE = {
  candidates: [
    {
      content: { parts: [{ text: 'Backpressure lets a slow consumer slow the producer.' }], role: 'model' },
      finishReason: 'STOP',
      index: 0,
    },
  ],
  usageMetadata: { promptTokenCount: 9, candidatesTokenCount: 11, thoughtsTokenCount: 30, totalTokenCount: 50 },
  modelVersion: 'gemini-2.5-flash',
};

const OPENAI_STREAM =
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"Donau, Rhein — 莱茵河 🌊"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n' +
  'data: [DONE]\n\n';

const ANTHROPIC_STREAM_START =
  'event: message_start\n' +
  'data: {"type":"message_start","message":{"id":"msg_01XF","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}\n\n' +
  'event: content_block_start\n' +
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
  'event: ping\n' +
  'data: {"type": "ping"}\n\n';

const ANTHROPIC_STREAM =
  ANTHROPIC_STREAM_START +
  'event: content_block_delta\n' +
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Gate — ünïcödé ✓"}}\n\n' +
  'event: message_delta\n' +
  'data: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{"output_tokens":7}}\n\n' +
  'event: content_block_stop\n' +
  'data: {"type":"content_block_stop","index":0}\n\n' +
  'event: message_delta\n' +
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n' +
  'event: message_stop\n' +
  'data: {"type":"message_stop"}\n\n';

const ANTHROPIC_ERROR_STREAM = `${ANTHROPIC_STREAM_START}event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n`;

const RATE_LIMIT_BODY = {
  error: {
    message:
      'Rate limit reached for gpt-4o-mini in organization org-abc on tokens per min (TPM): Limit 200000, Used 199500, Requested 1200. Please try again in 7s.',
    type: 'tokens',
    param: null,
    code: 'rate_limit_exceeded',
  },
};

// ---- harness ----

interface Acquired {
  readonly request: LlmRequest;
  readonly options: AcquireOptions | undefined;
  readonly releases: (Outcome | undefined)[];
}

const limiters: LlmLimiter[] = [];

afterEach(() => {
  for (const limiter of limiters.splice(0)) limiter.close();
  vi.unstubAllGlobals();
});

/** A real limiter on a virtual clock whose permits record every release. */
function harness(options: Partial<LlmLimiterOptions> = {}) {
  const clock = new VirtualClock({ stallReportMs: false });
  const limiter = new LlmLimiter({ requestsPerMinute: 600, tokensPerMinute: TPM, clock, ...options });
  limiters.push(limiter);
  const acquired: Acquired[] = [];
  const acquire = limiter.acquire.bind(limiter);
  limiter.acquire = async (request?: number | LlmRequest, acquireOptions?: AcquireOptions): Promise<LlmPermit> => {
    const permit = await acquire(request, acquireOptions);
    const record: Acquired = { request: request as LlmRequest, options: acquireOptions, releases: [] };
    acquired.push(record);
    return {
      granted: true,
      inputTokens: permit.inputTokens,
      maxOutputTokens: permit.maxOutputTokens,
      release(outcome?: Outcome) {
        record.releases.push(outcome);
        permit.release(outcome);
      },
    };
  };
  const observed: unknown[][] = [];
  const observe = limiter.observe.bind(limiter);
  limiter.observe = (...args: Parameters<LlmLimiter['observe']>) => {
    observed.push(args);
    return observe(...args);
  };
  /** The only permit's outcomes; fails unless exactly one call acquired. */
  const only = (): Acquired => {
    expect(acquired).toHaveLength(1);
    return acquired[0] as Acquired;
  };
  return { clock, limiter, acquired, observed, only, tokens: () => limiter.remaining('tokens') };
}

/** A fake fetch that answers every call with `respond()` and records what it was called with. */
function fakeFetch(respond: (input: RequestInfo | URL, init?: RequestInit) => Response | Promise<Response>) {
  return vi.fn<FetchFunction>(async (input, init) => respond(input, init));
}

function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = OPENAI_HEADERS): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

/** A stream that hands out `chunks` one per pull, and records whether it was cancelled. */
function chunkedBody(chunks: readonly Uint8Array[], options: { failAfter?: number } = {}) {
  let index = 0;
  const state = { cancelled: false, reason: undefined as unknown };
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (options.failAfter !== undefined && index === options.failAfter) {
        controller.error(new TypeError('terminated: other side closed'));
        return;
      }
      const chunk = chunks[index++];
      if (chunk === undefined) controller.close();
      else controller.enqueue(chunk);
    },
    cancel(reason) {
      state.cancelled = true;
      state.reason = reason;
    },
  });
  return { stream, state };
}

function sseResponse(body: ReadableStream<Uint8Array> | string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status: 200,
    statusText: 'OK',
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_stream', ...headers },
  });
}

function post(body: unknown, extra: RequestInit = {}): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), ...extra };
}

async function readAll(response: Response): Promise<Uint8Array> {
  return new Uint8Array(await response.arrayBuffer());
}

function headerList(headers: Headers): [string, string][] {
  const list: [string, string][] = [];
  headers.forEach((value, name) => {
    list.push([name, value]);
  });
  return list;
}

/** Lets queued continuations (a pipe finishing, a release) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

// ---- tests ----

describe('estimateTokensByChars', () => {
  it('counts a quarter of the characters of every string value, keys excluded, rounded up', () => {
    expect(estimateTokensByChars('', { model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello there!' }] })).toBe(6);
    expect(estimateTokensByChars('', { aVeryLongKeyThatIsNotCounted: 1, b: true, c: null, d: 'abcde' })).toBe(2);
    expect(estimateTokensByChars('', 'just a string')).toBe(4);
    expect(estimateTokensByChars('', {})).toBe(0);
    expect(estimateTokensByChars('', null)).toBe(0);
  });

  it('survives deep nesting', () => {
    let deep: unknown = 'abcd';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(estimateTokensByChars('', deep)).toBe(1);
  });
});

describe('wrapFetch: arguments', () => {
  it('throws at once on a bad argument or option, naming it', () => {
    const { limiter } = harness();
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    expect(() => wrapFetch('fetch' as never, limiter)).toThrow(/fetchImpl/);
    expect(() => wrapFetch(fetchImpl, {} as never)).toThrow(/limiter/);
    expect(() => wrapFetch(fetchImpl, limiter, 5 as never)).toThrow(InvalidArgumentError);
    expect(() => wrapFetch(fetchImpl, limiter, { defaultMaxOutputTokens: -1 })).toThrow(/defaultMaxOutputTokens/);
    expect(() => wrapFetch(fetchImpl, limiter, { defaultMaxOutputTokens: 1.5 })).toThrow(/defaultMaxOutputTokens/);
    expect(() => wrapFetch(fetchImpl, limiter, { maxWaitMs: Number.NaN })).toThrow(/maxWaitMs/);
    expect(() => wrapFetch(fetchImpl, limiter, { estimateTokens: 3 as never })).toThrow(/estimateTokens/);
    expect(() => wrapFetch(fetchImpl, limiter, { priority: 'high' as never })).toThrow(/priority/);
    expect(() => wrapFetch(fetchImpl, limiter, { clock: {} as never })).toThrow(/clock/);
  });

  it('rejects the call when estimateTokens returns something that is not a count', async () => {
    const { limiter } = harness();
    const fetchImpl = fakeFetch(() => jsonResponse(OPENAI_RESPONSE));
    const limited = wrapFetch(fetchImpl, limiter, { estimateTokens: () => Number.NaN });
    await expect(limited(CHAT_URL, post(OPENAI_REQUEST))).rejects.toThrow(/estimateTokens/);
    expect(fetchImpl).not.toHaveBeenCalled();
  });
});

describe('wrapFetch: reservation', () => {
  it('reserves estimated input + max_completion_tokens while the call runs', async () => {
    const { limiter, tokens, only } = harness();
    const estimate = estimateTokensByChars('', OPENAI_REQUEST);
    let during = Number.NaN;
    const fetchImpl = fakeFetch(() => {
      during = tokens();
      return jsonResponse(OPENAI_RESPONSE);
    });
    await wrapFetch(fetchImpl, limiter)(CHAT_URL, post(OPENAI_REQUEST));
    expect(only().request).toEqual({ inputTokens: estimate, maxOutputTokens: 500 });
    expect(during).toBe(TPM - estimate - 500);
  });

  it('takes the output cap in the documented order, times n', async () => {
    const cases: [unknown, number][] = [
      [{ max_completion_tokens: 100, max_tokens: 200, max_output_tokens: 300 }, 100],
      [{ max_completion_tokens: null, max_tokens: 200, max_output_tokens: 300 }, 200],
      [{ max_output_tokens: 300 }, 300],
      [{ generationConfig: { maxOutputTokens: 400 } }, 400],
      [{ messages: [] }, 4096],
      [{ max_tokens: 'lots' }, 4096],
      [{ max_tokens: 100, n: 3 }, 300],
      [{ max_tokens: 100, n: 1 }, 100],
      [{ generationConfig: { maxOutputTokens: 50, candidateCount: 2 } }, 100],
      [[1, 2, 3], 4096],
    ];
    for (const [body, expected] of cases) {
      const { limiter, only } = harness();
      await wrapFetch(
        fakeFetch(() => jsonResponse({})),
        limiter,
      )(CHAT_URL, post(body));
      expect(only().request.maxOutputTokens, JSON.stringify(body)).toBe(expected);
    }
    const { limiter, only } = harness();
    await wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
      { defaultMaxOutputTokens: 64 },
    )(CHAT_URL, post({ messages: [] }));
    expect(only().request.maxOutputTokens).toBe(64);
  });

  it('uses a custom estimator with the raw text and the parsed body', async () => {
    const { limiter, only } = harness();
    const estimateTokens = vi.fn((text: string, json: unknown) => text.length + (json as { messages: unknown[] }).messages.length + 0.2);
    await wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
      { estimateTokens },
    )(CHAT_URL, post(OPENAI_REQUEST));
    const text = JSON.stringify(OPENAI_REQUEST);
    expect(estimateTokens).toHaveBeenCalledWith(text, OPENAI_REQUEST);
    expect(only().request.inputTokens).toBe(text.length + 3);
  });

  it('counts a body that is not JSON as 0 input tokens, and a call without a body as no tokens at all', async () => {
    const { limiter, acquired } = harness();
    const limited = wrapFetch(
      fakeFetch(() => new Response('ok', { headers: { 'content-type': 'text/plain' } })),
      limiter,
    );
    await limited(CHAT_URL, { method: 'POST', body: 'not json {' });
    await limited('https://api.openai.com/v1/models');
    await limited(CHAT_URL, { method: 'POST', body: new Blob(['{"messages":["hi"]}']) });
    expect(acquired.map((a) => a.request)).toEqual([
      { inputTokens: 0, maxOutputTokens: 4096 },
      { inputTokens: 0, maxOutputTokens: 0 },
      { inputTokens: 0, maxOutputTokens: 4096 },
    ]);
  });

  it('reads Uint8Array, ArrayBuffer and URLSearchParams bodies', async () => {
    const { limiter, acquired } = harness();
    const limited = wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
    );
    const bytes = encoder.encode(JSON.stringify({ prompt: 'abcdefgh', max_tokens: 10 }));
    await limited(CHAT_URL, { method: 'POST', body: bytes });
    await limited(CHAT_URL, { method: 'POST', body: bytes.slice().buffer });
    await limited(CHAT_URL, { method: 'POST', body: new URLSearchParams({ q: 'x' }) });
    expect(acquired.map((a) => a.request)).toEqual([
      { inputTokens: 2, maxOutputTokens: 10 },
      { inputTokens: 2, maxOutputTokens: 10 },
      { inputTokens: 0, maxOutputTokens: 4096 },
    ]);
  });

  it('reads a Request input from a clone, forwards it unread, and takes its signal', async () => {
    const { limiter, only } = harness();
    const controller = new AbortController();
    const request = new Request(CHAT_URL, { method: 'POST', body: JSON.stringify(OPENAI_REQUEST), signal: controller.signal });
    const fetchImpl = fakeFetch(async (input) => {
      expect(input).toBe(request);
      expect((input as Request).bodyUsed).toBe(false);
      expect(await (input as Request).json()).toEqual(OPENAI_REQUEST);
      return jsonResponse(OPENAI_RESPONSE);
    });
    await wrapFetch(fetchImpl, limiter)(request);
    expect(fetchImpl).toHaveBeenCalledWith(request);
    expect(only().request).toEqual({ inputTokens: estimateTokensByChars('', OPENAI_REQUEST), maxOutputTokens: 500 });
    expect(only().options?.signal).toBe(request.signal);
  });

  it('lets init.body override the Request body, as fetch does', async () => {
    const { limiter, only } = harness();
    const request = new Request(CHAT_URL, { method: 'POST', body: JSON.stringify({ prompt: 'x'.repeat(400) }) });
    await wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
    )(request, { body: JSON.stringify({ prompt: 'abcd', max_tokens: 1 }) });
    expect(only().request).toEqual({ inputTokens: 1, maxOutputTokens: 1 });
  });

  it('per call, x-sluice-priority and x-sluice-max-wait-ms headers override the options and are not forwarded', async () => {
    const { limiter, acquired } = harness();
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    const limited = wrapFetch(fetchImpl, limiter, { priority: () => 1, maxWaitMs: 5_000 });
    await limited(
      CHAT_URL,
      post(OPENAI_REQUEST, {
        headers: { 'content-type': 'application/json', 'x-sluice-priority': '9', 'x-sluice-max-wait-ms': '250', authorization: 'Bearer k' },
      }),
    );
    expect(acquired[0]?.options).toMatchObject({ priority: 9, maxWaitMs: 250 });
    const forwarded = new Headers(fetchImpl.mock.calls[0]?.[1]?.headers);
    expect(headerList(forwarded)).toEqual([
      ['authorization', 'Bearer k'],
      ['content-type', 'application/json'],
    ]);
    // without the headers, the options apply
    await limited(CHAT_URL, post(OPENAI_REQUEST));
    expect(acquired[1]?.options).toMatchObject({ priority: 1, maxWaitMs: 5_000 });
    await expect(limited(CHAT_URL, post(OPENAI_REQUEST, { headers: { 'x-sluice-priority': 'urgent' } }))).rejects.toThrow(
      /x-sluice-priority/,
    );
    await expect(limited(CHAT_URL, post(OPENAI_REQUEST, { headers: { 'x-sluice-max-wait-ms': '-1' } }))).rejects.toThrow(
      /x-sluice-max-wait-ms/,
    );
    expect(fetchImpl).toHaveBeenCalledTimes(2);
  });

  it('a call with a higher x-sluice-priority is served first while others wait', async () => {
    const { clock, limiter } = harness({ requestsPerMinute: 60, tokensPerMinute: undefined as never });
    const order: string[] = [];
    const limited = wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
      { clock },
    );
    const get = (label: string, priority?: number) =>
      limited(CHAT_URL, { method: 'GET', ...(priority === undefined ? {} : { headers: { 'x-sluice-priority': String(priority) } }) }).then(
        () => order.push(label),
      );
    // 60 a minute: the bucket holds 60, so drain it first
    await Promise.all(Array.from({ length: 60 }, (_, i) => get(`warm-${i}`)));
    order.length = 0;
    const calls = [get('first'), get('second'), get('urgent', 5)];
    await clock.settle(Promise.all(calls));
    expect(order).toEqual(['urgent', 'first', 'second']);
  });

  it('passes priority (from the URL and body), maxWaitMs and the init signal to acquire', async () => {
    const { limiter, only } = harness();
    const priority = vi.fn((url: string, json: unknown) =>
      url.endsWith('/chat/completions') && (json as { model: string }).model === 'gpt-4o-mini' ? 5 : 0,
    );
    const controller = new AbortController();
    await wrapFetch(
      fakeFetch(() => jsonResponse({})),
      limiter,
      { priority, maxWaitMs: 1_500 },
    )(new URL(CHAT_URL), post(OPENAI_REQUEST, { signal: controller.signal }));
    expect(priority).toHaveBeenCalledWith(CHAT_URL, OPENAI_REQUEST);
    expect(only().options).toEqual({ priority: 5, signal: controller.signal, maxWaitMs: 1_500 });
  });

  it('forwards input and init unchanged', async () => {
    const { limiter } = harness();
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    const init = post(OPENAI_REQUEST);
    const limited = wrapFetch(fetchImpl, limiter);
    await limited(CHAT_URL, init);
    await limited(CHAT_URL);
    expect(fetchImpl.mock.calls[0]).toEqual([CHAT_URL, init]);
    expect(fetchImpl.mock.calls[0]?.[1]).toBe(init);
    expect(fetchImpl.mock.calls[1]).toEqual([CHAT_URL]);
  });
});

describe('wrapFetch: refusals never reach the network', () => {
  it('rejects with TooLargeError when the request could never fit', async () => {
    const { limiter, tokens } = harness({ tokensPerMinute: 1_000 });
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    await expect(wrapFetch(fetchImpl, limiter)(CHAT_URL, post({ messages: [], max_tokens: 5_000 }))).rejects.toBeInstanceOf(TooLargeError);
    expect(fetchImpl).not.toHaveBeenCalled();
    expect(tokens()).toBe(1_000);
  });

  it('rejects with WaitTimeoutError past maxWaitMs', async () => {
    const { limiter, tokens } = harness({ tokensPerMinute: 1_000 });
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    const limited = wrapFetch(fetchImpl, limiter, { maxWaitMs: 1_000 });
    await limited(CHAT_URL, post({ messages: [], max_tokens: 900 }));
    expect(tokens()).toBe(100);
    await expect(limited(CHAT_URL, post({ messages: [], max_tokens: 900 }))).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
  });

  it('rejects with the abort reason when the signal aborts while waiting, holding nothing', async () => {
    const { limiter, clock, tokens, acquired } = harness({ tokensPerMinute: 1_000 });
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    const limited = wrapFetch(fetchImpl, limiter);
    await limited(CHAT_URL, post({ messages: [], max_tokens: 900 }));
    const controller = new AbortController();
    const waiting = limited(CHAT_URL, post({ messages: [], max_tokens: 900 }, { signal: controller.signal }));
    const outcome = expect(waiting).rejects.toThrow('caller gave up');
    await clock.advance(1_000);
    controller.abort(new Error('caller gave up'));
    await outcome;
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    expect(acquired).toHaveLength(1);
    expect(tokens()).toBeCloseTo(100 + 1_000 / 60, 6);
  });

  it('refunds everything (NOT_RUN) when the signal aborts as the permit arrives', async () => {
    const { limiter, tokens, only } = harness();
    const controller = new AbortController();
    const recorded = limiter.acquire;
    limiter.acquire = async (request, options) => {
      const permit = await recorded(request, options);
      controller.abort(new Error('too late'));
      return permit;
    };
    const fetchImpl = fakeFetch(() => jsonResponse({}));
    await expect(wrapFetch(fetchImpl, limiter)(CHAT_URL, post(OPENAI_REQUEST, { signal: controller.signal }))).rejects.toThrow('too late');
    expect(fetchImpl).not.toHaveBeenCalled();
    expect(only().releases).toEqual([NOT_RUN]);
    expect(tokens()).toBe(TPM);
  });
});

describe('wrapFetch: non-streaming responses', () => {
  it('OpenAI chat: reconciles to usage, returns the original response unread, releases once', async () => {
    const { limiter, clock, tokens, only, observed } = harness();
    const original = jsonResponse(OPENAI_RESPONSE);
    const fetchImpl = fakeFetch(async () => {
      await clock.advance(0); // time passes while the call runs
      return original;
    });
    const response = await wrapFetch(fetchImpl, limiter, { clock })(CHAT_URL, post(OPENAI_REQUEST));
    expect(response).toBe(original);
    expect(response.bodyUsed).toBe(false);
    expect(await response.json()).toEqual(OPENAI_RESPONSE);
    expect(only().releases).toEqual([{ ok: true, usage: { inputTokens: 31, outputTokens: 9, totalTokens: 40 }, durationMs: 0 }]);
    expect(tokens()).toBe(TPM - 40);
    expect(observed).toEqual([[original]]);
  });

  it('Anthropic: input is the uncached plus the two cache fields', async () => {
    const { limiter, tokens, only } = harness({ inputTokensPerMinute: 50_000, outputTokensPerMinute: 10_000 });
    const response = await wrapFetch(
      fakeFetch(() => jsonResponse(ANTHROPIC_RESPONSE, 200, { 'request-id': 'req_011' })),
      limiter,
    )(MESSAGES_URL, post(ANTHROPIC_REQUEST));
    expect(response.status).toBe(200);
    expect(only().request.maxOutputTokens).toBe(1024);
    expect(only().releases).toEqual([{ ok: true, usage: { inputTokens: 1_814, outputTokens: 24 }, durationMs: expect.any(Number) }]);
    expect(tokens()).toBe(TPM - 1_838);
    expect(limiter.remaining('input-tokens')).toBe(50_000 - 1_814);
    expect(limiter.remaining('output-tokens')).toBe(10_000 - 24);
  });

  it('Gemini: usageMetadata, thoughts counted as output', async () => {
    const { limiter, tokens, only } = harness();
    await wrapFetch(
      fakeFetch(() => jsonResponse(GEMINI_RESPONSE, 200, {})),
      limiter,
    )('https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent', post(GEMINI_REQUEST));
    expect(only().request.maxOutputTokens).toBe(256);
    expect(only().releases[0]).toMatchObject({ ok: true, usage: { inputTokens: 9, outputTokens: 41, totalTokens: 50 } });
    expect(tokens()).toBe(TPM - 50);
  });

  it('OpenAI Responses API usage', async () => {
    const { limiter, tokens, only } = harness();
    const body = {
      id: 'resp_1',
      object: 'response',
      status: 'completed',
      usage: { input_tokens: 120, input_tokens_details: { cached_tokens: 64 }, output_tokens: 30, total_tokens: 150 },
    };
    await wrapFetch(
      fakeFetch(() => jsonResponse(body)),
      limiter,
    )('https://api.openai.com/v1/responses', post({ model: 'gpt-4.1', input: 'hi', max_output_tokens: 200 }));
    expect(only().request.maxOutputTokens).toBe(200);
    expect(only().releases[0]).toMatchObject({ ok: true, usage: { inputTokens: 120, outputTokens: 30, totalTokens: 150 } });
    expect(tokens()).toBe(TPM - 150);
  });

  it('keeps the reservation (ok, no usage) when a 2xx body reports none, or is not JSON', async () => {
    const { limiter, tokens, acquired } = harness();
    const limited = wrapFetch(
      fakeFetch((input) =>
        String(input).endsWith('/speech')
          ? new Response(new Uint8Array([0xff, 0xfb, 0x90]), { headers: { 'content-type': 'audio/mpeg' } })
          : jsonResponse({ id: 'x', object: 'thing' }),
      ),
      limiter,
    );
    const reserved = estimateTokensByChars('', OPENAI_REQUEST) + 500;
    await limited(CHAT_URL, post(OPENAI_REQUEST));
    await limited('https://api.openai.com/v1/audio/speech', post(OPENAI_REQUEST));
    expect(acquired.map((a) => a.releases)).toEqual([
      [{ ok: true, durationMs: expect.any(Number) }],
      [{ ok: true, durationMs: expect.any(Number) }],
    ]);
    expect(tokens()).toBe(TPM - 2 * reserved);
  });

  it('keeps the reservation and rethrows when the network call fails', async () => {
    const { limiter, tokens, only } = harness();
    const failure = new TypeError('fetch failed');
    const limited = wrapFetch(
      fakeFetch(() => Promise.reject(failure)),
      limiter,
    );
    await expect(limited(CHAT_URL, post(OPENAI_REQUEST))).rejects.toBe(failure);
    expect(only().releases).toEqual([{ ok: false, error: failure, durationMs: expect.any(Number) }]);
    expect(tokens()).toBe(TPM - estimateTokensByChars('', OPENAI_REQUEST) - 500);
  });

  it('handles a fetchImpl that throws synchronously', async () => {
    const { limiter, only } = harness();
    const limited = wrapFetch(
      (() => {
        throw new TypeError('bad url');
      }) as FetchFunction,
      limiter,
    );
    await expect(limited(CHAT_URL, post(OPENAI_REQUEST))).rejects.toThrow('bad url');
    expect(only().releases).toHaveLength(1);
    expect(only().releases[0]?.ok).toBe(false);
  });

  it('releases { ok: false } once when the body cannot be cloned', async () => {
    const { limiter, only } = harness();
    const used = jsonResponse(OPENAI_RESPONSE);
    await used.text();
    const response = await wrapFetch(
      fakeFetch(() => used),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    expect(response).toBe(used);
    expect(only().releases).toEqual([{ ok: false, error: expect.any(TypeError), durationMs: expect.any(Number) }]);
  });
});

describe('wrapFetch: error statuses', () => {
  it('429 with retry-after: observes headers and body, pauses the limiter, keeps the reservation, returns the response untouched', async () => {
    const { limiter, tokens, only, observed } = harness();
    const text = JSON.stringify(RATE_LIMIT_BODY);
    const original = new Response(text, {
      status: 429,
      statusText: 'Too Many Requests',
      headers: {
        'content-type': 'application/json',
        'retry-after': '7',
        'x-ratelimit-limit-tokens': '200000',
        'x-ratelimit-remaining-tokens': '500',
        'x-ratelimit-reset-tokens': '7s',
        'x-request-id': 'req_429',
      },
    });
    const response = await wrapFetch(
      fakeFetch(() => original),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    expect(response).toBe(original);
    expect(response.bodyUsed).toBe(false);
    expect(await response.text()).toBe(text);
    expect(observed).toEqual([[original, text]]);
    expect(only().releases).toEqual([{ ok: false, durationMs: expect.any(Number) }]);
    // depends on classify.ts: a 429 rate_limit_exceeded with retry-after pauses intake
    expect(limiter.isPaused).toBe(true);
    expect(tokens()).toBeLessThanOrEqual(TPM - estimateTokensByChars('', OPENAI_REQUEST) - 500);
  });

  it('the pause holds back the next call until the hinted time', async () => {
    const { limiter, clock } = harness();
    const fetchImpl = fakeFetch(() =>
      fetchImpl.mock.calls.length === 1
        ? new Response(JSON.stringify(RATE_LIMIT_BODY), {
            status: 429,
            headers: { 'content-type': 'application/json', 'retry-after': '7' },
          })
        : jsonResponse(OPENAI_RESPONSE),
    );
    const limited = wrapFetch(fetchImpl, limiter);
    expect((await limited(CHAT_URL, post(OPENAI_REQUEST))).status).toBe(429);
    let done = false;
    const next = limited(CHAT_URL, post(OPENAI_REQUEST)).then((response) => {
      done = true;
      return response;
    });
    await clock.advance(6_999);
    expect(done).toBe(false);
    expect(fetchImpl).toHaveBeenCalledTimes(1);
    await clock.advance(1);
    expect((await next).status).toBe(200);
    expect(fetchImpl).toHaveBeenCalledTimes(2);
  });

  it('reads at most 64 KiB of a large error body, leaving the caller’s copy whole', async () => {
    const { limiter, observed, only } = harness();
    const big = 'x'.repeat(200 * 1024);
    const original = new Response(big, { status: 502, headers: { 'content-type': 'text/html' } });
    const response = await wrapFetch(
      fakeFetch(() => original),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    expect((observed[0]?.[1] as string | undefined)?.length).toBe(64 * 1024);
    expect((await response.text()).length).toBe(big.length);
    expect(only().releases).toHaveLength(1);
  });

  it('keeps working when observe throws', async () => {
    const { limiter, only } = harness();
    limiter.observe = () => {
      throw new Error('parser bug');
    };
    const response = await wrapFetch(
      fakeFetch(() => new Response('{}', { status: 500 })),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    expect(response.status).toBe(500);
    expect(only().releases).toEqual([{ ok: false, durationMs: expect.any(Number) }]);
  });
});

describe('wrapFetch: streaming responses', () => {
  it('OpenAI include_usage: passes the bytes through, settles when the stream ends, reconciles to the usage', async () => {
    const { limiter, tokens, only, observed } = harness();
    const bytes = encoder.encode(OPENAI_STREAM);
    const { stream } = chunkedBody(splitAt(bytes, [10, 200, 201, 400, 650]));
    const original = sseResponse(stream, { 'x-ratelimit-remaining-requests': '499' });
    const request = { ...OPENAI_REQUEST, stream: true, stream_options: { include_usage: true } };
    const response = await wrapFetch(
      fakeFetch(() => original),
      limiter,
    )(CHAT_URL, post(request));
    expect(response).not.toBe(original);
    expect(response.status).toBe(200);
    expect(response.statusText).toBe('OK');
    expect(headerList(response.headers)).toEqual(headerList(original.headers));
    expect(response.headers.get('x-ratelimit-remaining-requests')).toBe('499');
    expect(observed).toEqual([[original]]);
    expect(only().releases).toEqual([]); // nothing is settled before the stream is read
    expect(await readAll(response)).toEqual(bytes);
    await flush();
    expect(only().releases).toEqual([
      { ok: true, usage: { inputTokens: 19, outputTokens: 10, totalTokens: 29 }, durationMs: expect.any(Number) },
    ]);
    expect(tokens()).toBe(TPM - 29);
  });

  it('passes each chunk on as it arrives, without waiting for the next', async () => {
    const { limiter } = harness();
    let push: ((chunk: Uint8Array) => void) | undefined;
    let close: (() => void) | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => controller.enqueue(chunk);
        close = () => controller.close();
      },
    });
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(stream)),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = encoder.encode('data: {"choices":[{"delta":{"content":"par');
    push?.(first);
    expect((await reader.read()).value).toEqual(first);
    const second = encoder.encode('tial"}}]}\n\n');
    push?.(second);
    expect((await reader.read()).value).toEqual(second);
    close?.();
    expect((await reader.read()).done).toBe(true);
  });

  it('Anthropic: input from message_start, output from the LAST message_delta', async () => {
    const { limiter, tokens, only } = harness({ inputTokensPerMinute: 50_000, outputTokensPerMinute: 10_000 });
    const bytes = encoder.encode(ANTHROPIC_STREAM);
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(chunkedBody(splitAt(bytes, [333, 777])).stream, { 'request-id': 'req_s' })),
      limiter,
    )(MESSAGES_URL, post({ ...ANTHROPIC_REQUEST, stream: true }));
    expect(await readAll(response)).toEqual(bytes);
    await flush();
    expect(only().releases).toEqual([{ ok: true, usage: { inputTokens: 2_125, outputTokens: 15 }, durationMs: expect.any(Number) }]);
    expect(tokens()).toBe(TPM - 2_140);
    expect(limiter.remaining('output-tokens')).toBe(10_000 - 15);
  });

  it('an error event inside a 2xx stream counts as ok: false', async () => {
    const { limiter, only } = harness();
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(ANTHROPIC_ERROR_STREAM)),
      limiter,
    )(MESSAGES_URL, post(ANTHROPIC_REQUEST));
    expect(decoder.decode(await readAll(response))).toBe(ANTHROPIC_ERROR_STREAM);
    await flush();
    expect(only().releases).toEqual([{ ok: false, usage: { inputTokens: 2_125, outputTokens: 1 }, durationMs: expect.any(Number) }]);
  });

  it('a stream that ends without usage keeps the reservation (ok: false)', async () => {
    const { limiter, tokens, only } = harness();
    const text = 'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\ndata: [DONE]\n\n';
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(text)),
      limiter,
    )(CHAT_URL, post({ ...OPENAI_REQUEST, stream: true }));
    expect(await response.text()).toBe(text);
    await flush();
    expect(only().releases).toEqual([{ ok: false, durationMs: expect.any(Number) }]);
    expect(tokens()).toBe(TPM - (only().request.inputTokens ?? 0) - 500);
  });

  it('cancel by the consumer releases ok: false, keeping the reservation when no usage was seen', async () => {
    const { limiter, tokens, only } = harness();
    const { stream, state } = chunkedBody(splitAt(encoder.encode(OPENAI_STREAM), [100, 300]));
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(stream)),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    await reader.cancel(new Error('user stopped'));
    await flush();
    expect(state.cancelled).toBe(true);
    expect(only().releases).toEqual([
      { ok: false, error: expect.objectContaining({ message: 'user stopped' }), durationMs: expect.any(Number) },
    ]);
    expect(tokens()).toBe(TPM - (only().request.inputTokens ?? 0) - 500);
  });

  it('cancel after some usage was seen keeps the reservation: what was seen only bounds what is billed from below', async () => {
    const { limiter, tokens, only } = harness();
    const start = encoder.encode(ANTHROPIC_STREAM_START);
    const { stream } = chunkedBody([start, encoder.encode('event: content_block_delta\n')]);
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(stream)),
      limiter,
    )(MESSAGES_URL, post(ANTHROPIC_REQUEST));
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    expect((await reader.read()).value).toEqual(start);
    await reader.cancel();
    await flush();
    expect(only().releases).toEqual([{ ok: false, error: undefined, durationMs: expect.any(Number) }]);
    const { request } = only();
    expect(tokens()).toBe(TPM - (request.inputTokens ?? 0) - (request.maxOutputTokens ?? 0));
  });

  it('a stream that fails mid-way releases ok: false once and surfaces the error to the reader', async () => {
    const { limiter, only } = harness();
    const { stream } = chunkedBody(splitAt(encoder.encode(OPENAI_STREAM), [120]), { failAfter: 1 });
    const response = await wrapFetch(
      fakeFetch(() => sseResponse(stream)),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    await expect(response.text()).rejects.toThrow('terminated');
    await flush();
    expect(only().releases).toEqual([{ ok: false, error: expect.any(TypeError), durationMs: expect.any(Number) }]);
  });

  it('keeps the original url on the wrapped response', async () => {
    const { limiter } = harness();
    const original = sseResponse(OPENAI_STREAM);
    Object.defineProperty(original, 'url', { value: CHAT_URL });
    const response = await wrapFetch(
      fakeFetch(() => original),
      limiter,
    )(CHAT_URL, post(OPENAI_REQUEST));
    expect(response.url).toBe(CHAT_URL);
    await response.body?.cancel();
  });

  it('any split of a recorded stream into chunks gives the same bytes out and the same usage', async () => {
    const cases = [
      { bytes: encoder.encode(OPENAI_STREAM), usage: { inputTokens: 19, outputTokens: 10, totalTokens: 29 } },
      { bytes: encoder.encode(ANTHROPIC_STREAM), usage: { inputTokens: 2_125, outputTokens: 15 } },
      { bytes: encoder.encode(ANTHROPIC_STREAM.replace(/\n/g, '\r\n')), usage: { inputTokens: 2_125, outputTokens: 15 } },
    ];
    await fc.assert(
      fc.asyncProperty(
        fc
          .constantFrom(...cases)
          .chain((item) => fc.tuple(fc.constant(item), fc.array(fc.integer({ min: 0, max: item.bytes.length }), { maxLength: 30 }))),
        async ([{ bytes, usage }, cuts]) => {
          const { limiter, only } = harness();
          const response = await wrapFetch(
            fakeFetch(() => sseResponse(chunkedBody(splitAt(bytes, cuts)).stream)),
            limiter,
          )(CHAT_URL, post(OPENAI_REQUEST));
          expect(await readAll(response)).toEqual(bytes);
          await flush();
          expect(only().releases).toEqual([{ ok: true, usage, durationMs: expect.any(Number) }]);
          limiter.close();
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('limiterFetch', () => {
  it('calls the global fetch of the moment of the call', async () => {
    const { limiter, tokens } = harness();
    const limited = limiterFetch(limiter);
    const stubbed = fakeFetch(() => jsonResponse(OPENAI_RESPONSE));
    vi.stubGlobal('fetch', stubbed);
    const init = post(OPENAI_REQUEST);
    const response = await limited(CHAT_URL, init);
    expect(stubbed).toHaveBeenCalledWith(CHAT_URL, init);
    expect(await response.json()).toEqual(OPENAI_RESPONSE);
    expect(tokens()).toBe(TPM - 40);
  });
});

describe('limiter.fetch', () => {
  it('is one wrapped fetch over globalThis.fetch, looked up at each call', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const limiter = new LlmLimiter({ tokensPerMinute: 100_000, clock });
    expect(limiter.fetch).toBe(limiter.fetch);
    const original = globalThis.fetch;
    const calls: string[] = [];
    globalThis.fetch = (async (input: string | URL | Request) => {
      calls.push(String(input));
      return new Response(JSON.stringify({ usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } }), {
        headers: { 'content-type': 'application/json' },
      });
    }) as typeof fetch;
    try {
      const response = await limiter.fetch('http://127.0.0.1:1/v1/chat/completions', {
        method: 'POST',
        body: JSON.stringify({ model: 'm', max_tokens: 100, messages: [{ role: 'user', content: 'hi there' }] }),
      });
      expect(response.status).toBe(200);
      expect(calls).toEqual(['http://127.0.0.1:1/v1/chat/completions']);
      expect(limiter.remaining('tokens')).toBe(100_000 - 15);
    } finally {
      globalThis.fetch = original;
      limiter.close();
    }
  });
});
