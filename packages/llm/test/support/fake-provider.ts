// A local stand-in for the OpenAI Chat Completions and Anthropic Messages endpoints, speaking
// their wire formats closely enough for the official SDKs: JSON and SSE bodies, rate-limit
// headers on every response, and a scripted 429 on request. It listens on 127.0.0.1 only.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Per-minute limits the fake provider reports in its headers. */
export interface ProviderLimits {
  readonly requests: number;
  readonly tokens: number;
  /** Anthropic only. */
  readonly inputTokens?: number;
  /** Anthropic only. */
  readonly outputTokens?: number;
}

/**
 * Scenario of one call, chosen by the `x-test-scenario` request header (the SDKs send it on
 * every attempt when given as a per-request header):
 * - absent: a normal answer;
 * - `rate-limit-once:<key>`: the first attempt carrying that key is answered 429, later ones normally;
 * - `cut-off`: a stream that sends its first events and then stays open until the client hangs up.
 */
export const SCENARIO_HEADER = 'x-test-scenario';

/** One request the provider received. */
export interface ProviderHit {
  /** `performance.now()` when the whole request body had arrived. */
  readonly at: number;
  readonly path: string;
  /** Status answered. */
  readonly status: number;
  /** The SDK's `x-stainless-retry-count` header (0 on a first attempt). */
  readonly retryCount: number;
  readonly scenario: string | undefined;
  /** The request body as sent. */
  readonly bodyText: string;
  /** What the test's probe returned as the request arrived (the limiter's levels, say). */
  readonly probe: unknown;
  /** Settles when the response is over: `completed`, or `client-closed` if the client hung up first. */
  readonly finished: Promise<'completed' | 'client-closed'>;
}

// ---- what the provider answers ----

/** Text of every answer: multi-byte characters, so a stream cut inside one would show. */
export const ANSWER_PIECES: readonly string[] = ['Donau, ', 'Rhein — ', '莱茵河 ', '🌊 and the Loire.'];
export const ANSWER = ANSWER_PIECES.join('');

/** Usage reported by the OpenAI endpoint, tokens. */
export const OPENAI_USAGE = { prompt_tokens: 23, completion_tokens: 11, total_tokens: 34 } as const;

/** Usage reported by the Anthropic endpoint, tokens (input is uncached + cache write + cache read). */
export const ANTHROPIC_USAGE = {
  input_tokens: 12,
  cache_creation_input_tokens: 40,
  cache_read_input_tokens: 100,
  output_tokens: 9,
} as const;

/** Input tokens the limiter should settle an Anthropic call at: the three input fields together. */
export const ANTHROPIC_INPUT_TOTAL =
  ANTHROPIC_USAGE.input_tokens + ANTHROPIC_USAGE.cache_creation_input_tokens + ANTHROPIC_USAGE.cache_read_input_tokens;

/** The wait the scripted OpenAI 429 asks for, ms (`retry-after-ms`; `retry-after` rounds it up to 1 s). */
export const OPENAI_RETRY_AFTER_MS = 700;
/** The wait the scripted Anthropic 429 asks for, s (`retry-after`). */
export const ANTHROPIC_RETRY_AFTER_S = 1;

/**
 * A Go-style duration as OpenAI writes its reset headers: `12ms`, `1.5s`, `45s`, `6m0s`, `1h2m3s`.
 * Precondition: `ms` ≥ 0.
 */
export function goDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Math.round(ms % 60_000) / 1000;
  return `${hours > 0 ? `${hours}h` : ''}${hours > 0 || minutes > 0 ? `${minutes}m` : ''}${seconds}s`;
}

