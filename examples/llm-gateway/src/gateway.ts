// The gateway: `POST /chat` streams a chat completion to its client over SSE, calling the
// provider through an LlmLimiter (a drop-in fetch that reserves, observes headers and reconciles
// from the streamed usage) and a circuit breaker; `GET /metrics` serves Prometheus text.

import { listenOnLoopback, readBody, sendJson } from './http-util.js';
import http from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { CircuitBreaker, consecutiveFailures } from '@sluice/breaker';
import { NOT_RUN, isSluiceError, systemClock, type Outcome } from '@sluice/core';
import { LlmLimiter, estimateTokensByChars, wrapFetch, type FetchFunction } from '@sluice/llm';
import { PROMETHEUS_CONTENT_TYPE, PrometheusWriter, QueueMonitor, prometheusText } from '@sluice/monitor';
import { sseStream } from '@sluice/web-streams';
import { httpFetch } from './http-fetch.js';
import { chunksOf, readSse } from './sse.js';
import { isChatMessages, promptTokens, type ChatMessage } from './tokens.js';

/** How a client is treated: interactive traffic goes first, batch traffic fills the rest. */
export type ClientClass = 'interactive' | 'batch';

/** What a class gets. */
export interface ClassPolicy {
  /** Priority in the limiter's queue (larger first). */
  readonly priority: number;
  /** Longest wait for the provider's quota when the request names none (`x-max-wait-ms`), ms. */
  readonly defaultMaxWaitMs: number;
}

/** Options of {@link Gateway.start}. */
export interface GatewayOptions {
  /** Base URL of the provider, e.g. `http://127.0.0.1:41234`. */
  readonly providerUrl: string;
  /** The provider's quota: requests per minute. */
  readonly requestsPerMinute: number;
  /** The provider's quota: tokens per minute. */
  readonly tokensPerMinute: number;
  /** Share of the quota kept unused (estimation slack, other users of the key); default 0.02. */
  readonly headroom?: number;
  /** Client id (`x-client` header) → class. Clients not listed are `unknownClientClass`. */
  readonly clients?: Readonly<Record<string, ClientClass>>;
  /** Class of clients not in `clients`; default `batch`. */
  readonly unknownClientClass?: ClientClass;
  /** Per-class policy; default interactive `{ priority: 10, defaultMaxWaitMs: 3_000 }`, batch `{ priority: 0, defaultMaxWaitMs: 15_000 }`. */
  readonly classes?: Partial<Record<ClientClass, ClassPolicy>>;
  /** Cap on a request's `x-max-wait-ms`, ms; default 60,000. */
  readonly maxWaitCapMs?: number;
  /** Tokens that may wait for the quota, as seconds of TPM; beyond it requests are refused (queue full). Default 30. */
  readonly queueSeconds?: number;
  /** `max_tokens` of a request that names none; default 256. */
  readonly defaultMaxTokens?: number;
  /** Largest `max_tokens` accepted; default 16,384. */
  readonly maxTokensCap?: number;
  /** Consecutive provider failures (5xx, connection errors) that open the breaker; default 5. */
  readonly breakerFailures?: number;
  /** How long the breaker stays open before a trial call, ms; default 5,000. */
  readonly breakerHalfOpenAfterMs?: number;
  /** SSE heartbeat comment to clients after this long without an event, ms; default 15,000. */
  readonly heartbeatMs?: number;
  /** Most upstream connections; default 256. */
  readonly maxUpstreamSockets?: number;
  /** Model name sent upstream; default `mock-gpt`. */
  readonly model?: string;
}

/** An event of the gateway's SSE stream to its client. */
export type GatewayEvent =
  | { readonly type: 'token'; readonly text: string }
  | {
      readonly type: 'done';
      readonly id: string | undefined;
      readonly finishReason: string | undefined;
      readonly usage: { readonly promptTokens: number; readonly completionTokens: number } | undefined;
    }
  | { readonly type: 'error'; readonly message: string };

