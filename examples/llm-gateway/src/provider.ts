// A mock LLM provider on loopback, speaking the OpenAI chat completions wire format, with the
// rate limiting of the real thing: continuously refilling RPM and TPM buckets, charged input +
// max_tokens up front and refunded the unused part when the completion ends, 429s with
// `x-ratelimit-*`, `retry-after` and an OpenAI error body. Tokens are "generated" at a steady
// pace, so streams take real time, and a stream waits for the socket to drain when its reader
// is slow instead of piling up output.

import { listenOnLoopback, readBody, sendJson } from './http-util.js';
import http from 'node:http';
import { systemClock } from '@sluice/core';
import { isChatMessages, promptTokens, randomWordToken, seededRandom } from './tokens.js';

/** Options of {@link MockProvider.start}. */
export interface MockProviderOptions {
  /** Requests per minute (a continuously refilling bucket of that size). */
  readonly requestsPerMinute: number;
  /** Tokens per minute, input and output together (a continuously refilling bucket of that size). */
  readonly tokensPerMinute: number;
  /** Generation pace, ms per output token; default 4. `0` generates as fast as the reader reads. */
  readonly msPerToken?: number;
  /** Time before the first token, ms, on top of the prefill; default 25. */
  readonly firstTokenMs?: number;
  /** Prefill time per prompt token, ms; default 0.02 (a 5,000-token prompt adds 100 ms). */
  readonly prefillMsPerToken?: number;
  /** Range of the share of `max_tokens` a completion really uses, drawn per request; default [0.25, 1]. */
  readonly outputShare?: readonly [number, number];
  /** Output cap of a request that sets none; default 1,024. */
  readonly defaultMaxTokens?: number;
  /** Seed of the output lengths and words; default 1. */
  readonly seed?: number;
  /** Keep each completion's tokens (for checks); default true. At most `maxRecords` are kept. */
  readonly keepTranscripts?: boolean;
  /** Most completions remembered (oldest forgotten first); default 100,000. */
  readonly maxRecords?: number;
  /** Model name reported; default `mock-gpt`. */
  readonly model?: string;
  /**
   * Pad every generated token to this many characters (tests: fills socket buffers with few
   * tokens); default 0, no padding.
   */
  readonly tokenChars?: number;
}

/** One completion the provider admitted. */
export interface CompletionRecord {
  readonly id: string;
  /** When it was admitted (and charged), ms on `systemClock`. */
  readonly admittedAt: number;
  /** When generation ended or the reader went away; `undefined` while streaming. */
  readonly finishedAt: number | undefined;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** Output tokens produced (so far, while streaming). */
  readonly completionTokens: number;
  readonly stream: boolean;
  readonly state: 'generating' | 'done' | 'cancelled';
}

/** Counters of a {@link MockProvider}. */
export interface MockProviderStats {
  /** `POST /v1/chat/completions` requests received. */
  readonly requests: number;
  /** Admitted and charged. */
  readonly admitted: number;
  /** Completions generated to the end. */
  readonly completed: number;
  /** Completions whose reader went away before the end. */
  readonly cancelled: number;
  /** 429s sent (over RPM or TPM, or a request larger than the TPM limit). */
  readonly rateLimited: number;
  /** 5xx sent (only when injected with `failNext`). */
  readonly serverErrors: number;
  /** 400s sent. */
  readonly badRequests: number;
  /** Tokens billed: prompt + output produced, of finished completions. */
  readonly tokensUsed: number;
  /** Tokens given back to the bucket: reserved output that was not produced. */
  readonly tokensRefunded: number;
  /** Times a stream stopped generating to wait for a slow reader (`drain`). */
  readonly drainWaits: number;
}

interface Completion {
  readonly id: string;
  readonly admittedAt: number;
  finishedAt: number | undefined;
  readonly promptTokens: number;
  readonly maxTokens: number;
  readonly planned: number;
  produced: number;
  readonly stream: boolean;
  state: 'generating' | 'done' | 'cancelled';
  readonly tokens: string[] | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Stops generating and refunds; set while generating. */
  abort: (() => void) | undefined;
}