/** An RFC 3339 timestamp `ms` from now, whole seconds, as Anthropic writes its reset headers. */
function rfc3339In(ms: number): string {
  return new Date(Date.now() + ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The fake provider. Every response carries rate-limit headers describing its view of the quota:
 * by default a bucket holding the limit minus this call's usage (so it never reports less than a
 * client-side limiter with the same limits already holds); set `tokensRemaining` to report less.
 */
export class FakeProvider {
  /** Every request received, in arrival order. */
  readonly hits: ProviderHit[] = [];
  /** Called as each request arrives; what it returns is kept in {@link ProviderHit.probe}. */
  probe: (() => unknown) | undefined;
  /**
   * When set, the tokens the headers report left (`x-ratelimit-remaining-tokens`, and Anthropic's
   * `anthropic-ratelimit-{tokens,input-tokens,output-tokens}-remaining`, rounded to thousands).
   */
  tokensRemaining: number | undefined;

  private readonly limitedKeys = new Set<string>();
  private readonly openStreams = new Set<ServerResponse>();

  private constructor(
    private readonly server: Server,
    readonly baseUrl: string,
    private readonly openaiLimits: ProviderLimits,
    private readonly anthropicLimits: ProviderLimits,
  ) {}

  /** Starts a provider on 127.0.0.1 at a free port. */
  static async start(limits: { readonly openai: ProviderLimits; readonly anthropic: ProviderLimits }): Promise<FakeProvider> {
    let provider: FakeProvider | undefined;
    const server = createServer((request, response) => {
      if (provider === undefined) {
        response.writeHead(503).end();
        return;
      }
      provider.handle(request, response).catch((error: unknown) => {
        response.destroy(error instanceof Error ? error : new Error(String(error)));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    provider = new FakeProvider(server, `http://127.0.0.1:${port}`, limits.openai, limits.anthropic);
    return provider;
  }

  /** Forgets the hits, the probe, the scripted 429s and the reported view. */
  reset(): void {
    this.hits.length = 0;
    this.probe = undefined;
    this.tokensRemaining = undefined;
    this.limitedKeys.clear();
  }

  /** Closes every connection (streams held open included) and the server. */
  async close(): Promise<void> {
    for (const response of this.openStreams) response.destroy();
    this.openStreams.clear();
    const closed = new Promise<void>((resolve, reject) => this.server.close((error) => (error === undefined ? resolve() : reject(error))));
    this.server.closeAllConnections();
    await closed;
  }

  // ---- request handling ----

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const at = performance.now();
    const bodyText = Buffer.concat(chunks).toString('utf8');
    const path = (request.url ?? '/').split('?')[0] as string;
    const scenarioHeader = request.headers[SCENARIO_HEADER];
    const scenario = typeof scenarioHeader === 'string' ? scenarioHeader : undefined;
    const retryCount = Number(request.headers['x-stainless-retry-count'] ?? 0);
    const probe = this.probe?.();
    const finished = new Promise<'completed' | 'client-closed'>((resolve) => {
      response.once('close', () => resolve(response.writableFinished ? 'completed' : 'client-closed'));
    });

    let body: Record<string, unknown>;
    try {
      body = JSON.parse(bodyText) as Record<string, unknown>;
    } catch {
      body = {};
    }
    const rateLimited = scenario?.startsWith('rate-limit-once:') === true && !this.limitedKeys.has(scenario);
    if (rateLimited) this.limitedKeys.add(scenario as string);

    let status: number;
    if (request.method === 'POST' && path === '/v1/chat/completions') {
      status = rateLimited ? 429 : 200;
      this.hits.push({ at, path, status, retryCount, scenario, bodyText, probe, finished });
      if (rateLimited) this.openaiRateLimited(response, body);
      else if (body.stream === true) await this.openaiStream(response, body, scenario === 'cut-off');
      else this.openaiJson(response, body);
    } else if (request.method === 'POST' && path === '/v1/messages') {
      status = rateLimited ? 429 : 200;
      this.hits.push({ at, path, status, retryCount, scenario, bodyText, probe, finished });
      if (rateLimited) this.anthropicRateLimited(response);
      else if (body.stream === true) await this.anthropicStream(response, body, scenario === 'cut-off');
      else this.anthropicJson(response, body);
    } else {
      status = 404;
      this.hits.push({ at, path, status, retryCount, scenario, bodyText, probe, finished });
      response.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not found"}}');
    }
  }

  // ---- OpenAI Chat Completions ----

  private openaiHeaders(usedTokens: number): Record<string, string> {
    const limits = this.openaiLimits;
    const tokensLeft = this.tokensRemaining ?? limits.tokens - usedTokens;
    return {
      'x-request-id': `req_${this.hits.length}`,
      'openai-processing-ms': '42',
      'x-ratelimit-limit-requests': String(limits.requests),
      'x-ratelimit-remaining-requests': String(limits.requests - 1),
      // time until the bucket is full again: 1 request at limit/60 s
      'x-ratelimit-reset-requests': goDuration(60_000 / limits.requests),
      'x-ratelimit-limit-tokens': String(limits.tokens),
      'x-ratelimit-remaining-tokens': String(tokensLeft),
      'x-ratelimit-reset-tokens': goDuration(((limits.tokens - tokensLeft) * 60_000) / limits.tokens),
    };
  }

  private openaiJson(response: ServerResponse, body: Record<string, unknown>): void {
    const payload = {
      id: 'chatcmpl-test1',
      object: 'chat.completion',
      created: 1_767_000_000,
      model: String(body.model),
      choices: [{ index: 0, message: { role: 'assistant', content: ANSWER, refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: {
        ...OPENAI_USAGE,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_test',
    };
    response.writeHead(200, { 'content-type': 'application/json', ...this.openaiHeaders(OPENAI_USAGE.total_tokens) });
    response.end(JSON.stringify(payload));
  }

  private async openaiStream(response: ServerResponse, body: Record<string, unknown>, cutOff: boolean): Promise<void> {
    const streamOptions = body.stream_options as { include_usage?: unknown } | undefined;
    const includeUsage = streamOptions?.include_usage === true;
    const chunk = (choices: unknown[], usage: unknown = null): string =>
      `data: ${JSON.stringify({
        id: 'chatcmpl-test2',
        object: 'chat.completion.chunk',
        created: 1_767_000_000,
        model: String(body.model),
        system_fingerprint: 'fp_test',
        choices,
        ...(includeUsage ? { usage } : {}),
      })}\n\n`;
    const events = [
      chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]),
      ...ANSWER_PIECES.map((piece) => chunk([{ index: 0, delta: { content: piece }, logprobs: null, finish_reason: null }])),
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
      ...(includeUsage
        ? [chunk([], { ...OPENAI_USAGE, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } })]
        : []),
      'data: [DONE]\n\n',
    ];
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...this.openaiHeaders(OPENAI_USAGE.total_tokens),
    });
    await this.writeEvents(response, cutOff ? events.slice(0, 2) : events, cutOff);
  }

  private openaiRateLimited(response: ServerResponse, body: Record<string, unknown>): void {
    const seconds = OPENAI_RETRY_AFTER_MS / 1000;
    const payload = {
      error: {
        message:
          `Rate limit reached for ${String(body.model)} in organization org-test on tokens per min (TPM): ` +
          `Limit ${this.openaiLimits.tokens}, Used ${this.openaiLimits.tokens - 50}, Requested 420. ` +
          `Please try again in ${OPENAI_RETRY_AFTER_MS}ms. Visit https://platform.openai.com/account/rate-limits to learn more.`,
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
      },
    };
    response.writeHead(429, {
      'content-type': 'application/json',
      'retry-after-ms': String(OPENAI_RETRY_AFTER_MS),
      'retry-after': String(Math.ceil(seconds)),
      ...this.openaiHeaders(0),
    });
    response.end(JSON.stringify(payload));
  }

  // ---- Anthropic Messages ----

  private anthropicHeaders(): Record<string, string> {
    const limits = this.anthropicLimits;
    const used = ANTHROPIC_INPUT_TOTAL + ANTHROPIC_USAGE.output_tokens;
    const header: Record<string, string> = {
      'request-id': `req_01test${this.hits.length}`,
      'anthropic-organization-id': 'org-test',
      'anthropic-ratelimit-requests-limit': String(limits.requests),
      'anthropic-ratelimit-requests-remaining': String(limits.requests - 1),
      'anthropic-ratelimit-requests-reset': rfc3339In(60_000 / limits.requests),
    };
    const tokenDimension = (name: string, limit: number | undefined, usedHere: number): void => {
      if (limit === undefined) return;
      const left = this.tokensRemaining ?? limit - usedHere;
      header[`anthropic-ratelimit-${name}-limit`] = String(limit);
      // Anthropic rounds token counts left to the nearest thousand
      header[`anthropic-ratelimit-${name}-remaining`] = String(Math.round(left / 1000) * 1000);
      header[`anthropic-ratelimit-${name}-reset`] = rfc3339In(((limit - left) * 60_000) / limit);
    };
    tokenDimension('tokens', limits.tokens, used);
    tokenDimension('input-tokens', limits.inputTokens, ANTHROPIC_INPUT_TOTAL);
    tokenDimension('output-tokens', limits.outputTokens, ANTHROPIC_USAGE.output_tokens);
    return header;
  }

  private anthropicJson(response: ServerResponse, body: Record<string, unknown>): void {
    const payload = {
      id: 'msg_01Test',
      type: 'message',
      role: 'assistant',
      model: String(body.model),
      content: [{ type: 'text', text: ANSWER }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { ...ANTHROPIC_USAGE, service_tier: 'standard' },
    };
    response.writeHead(200, { 'content-type': 'application/json', ...this.anthropicHeaders() });
    response.end(JSON.stringify(payload));
  }

  private async anthropicStream(response: ServerResponse, body: Record<string, unknown>, cutOff: boolean): Promise<void> {
    const event = (name: string, data: unknown): string => `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
    const { output_tokens: outputTokens, ...inputUsage } = ANTHROPIC_USAGE;
    const events = [
      event('message_start', {
        type: 'message_start',
        message: {
          id: 'msg_01TestStream',
          type: 'message',
          role: 'assistant',
          model: String(body.model),
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // output_tokens here is a running count, not the final one
          usage: { ...inputUsage, output_tokens: 1, service_tier: 'standard' },
        },
      }),
      event('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      event('ping', { type: 'ping' }),
      ...ANSWER_PIECES.map((piece) =>
        event('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }),
      ),
      event('content_block_stop', { type: 'content_block_stop', index: 0 }),
      // cumulative: the final output count, not an increment over message_start's
      event('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'end_turn', stop_sequence: null },
        usage: { output_tokens: outputTokens },
      }),
      event('message_stop', { type: 'message_stop' }),
    ];
    response.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      ...this.anthropicHeaders(),
    });
    await this.writeEvents(response, cutOff ? events.slice(0, 4) : events, cutOff);
  }

  private anthropicRateLimited(response: ServerResponse): void {
    const payload = {
      type: 'error',
      error: {
        type: 'rate_limit_error',
        message: 'This request would exceed the rate limit for your organization of 6,000 input tokens per minute. Please try again later.',
      },
      request_id: `req_01test${this.hits.length}`,
    };
    response.writeHead(429, {
      'content-type': 'application/json',
      'retry-after': String(ANTHROPIC_RETRY_AFTER_S),
      'x-should-retry': 'true',
      ...this.anthropicHeaders(),
    });
    response.end(JSON.stringify(payload));
  }

  // ---- streaming ----

  /**
   * Writes the SSE events as a network would deliver them: the bytes cut at odd places (inside
   * multi-byte characters too), a moment apart. With `holdOpen` the stream is left open afterwards
   * until the client hangs up (or the provider closes).
   */
  private async writeEvents(response: ServerResponse, events: readonly string[], holdOpen: boolean): Promise<void> {
    this.openStreams.add(response);
    response.once('close', () => this.openStreams.delete(response));
    const bytes = Buffer.from(events.join(''), 'utf8');
    const pieceBytes = 37; // odd, so cuts fall inside lines and characters
    for (let start = 0; start < bytes.length; start += pieceBytes) {
      if (response.destroyed) return;
      response.write(bytes.subarray(start, start + pieceBytes));
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (!holdOpen && !response.destroyed) response.end();
  }
}