/** How a `/chat` request ended. */
export type ChatOutcome = 'completed' | 'refused' | 'upstream_error' | 'client_closed' | 'bad_request';

/** Counters of a {@link Gateway}. */
export interface GatewayStats {
  /** Requests per class and outcome. */
  readonly requests: Readonly<Record<ClientClass, Readonly<Record<ChatOutcome, number>>>>;
  /** Refusals by reason (`timeout`, `queue-full`, `too-large`, `circuit-open`, `closed`, `provider-429`). */
  readonly refusals: Readonly<Record<string, number>>;
  /** 429s the provider answered (the limiter's job is to keep this at 0). */
  readonly provider429s: number;
  /** Tokens reserved for requests sent upstream (estimated input + max_tokens). */
  readonly reservedTokens: number;
  /** Tokens those requests really used, from the streamed usage. */
  readonly usedTokens: number;
  /** Tokens handed on to clients. */
  readonly streamedTokens: number;
  /**
   * Upstream streams not read to the end (the client left, the stream broke): their usage never
   * reached the limiter, which keeps their whole reservation.
   */
  readonly cutOffStreams: number;
  /** Relays in progress. */
  readonly active: number;
}

const CLASSES: readonly ClientClass[] = ['interactive', 'batch'];
const OUTCOMES: readonly ChatOutcome[] = ['completed', 'refused', 'upstream_error', 'client_closed', 'bad_request'];
const TTFT_BUCKETS_S = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const MAX_BODY_BYTES = 1024 * 1024;

/** An upstream answer with an error status: what the breaker's failure filter looks at. */
class UpstreamStatusError extends Error {
  constructor(readonly status: number) {
    super(`provider answered ${status}`);
  }
}

/** The client went away: aborts the upstream call (or the wait for the quota). */
class ClientGoneError extends Error {
  constructor() {
    super('client went away');
  }
}

/**
 * The signals of one relay. `client` aborts when the client leaves: it cancels the wait for
 * quota. `upstream` is the upstream call's own signal: a call already sent is not cut off before
 * its response head (the provider may have charged it; cut off mid-air, neither side would know
 * which), but once the response has started, the client leaving aborts it too, and the provider
 * stops generating and refunds. Shutting down aborts both.
 */
class Relay {
  readonly client = new AbortController();
  readonly upstream = new AbortController();
  private started = false;

  clientLeft(): void {
    this.client.abort(new ClientGoneError());
    if (this.started) this.upstream.abort(new ClientGoneError());
  }

  responseStarted(): void {
    this.started = true;
    if (this.client.signal.aborted) this.upstream.abort(new ClientGoneError());
  }

  shutDown(): void {
    this.client.abort(new ClientGoneError());
    this.upstream.abort(new ClientGoneError());
  }
}

interface ClassCounters {
  outcomes: Record<ChatOutcome, number>;
  ttftBuckets: number[];
  ttftSum: number;
  ttftCount: number;
}

/** The gateway: `POST /chat` (SSE) and `GET /metrics` on `127.0.0.1`. */
export class Gateway {
  /** Base URL, e.g. `http://127.0.0.1:41235`. */
  readonly url: string;
  /** The provider's quota, client-side. */
  readonly limiter: LlmLimiter;
  /** Opens when the provider keeps failing (5xx, connection errors). */
  readonly breaker: CircuitBreaker;
  /** Watches the limiter and the breaker; `/metrics` reads it. */
  readonly monitor: QueueMonitor;

  private readonly server: http.Server;
  private readonly agent: http.Agent;
  private readonly upstream: FetchFunction;
  private readonly providerUrl: string;
  private readonly clients: Readonly<Record<string, ClientClass>>;
  private readonly unknownClientClass: ClientClass;
  private readonly classes: Record<ClientClass, ClassPolicy>;
  private readonly maxWaitCapMs: number;
  private readonly defaultMaxTokens: number;
  private readonly maxTokensCap: number;
  private readonly heartbeatMs: number;
  private readonly model: string;
  private readonly relays = new Set<Relay>();
  private readonly counters: Record<ClientClass, ClassCounters>;
  private readonly refusals: Record<string, number> = {};
  private provider429s = 0;
  private reservedTokens = 0;
  private usedTokens = 0;
  private streamedTokens = 0;
  private readonly cutOff: string[] = [];
  private cutOffCount = 0;
  private lastProviderRemainingTokens: number | undefined;
  private closing: Promise<void> | undefined;