const MINUTE_MS = 60_000;
const MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Most tokens written in one go, so a fast generator still checks for backpressure often. */
const MAX_TOKENS_PER_WRITE = 256;

/** The mock provider: `POST /v1/chat/completions` on `127.0.0.1`. */
export class MockProvider {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly requestsPerMinute: number;
  readonly tokensPerMinute: number;

  private readonly server: http.Server;
  private readonly options: Required<Omit<MockProviderOptions, 'outputShare'>> & { outputShare: readonly [number, number] };
  private readonly random: () => number;
  private readonly completions = new Map<string, Completion>();
  private readonly active = new Set<Completion>();
  private requestLevel: number;
  private tokenLevel: number;
  private updatedAt: number;
  private sequence = 0;
  private failures: { count: number; status: number } = { count: 0, status: 500 };
  private counts = {
    requests: 0,
    admitted: 0,
    completed: 0,
    cancelled: 0,
    rateLimited: 0,
    serverErrors: 0,
    badRequests: 0,
    tokensUsed: 0,
    tokensRefunded: 0,
    drainWaits: 0,
  };
  private closed = false;

  private constructor(server: http.Server, url: string, options: MockProviderOptions) {
    this.server = server;
    this.url = url;
    this.requestsPerMinute = positive('requestsPerMinute', options.requestsPerMinute);
    this.tokensPerMinute = positive('tokensPerMinute', options.tokensPerMinute);
    this.options = {
      requestsPerMinute: this.requestsPerMinute,
      tokensPerMinute: this.tokensPerMinute,
      msPerToken: options.msPerToken ?? 4,
      firstTokenMs: options.firstTokenMs ?? 25,
      prefillMsPerToken: options.prefillMsPerToken ?? 0.02,
      outputShare: options.outputShare ?? [0.25, 1],
      defaultMaxTokens: options.defaultMaxTokens ?? 1_024,
      seed: options.seed ?? 1,
      keepTranscripts: options.keepTranscripts ?? true,
      maxRecords: options.maxRecords ?? 100_000,
      model: options.model ?? 'mock-gpt',
      tokenChars: options.tokenChars ?? 0,
    };
    this.random = seededRandom(this.options.seed);
    // a provider's buckets start full
    this.requestLevel = this.requestsPerMinute;
    this.tokenLevel = this.tokensPerMinute;
    this.updatedAt = systemClock.now();
  }

  /** Starts a provider on `127.0.0.1` on a free port. */
  static async start(options: MockProviderOptions): Promise<MockProvider> {
    const server = http.createServer();
    const provider = new MockProvider(server, await listenOnLoopback(server), options);
    server.on('request', (req, res) => provider.handle(req, res));
    return provider;
  }

  /** Counters so far. */
  stats(): MockProviderStats {
    return { ...this.counts };
  }

  /** What is left in the buckets now (unrounded; the headers round down). */
  remaining(): { readonly requests: number; readonly tokens: number } {
    this.refill();
    return { requests: this.requestLevel, tokens: this.tokenLevel };
  }

  /** Every completion remembered, in admission order. */
  records(): CompletionRecord[] {
    return [...this.completions.values()].map((c) => ({
      id: c.id,
      admittedAt: c.admittedAt,
      finishedAt: c.finishedAt,
      promptTokens: c.promptTokens,
      maxTokens: c.maxTokens,
      completionTokens: c.produced,
      stream: c.stream,
      state: c.state,
    }));
  }

  /** The tokens completion `id` produced, in order (with `keepTranscripts`). */
  transcript(id: string): readonly string[] | undefined {
    return this.completions.get(id)?.tokens;
  }

  /** The next `count` requests fail with `status` (a 5xx outage), without being charged. */
  failNext(count: number, status = 500): void {
    this.failures = { count, status };
  }