  private constructor(server: http.Server, url: string, options: GatewayOptions) {
    this.server = server;
    this.url = url;
    this.providerUrl = options.providerUrl.replace(/\/$/, '');
    this.clients = options.clients ?? {};
    this.unknownClientClass = options.unknownClientClass ?? 'batch';
    this.classes = {
      interactive: options.classes?.interactive ?? { priority: 10, defaultMaxWaitMs: 3_000 },
      batch: options.classes?.batch ?? { priority: 0, defaultMaxWaitMs: 15_000 },
    };
    this.maxWaitCapMs = options.maxWaitCapMs ?? 60_000;
    this.defaultMaxTokens = options.defaultMaxTokens ?? 256;
    this.maxTokensCap = options.maxTokensCap ?? 16_384;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.model = options.model ?? 'mock-gpt';
    this.limiter = new LlmLimiter({
      name: 'llm',
      requestsPerMinute: options.requestsPerMinute,
      tokensPerMinute: options.tokensPerMinute,
      headroom: options.headroom ?? 0.02,
      queueLimit: Math.ceil((options.tokensPerMinute * (options.queueSeconds ?? 30)) / 60),
    });
    this.breaker = new CircuitBreaker({
      name: 'provider',
      trip: consecutiveFailures(options.breakerFailures ?? 5),
      halfOpenAfterMs: options.breakerHalfOpenAfterMs ?? 5_000,
      // only the provider's own trouble counts: a 429 or a 4xx says nothing about its health
      isFailure: ({ ok, error }) => ok === false && !(error instanceof UpstreamStatusError && error.status < 500),
    });
    this.monitor = new QueueMonitor({ sampleEveryMs: 1_000 });
    this.monitor.watch('llm', this.limiter);
    this.monitor.watch('provider', this.breaker);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: options.maxUpstreamSockets ?? 256 });
    this.upstream = httpFetch(this.agent);
    const counters = (): ClassCounters => ({
      outcomes: Object.fromEntries(OUTCOMES.map((o) => [o, 0])) as Record<ChatOutcome, number>,
      ttftBuckets: TTFT_BUCKETS_S.map(() => 0),
      ttftSum: 0,
      ttftCount: 0,
    });
    this.counters = { interactive: counters(), batch: counters() };
  }

  /** Starts a gateway on `127.0.0.1` on a free port. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const server = http.createServer();
    const gateway = new Gateway(server, await listenOnLoopback(server), options);
    server.on('request', (req, res) => gateway.handle(req, res));
    return gateway;
  }

  /** Counters so far. */
  stats(): GatewayStats {
    return {
      requests: {
        interactive: { ...this.counters.interactive.outcomes },
        batch: { ...this.counters.batch.outcomes },
      },
      refusals: { ...this.refusals },
      provider429s: this.provider429s,
      reservedTokens: this.reservedTokens,
      usedTokens: this.usedTokens,
      streamedTokens: this.streamedTokens,
      cutOffStreams: this.cutOffCount,
      active: this.relays.size,
    };
  }

  /** Provider completion ids of the last 10,000 streams not read to the end (see {@link GatewayStats.cutOffStreams}). */
  cutOffStreamIds(): readonly string[] {
    return [...this.cutOff];
  }

  /** The `/metrics` text: the monitor's series (limiter, breaker) and the gateway's own. */
  metricsText(): string {
    const w = new PrometheusWriter();
    w.family('gateway_requests_total', 'counter', 'Chat requests by client class and outcome.');
    for (const klass of CLASSES)
      for (const outcome of OUTCOMES) w.sample({ class: klass, outcome }, this.counters[klass].outcomes[outcome]);
    w.family('gateway_refusals_total', 'counter', 'Requests refused by the gateway, by reason.');
    for (const [reason, count] of Object.entries(this.refusals)) w.sample({ reason }, count);
    w.family('gateway_provider_429_total', 'counter', '429 answers from the provider.').sample({}, this.provider429s);
    w.family('gateway_tokens_total', 'counter', 'Tokens reserved for upstream calls and tokens they really used.');
    w.sample({ kind: 'reserved' }, this.reservedTokens).sample({ kind: 'used' }, this.usedTokens);
    w.family('gateway_streamed_tokens_total', 'counter', 'Tokens handed on to clients.').sample({}, this.streamedTokens);
    w.family('gateway_streams_cut_off_total', 'counter', 'Upstream streams not read to the end (their reservations stay whole).').sample(
      {},
      this.cutOffCount,
    );
    w.family('gateway_tokens_remaining', 'gauge', "TPM left: the limiter's bucket, and the provider's last x-ratelimit-remaining-tokens.");
    w.sample({ view: 'limiter' }, Math.floor(this.limiter.remaining('tokens')));
    if (this.lastProviderRemainingTokens !== undefined) w.sample({ view: 'provider' }, this.lastProviderRemainingTokens);
    w.family('gateway_time_to_first_token_seconds', 'histogram', 'From request arrival to the first token handed to the client.');
    for (const klass of CLASSES) {
      const c = this.counters[klass];
      let cumulative = 0;
      const buckets = TTFT_BUCKETS_S.map((bound, i) => [bound, (cumulative += c.ttftBuckets[i] as number)] as const);
      w.histogram({ class: klass }, buckets, c.ttftSum, c.ttftCount);
    }
    return prometheusText(this.monitor) + w.text();
  }

  /**
   * Stops: refuses what waits for the quota, cuts off relays in progress, closes the server,
   * the upstream connections, the limiter, the breaker and the monitor (no timer left).
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      this.limiter.close(); // waiters get a ClosedError → 503
      for (const relay of [...this.relays]) relay.shutDown();
      this.server.closeAllConnections();
      await closed;
      this.breaker.close();
      this.monitor.close();
      this.agent.destroy();
    })();
    return this.closing;
  }

  // ---- requests ----

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = req.url?.split('?')[0];
    if (req.method === 'GET' && path === '/metrics') {
      const body = this.metricsText();
      res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'content-length': Buffer.byteLength(body) });
      res.end(body);
      return;
    }
    if (req.method === 'POST' && path === '/chat') {
      this.chat(req, res).catch((error: unknown) => {
        // a bug, not a client error: answer if still possible
        if (!res.headersSent) sendJson(res, 500, {}, { error: { code: 'INTERNAL', message: String(error) } });
        else res.destroy();
      });
      return;
    }
    sendJson(res, 404, {}, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${path}` } });
  }

  private async chat(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const arrivedAt = systemClock.now();
    const clientId = headerOf(req, 'x-client') ?? 'anonymous';
    const klass = this.clients[clientId] ?? this.unknownClientClass;
    const policy = this.classes[klass];
    const count = (outcome: ChatOutcome): void => {
      this.counters[klass].outcomes[outcome]++;
    };

    let body: { messages: ChatMessage[]; maxTokens: number };
    try {
      body = parseChatBody(await readBody(req, MAX_BODY_BYTES), this.defaultMaxTokens, this.maxTokensCap);
    } catch (error) {
      count('bad_request');
      sendJson(res, 400, {}, { error: { code: 'BAD_REQUEST', message: error instanceof Error ? error.message : String(error) } });
      return;
    }
    const maxWaitHeader = headerOf(req, 'x-max-wait-ms');
    const requestedWait = maxWaitHeader === undefined ? policy.defaultMaxWaitMs : Number(maxWaitHeader);
    if (!(requestedWait >= 0)) {
      count('bad_request');
      sendJson(res, 400, {}, { error: { code: 'BAD_REQUEST', message: 'x-max-wait-ms must be a number of ms ≥ 0' } });
      return;
    }
    const maxWaitMs = Math.min(requestedWait, this.maxWaitCapMs);

    // the breaker first: while the provider is down, refuse at once without spending quota
    const trial = this.breaker.tryAcquire();
    if (!trial.granted) {
      count('refused');
      this.refuse(res, 503, 'circuit-open', trial.retryAfterMs ?? 1_000, 'the provider is failing; the circuit is open');
      return;
    }

    const relay = new Relay();
    this.relays.add(relay);
    const onClose = (): void => {
      if (!res.writableFinished) relay.clientLeft();
    };
    res.on('close', onClose);
    const settleBreaker = (outcome: Outcome | undefined): void => trial.release(outcome);
    try {
      await this.relay(res, { clientId, klass, policy, body, maxWaitMs, arrivedAt, relay, settleBreaker, count });
    } finally {
      res.off('close', onClose);
      this.relays.delete(relay);
    }
  }

  private async relay(
    res: http.ServerResponse,
    call: {
      clientId: string;
      klass: ClientClass;
      policy: ClassPolicy;
      body: { messages: ChatMessage[]; maxTokens: number };
      maxWaitMs: number;
      arrivedAt: number;
      relay: Relay;
      settleBreaker: (outcome: Outcome | undefined) => void;
      count: (outcome: ChatOutcome) => void;
    },
  ): Promise<void> {
    const { klass, body, relay, settleBreaker, count } = call;
    const signal = relay.client.signal;
    // One wrapper per call: priority and maxWaitMs are per request here, and wrapFetch takes
    // them as options of the wrapper. It reserves (estimate + max_tokens) at that priority,
    // forwards, observes the rate-limit headers, and reconciles from the streamed usage.
    // The client's signal cancels the wait for quota; once the call is sent it runs on its own
    // signal (see Relay), so what the limiter holds and what the provider charged stay in step.
    const sendUpstream: FetchFunction = (input, init) => this.upstream(input, { ...init, signal: relay.upstream.signal });
    const limitedFetch = wrapFetch(sendUpstream, this.limiter, {
      priority: () => call.policy.priority,
      maxWaitMs: call.maxWaitMs,
      estimateTokens: (text, json) => {
        const messages = (json as { messages?: unknown } | null)?.messages;
        return isChatMessages(messages) ? promptTokens(messages) : estimateTokensByChars(text, json);
      },
      defaultMaxOutputTokens: this.defaultMaxTokens,
    });
    const upstreamBody = JSON.stringify({
      model: this.model,
      messages: body.messages,
      max_tokens: body.maxTokens,
      stream: true,
      stream_options: { include_usage: true },
      user: call.clientId,
    });

    let response: Response;
    try {
      response = await limitedFetch(`${this.providerUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: upstreamBody,
        signal,
      });
    } catch (error) {
      if (signal.aborted || relay.upstream.signal.aborted) {
        // the client left while waiting for quota (or we are closing)
        settleBreaker(NOT_RUN);
        if (this.closing === undefined) count('client_closed');
        else {
          count('refused');
          this.refuse(res, 503, 'closed', 1_000, 'the gateway is shutting down');
        }
        return;
      }
      if (isSluiceError(error)) {
        // refused by the limiter before reaching the network: the provider was never called
        settleBreaker(NOT_RUN);
        count('refused');
        const { code, retryAfterMs, message } = error;
        if (code === 'TOO_LARGE') this.refuse(res, 413, 'too-large', undefined, message);
        else if (code === 'CLOSED') this.refuse(res, 503, 'closed', 1_000, 'the gateway is shutting down');
        else this.refuse(res, 429, reasonOf(code), retryAfterMs ?? 1_000, message);
        return;
      }
      // the provider could not be reached
      settleBreaker({ ok: false, error });
      count('upstream_error');
      this.refuse(
        res,
        502,
        'upstream-unreachable',
        1_000,
        `provider unreachable: ${error instanceof Error ? error.message : String(error)}`,
      );
      return;
    }
    relay.responseStarted();
    this.reservedTokens += promptTokens(body.messages) + body.maxTokens;
    if (signal.aborted) {
      // the client left while the call was on its way: the provider has it, so end it there
      await response.body?.cancel().catch(() => undefined);
      this.noteCutOff(response.headers.get('x-request-id') ?? undefined);
      settleBreaker(undefined);
      count('client_closed');
      return;
    }
    const remaining = Number(response.headers.get('x-ratelimit-remaining-tokens'));
    if (response.headers.has('x-ratelimit-remaining-tokens') && Number.isFinite(remaining)) this.lastProviderRemainingTokens = remaining;

    if (response.status !== 200 || response.body === null) {
      const status = response.status;
      await response.body?.cancel().catch(() => undefined);
      settleBreaker({ ok: false, error: new UpstreamStatusError(status) });
      if (status === 429) {
        this.provider429s++;
        count('refused');
        const seconds = Number(response.headers.get('retry-after'));
        this.refuse(res, 429, 'provider-429', Number.isFinite(seconds) ? seconds * 1000 : 1_000, 'the provider is rate limiting');
      } else {
        count('upstream_error');
        this.refuse(res, 502, 'upstream-error', status >= 500 ? 1_000 : undefined, `provider answered ${status}`);
      }
      return;
    }

    // stream: upstream SSE → our events → SSE to the client, each step pulled only as the
    // client reads, so a slow client holds back the provider's stream instead of filling memory
    const state: RelayState = {
      id: response.headers.get('x-request-id') ?? undefined,
      finishReason: undefined,
      usage: undefined,
      failed: undefined,
      readToEnd: false,
    };
    const onToken = (first: boolean): void => {
      this.streamedTokens++;
      if (first) this.recordTtft(klass, (systemClock.now() - call.arrivedAt) / 1000);
    };
    const events = relayEvents(response.body, state, signal, onToken);
    const sse = sseStream(events, {
      heartbeatMs: this.heartbeatMs,
      encode: (event) => ({ event: event.type, data: JSON.stringify(event) }),
    });
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      'x-client-class': klass,
      ...(state.id === undefined ? {} : { 'x-upstream-id': state.id }),
    });
    res.flushHeaders();
    try {
      await pipeline(Readable.fromWeb(sse as unknown as NodeReadableStream<Uint8Array>), res);
    } catch {
      // the client went away (or the connection broke): the relay stopped reading upstream
    }
    if (state.usage !== undefined) this.usedTokens += state.usage.promptTokens + state.usage.completionTokens;
    if (!state.readToEnd) this.noteCutOff(state.id);
    if (signal.aborted || !res.writableFinished) {
      settleBreaker(undefined); // says nothing about the provider
      count('client_closed');
    } else if (state.failed !== undefined) {
      settleBreaker({ ok: false, error: state.failed });
      count('upstream_error');
    } else {
      settleBreaker({ ok: true });
      count('completed');
    }
  }

  private noteCutOff(id: string | undefined): void {
    this.cutOffCount++;
    if (id === undefined) return;
    this.cutOff.push(id);
    if (this.cutOff.length > 10_000) this.cutOff.shift();
  }

  private recordTtft(klass: ClientClass, seconds: number): void {
    const c = this.counters[klass];
    c.ttftCount++;
    c.ttftSum += seconds;
    const i = TTFT_BUCKETS_S.findIndex((bound) => seconds <= bound);
    if (i >= 0) c.ttftBuckets[i] = (c.ttftBuckets[i] as number) + 1;
  }

  private refuse(res: http.ServerResponse, status: number, reason: string, retryAfterMs: number | undefined, message: string): void {
    this.refusals[reason] = (this.refusals[reason] ?? 0) + 1;
    if (res.headersSent || res.destroyed) return;
    const headers: Record<string, string> = {};
    if (retryAfterMs !== undefined) {
      headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
      headers['retry-after-ms'] = String(Math.max(0, Math.ceil(retryAfterMs)));
    }
    sendJson(res, status, headers, {
      error: { code: reason, message, ...(retryAfterMs === undefined ? {} : { retryAfterMs: Math.ceil(retryAfterMs) }) },
    });
  }
}

interface RelayState {
  readonly id: string | undefined;
  finishReason: string | undefined;
  usage: { promptTokens: number; completionTokens: number } | undefined;
  failed: Error | undefined;
  /** The upstream body was read to its end (so wrapFetch reconciled the reservation). */
  readToEnd: boolean;
}

/**
 * The provider's OpenAI chunks as the gateway's events: one `token` per non-empty
 * `delta.content`, in order, then `done` with the usage (or `error` if the stream broke).
 */
async function* relayEvents(
  body: ReadableStream<Uint8Array>,
  state: RelayState,
  signal: AbortSignal,
  onToken: (first: boolean) => void,
): AsyncGenerator<GatewayEvent> {
  let first = true;
  try {
    for await (const event of readSse(chunksOf(body))) {
      if (event.data === '[DONE]') continue;
      let chunk: OpenAiChunk;
      try {
        chunk = JSON.parse(event.data) as OpenAiChunk;
      } catch {
        continue;
      }
      if (chunk.error !== undefined && chunk.error !== null) {
        state.failed = new Error(`provider stream error: ${JSON.stringify(chunk.error)}`);
        yield { type: 'error', message: 'the provider reported an error mid-stream' };
        return;
      }
      const choice = chunk.choices?.[0];
      const text = choice?.delta?.content;
      if (typeof text === 'string' && text !== '') {
        onToken(first);
        first = false;
        yield { type: 'token', text };
      }
      if (typeof choice?.finish_reason === 'string') state.finishReason = choice.finish_reason;
      const usage = chunk.usage;
      if (usage !== undefined && usage !== null)
        state.usage = { promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens };
    }
    state.readToEnd = true;
  } catch (error) {
    if (signal.aborted) return; // the client left: nobody to tell
    state.failed = error instanceof Error ? error : new Error(String(error));
    yield { type: 'error', message: 'the provider stream broke off' };
    return;
  }
  if (state.usage === undefined || state.finishReason === undefined) {
    state.failed = new Error('the provider stream ended without finishing');
    yield { type: 'error', message: 'the provider stream ended early' };
    return;
  }
  yield { type: 'done', id: state.id, finishReason: state.finishReason, usage: state.usage };
}