  /** Stops generating, closes every connection and the server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const completion of [...this.active]) completion.abort?.();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- requests ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (req.method !== 'POST' || req.url?.split('?')[0] !== '/v1/chat/completions') {
      sendJson(
        res,
        404,
        {},
        { error: { message: `Unknown request URL: ${req.method} ${req.url}`, type: 'invalid_request_error', code: 'unknown_url' } },
      );
      return;
    }
    readBody(req, MAX_BODY_BYTES).then(
      (text) => this.complete(text, res),
      () => res.destroy(),
    );
  }

  private complete(text: string, res: http.ServerResponse): void {
    this.counts.requests++;
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      this.badRequest(res, 'We could not parse the JSON body of your request.');
      return;
    }
    if (typeof body !== 'object' || body === null || !isChatMessages(body.messages)) {
      this.badRequest(res, "'messages' must be a non-empty array of { role, content } objects.");
      return;
    }
    const cap = body.max_completion_tokens ?? body.max_tokens ?? this.options.defaultMaxTokens;
    if (typeof cap !== 'number' || !Number.isInteger(cap) || cap < 1) {
      this.badRequest(res, "'max_tokens' must be an integer ≥ 1.");
      return;
    }
    if (this.failures.count > 0) {
      this.failures.count--;
      this.counts.serverErrors++;
      sendJson(
        res,
        this.failures.status,
        {},
        { error: { message: 'The server had an error while processing your request.', type: 'server_error', param: null, code: null } },
      );
      return;
    }

    const prompt = promptTokens(body.messages);
    const reserved = prompt + cap;
    this.refill();
    if (reserved > this.tokensPerMinute) {
      // as OpenAI: a request that can never fit is a 429 too, with a message saying so
      this.requestLevel -= 1;
      this.counts.rateLimited++;
      sendJson(res, 429, this.headers(), {
        error: {
          message: `Request too large for ${this.options.model} on tokens per min (TPM): Limit ${this.tokensPerMinute}, Requested ${reserved}. The input or output tokens must be reduced in order to run successfully.`,
          type: 'tokens',
          param: null,
          code: 'rate_limit_exceeded',
        },
      });
      return;
    }
    if (this.requestLevel < 1 || this.tokenLevel < reserved) {
      this.rateLimited(res, reserved);
      return;
    }
    this.requestLevel -= 1;
    this.tokenLevel -= reserved;
    this.counts.admitted++;

    const [low, high] = this.options.outputShare;
    const share = low + (high - low) * this.random();
    const id = `chatcmpl-${++this.sequence}`;
    const completion: Completion = {
      id,
      admittedAt: systemClock.now(),
      finishedAt: undefined,
      promptTokens: prompt,
      maxTokens: cap,
      planned: Math.max(1, Math.min(cap, Math.round(cap * share))),
      produced: 0,
      stream: body.stream === true,
      state: 'generating',
      tokens: this.options.keepTranscripts ? [] : undefined,
      timer: undefined,
      abort: undefined,
    };
    this.remember(completion);
    const includeUsage =
      typeof body.stream_options === 'object' &&
      body.stream_options !== null &&
      (body.stream_options as { include_usage?: unknown }).include_usage === true;
    const headers = { ...this.headers(), 'x-request-id': id };
    if (completion.stream) this.stream(completion, includeUsage, headers, res);
    else this.generateThenAnswer(completion, headers, res);
  }

  private stream(c: Completion, includeUsage: boolean, headers: Record<string, string>, res: http.ServerResponse): void {
    const created = Math.floor(Date.now() / 1000);
    const model = this.options.model;
    const event = (payload: unknown): string => `data: ${JSON.stringify(payload)}\n\n`;
    const chunk = (delta: Record<string, unknown>, finishReason: string | null): string =>
      event({
        id: c.id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
        ...(includeUsage ? { usage: null } : {}),
      });
    res.writeHead(200, { ...headers, 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.write(chunk({ role: 'assistant', content: '' }, null));

    const pace = this.options.msPerToken;
    let startAt = systemClock.now() + this.options.firstTokenMs + c.promptTokens * this.options.prefillMsPerToken;
    const schedule = (): void => {
      const nextDue = startAt + c.produced * pace;
      c.timer = setTimeout(tick, Math.max(0, nextDue - systemClock.now()));
    };
    const tick = (): void => {
      c.timer = undefined;
      if (c.state !== 'generating') return;
      const now = systemClock.now();
      const due = pace > 0 ? Math.floor((now - startAt) / pace) + 1 : c.planned;
      const until = Math.min(c.planned, due, c.produced + MAX_TOKENS_PER_WRITE);
      let text = '';
      while (c.produced < until) {
        const token = this.nextToken();
        c.tokens?.push(token);
        c.produced++;
        text += chunk({ content: token }, null);
      }
      if (c.produced >= c.planned) {
        this.finish(c, 'done');
        text += chunk({}, c.produced >= c.maxTokens ? 'length' : 'stop');
        if (includeUsage) {
          const usage = { prompt_tokens: c.promptTokens, completion_tokens: c.produced, total_tokens: c.promptTokens + c.produced };
          text += event({ id: c.id, object: 'chat.completion.chunk', created, model, choices: [], usage });
        }
        res.end(`${text}data: [DONE]\n\n`);
        return;
      }
      if (text !== '' && !res.write(text)) {
        // a slow reader: stop generating until the socket drains, then carry on at the same pace
        this.counts.drainWaits++;
        const pausedAt = systemClock.now();
        res.once('drain', () => {
          if (c.state !== 'generating') return;
          startAt += systemClock.now() - pausedAt;
          schedule();
        });
        return;
      }
      schedule();
    };
    c.abort = () => {
      if (c.timer !== undefined) clearTimeout(c.timer);
      this.finish(c, 'cancelled');
      res.destroy();
    };
    res.on('close', () => {
      if (c.state === 'generating') c.abort?.();
    });
    this.active.add(c);
    schedule();
  }

  private generateThenAnswer(c: Completion, headers: Record<string, string>, res: http.ServerResponse): void {
    const ms = this.options.firstTokenMs + c.promptTokens * this.options.prefillMsPerToken + c.planned * this.options.msPerToken;
    c.timer = setTimeout(() => {
      c.timer = undefined;
      if (c.state !== 'generating') return;
      let content = '';
      while (c.produced < c.planned) {
        const token = this.nextToken();
        c.tokens?.push(token);
        c.produced++;
        content += token;
      }
      this.finish(c, 'done');
      sendJson(res, 200, headers, {
        id: c.id,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: this.options.model,
        choices: [
          {
            index: 0,
            message: { role: 'assistant', content },
            logprobs: null,
            finish_reason: c.produced >= c.maxTokens ? 'length' : 'stop',
          },
        ],
        usage: { prompt_tokens: c.promptTokens, completion_tokens: c.produced, total_tokens: c.promptTokens + c.produced },
      });
    }, ms);
    c.abort = () => {
      if (c.timer !== undefined) clearTimeout(c.timer);
      this.finish(c, 'cancelled');
      res.destroy();
    };
    res.on('close', () => {
      if (c.state === 'generating') c.abort?.();
    });
    this.active.add(c);
  }

  /** Ends a completion: bills what was produced, refunds the unused output reservation. */
  private finish(c: Completion, state: 'done' | 'cancelled'): void {
    if (c.state !== 'generating') return;
    c.state = state;
    c.finishedAt = systemClock.now();
    c.abort = undefined;
    this.active.delete(c);
    this.refill();
    const unused = c.maxTokens - c.produced;
    this.tokenLevel = Math.min(this.tokensPerMinute, this.tokenLevel + unused);
    this.counts.tokensRefunded += unused;
    this.counts.tokensUsed += c.promptTokens + c.produced;
    if (state === 'done') this.counts.completed++;
    else this.counts.cancelled++;
  }