interface OpenAiChunk {
  readonly choices?: readonly { readonly delta?: { readonly content?: string | null }; readonly finish_reason?: string | null }[];
  readonly usage?: { readonly prompt_tokens: number; readonly completion_tokens: number } | null;
  readonly error?: unknown;
}

function reasonOf(code: string): string {
  switch (code) {
    case 'WAIT_TIMEOUT':
      return 'timeout';
    case 'QUEUE_FULL':
      return 'queue-full';
    default:
      return code.toLowerCase().replace(/_/g, '-');
  }
}

function parseChatBody(text: string, defaultMaxTokens: number, cap: number): { messages: ChatMessage[]; maxTokens: number } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error('the body must be JSON');
  }
  const body = json as { messages?: unknown; max_tokens?: unknown } | null;
  if (typeof body !== 'object' || body === null || !isChatMessages(body.messages)) {
    throw new Error('messages must be a non-empty array of { role, content } with string values');
  }
  const maxTokens = body.max_tokens ?? defaultMaxTokens;
  if (typeof maxTokens !== 'number' || !Number.isInteger(maxTokens) || maxTokens < 1 || maxTokens > cap) {
    throw new Error(`max_tokens must be an integer from 1 to ${cap}`);
  }
  return { messages: body.messages.map(({ role, content }) => ({ role, content })), maxTokens };
}

function headerOf(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