  private nextToken(): string {
    const token = randomWordToken(this.random);
    const width = this.options.tokenChars;
    return width > token.length ? token.padEnd(width, '.') : token;
  }

  private remember(c: Completion): void {
    this.completions.set(c.id, c);
    if (this.completions.size > this.options.maxRecords) {
      const oldest = this.completions.keys().next().value;
      if (oldest !== undefined) this.completions.delete(oldest);
    }
  }

  private rateLimited(res: http.ServerResponse, requested: number): void {
    // a refused request still counts against the request limit, as providers count it
    const requestWaitMs = this.requestLevel < 1 ? ((1 - this.requestLevel) * MINUTE_MS) / this.requestsPerMinute : 0;
    const tokenWaitMs = this.tokenLevel < requested ? ((requested - this.tokenLevel) * MINUTE_MS) / this.tokensPerMinute : 0;
    this.requestLevel -= 1;
    this.counts.rateLimited++;
    const waitMs = Math.max(requestWaitMs, tokenWaitMs);
    const tokens = tokenWaitMs >= requestWaitMs;
    const limit = tokens ? this.tokensPerMinute : this.requestsPerMinute;
    const used = tokens
      ? Math.ceil(this.tokensPerMinute - Math.max(0, this.tokenLevel))
      : Math.ceil(this.requestsPerMinute - Math.max(0, this.requestLevel));
    sendJson(
      res,
      429,
      { ...this.headers(), 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))), 'retry-after-ms': String(Math.ceil(waitMs)) },
      {
        error: {
          message:
            `Rate limit reached for ${this.options.model} in organization org-mock on ${tokens ? 'tokens per min (TPM)' : 'requests per min (RPM)'}: ` +
            `Limit ${limit}, Used ${used}, Requested ${tokens ? requested : 1}. Please try again in ${goDuration(waitMs)}.`,
          type: tokens ? 'tokens' : 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
    );
  }

  private badRequest(res: http.ServerResponse, message: string): void {
    this.counts.badRequests++;
    sendJson(res, 400, {}, { error: { message, type: 'invalid_request_error', param: null, code: null } });
  }

  /** OpenAI's rate-limit headers: limits, what is left (rounded down), and Go-style durations until full. */
  private headers(): Record<string, string> {
    this.refill();
    const requestsFullInMs = ((this.requestsPerMinute - this.requestLevel) * MINUTE_MS) / this.requestsPerMinute;
    const tokensFullInMs = ((this.tokensPerMinute - this.tokenLevel) * MINUTE_MS) / this.tokensPerMinute;
    return {
      'x-ratelimit-limit-requests': String(this.requestsPerMinute),
      'x-ratelimit-limit-tokens': String(this.tokensPerMinute),
      'x-ratelimit-remaining-requests': String(Math.max(0, Math.floor(this.requestLevel))),
      'x-ratelimit-remaining-tokens': String(Math.max(0, Math.floor(this.tokenLevel))),
      'x-ratelimit-reset-requests': goDuration(requestsFullInMs),
      'x-ratelimit-reset-tokens': goDuration(tokensFullInMs),
    };
  }

  private refill(): void {
    const now = systemClock.now();
    const elapsed = now - this.updatedAt;
    if (elapsed <= 0) return;
    this.requestLevel = Math.min(this.requestsPerMinute, this.requestLevel + (elapsed * this.requestsPerMinute) / MINUTE_MS);
    this.tokenLevel = Math.min(this.tokensPerMinute, this.tokenLevel + (elapsed * this.tokensPerMinute) / MINUTE_MS);
    this.updatedAt = now;
  }
}

/** Ms as OpenAI's reset headers write them: `120ms`, `1.5s`, `6m0s`. */
export function goDuration(ms: number): string {
  if (!(ms > 0)) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const totalSeconds = Math.round(ms) / 1000;
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = Math.round((totalSeconds - minutes * 60) * 1000) / 1000;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}

function positive(name: string, value: number): number {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0))
    throw new RangeError(`MockProvider: ${name} must be a number > 0, got ${String(value)}`);
  return value;
}
