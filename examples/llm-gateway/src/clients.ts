// Simulated clients of the gateway: open-loop senders of streamed chat requests (arrivals do not
// wait for answers, as independent users do), reading the gateway's SSE and timing it.

import http from 'node:http';
import { systemClock } from '@sluice/core';
import type { ClientClass, GatewayEvent } from './gateway.js';
import { readSse } from './sse.js';
import { seededRandom, textOfTokens } from './tokens.js';

/** One simulated client. */
export interface ClientSpec {
  /** Sent as `x-client`; the gateway maps it to a class. */
  readonly id: string;
  /** The class the gateway gives it (for the report). */
  readonly klass: ClientClass;
  /** Mean requests per second (Poisson arrivals). */
  readonly requestsPerSecond: number;
  /** Prompt size range, tokens (uniform). */
  readonly promptTokens: readonly [number, number];
  /** `max_tokens` range (uniform). */
  readonly maxTokens: readonly [number, number];
  /** `x-max-wait-ms` sent; default: the gateway's default for the class. */
  readonly maxWaitMs?: number;
  /** Requests sent all at once at the start, e.g. a batch job's backlog. */
  readonly backlog?: { readonly count: number; readonly promptTokens: number; readonly maxTokens: number };
}

/** What happened to one request. */
export interface RequestResult {
  readonly client: string;
  readonly klass: ClientClass;
  readonly backlog: boolean;
  readonly promptTokens: number;
  readonly maxTokens: number;
  /** ms on `systemClock`. */
  readonly sentAt: number;
  /** HTTP status from the gateway; 0 when no answer came. */
  status: number;
  /** When the first token event arrived. */
  firstTokenAt: number | undefined;
  endedAt: number | undefined;
  /** Tokens received, in order. */
  readonly tokens: string[];
  /** The provider's completion id (`x-upstream-id`). */
  upstreamId: string | undefined;
  /** `Retry-After` of a refusal, seconds. */
  retryAfterS: number | undefined;
  /** Usage reported in the `done` event. */
  usage: { promptTokens: number; completionTokens: number } | undefined;
  outcome: 'completed' | 'refused' | 'failed' | 'cancelled' | 'pending';
}

/** Options of {@link runLoad}. */
export interface LoadOptions {
  readonly gatewayUrl: string;
  readonly clients: readonly ClientSpec[];
  /** How long new requests arrive, s. */
  readonly seconds: number;
  /** Seed of arrivals and sizes; default 7. */
  readonly seed?: number;
  /**
   * After `seconds`: requests still waiting for their answer (queued for quota) are cancelled at
   * once; streams in progress get this long to finish, ms, before they are cut; default 10,000.
   */
  readonly drainTimeoutMs?: number;
  /** Hard cap on requests sent; default 20,000. */
  readonly maxRequests?: number;
  /** Called when arrivals stop, before the drain. */
  readonly onStop?: () => void;
}

/** What a load run did. */
export interface LoadResult {
  /** ms on `systemClock`. */
  readonly startedAt: number;
  /** When arrivals stopped. */
  readonly stoppedAt: number;
  /** When the last request settled. */
  readonly drainedAt: number;
  readonly results: readonly RequestResult[];
}

/**
 * Sends the clients' requests for `seconds`, then drains (see `drainTimeoutMs`). Every request
 * goes to 127.0.0.1 through one keep-alive agent, destroyed at the end.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  // one stream of random numbers per client (arrivals, sizes) and one for prompt texts, so a
  // seed gives the same requests whatever the timing
  const seed = options.seed ?? 7;
  const randoms = options.clients.map((_, i) => seededRandom(seed * 7_919 + i + 1));
  const textRandom = seededRandom(seed ^ 0x5eed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 512 });
  const results: RequestResult[] = [];
  const inFlight = new Map<RequestResult, http.ClientRequest>();
  const settled = new Set<Promise<void>>();
  const maxRequests = options.maxRequests ?? 20_000;
  const uniform = (random: () => number, [low, high]: readonly [number, number]): number => Math.round(low + (high - low) * random());

  const send = (spec: ClientSpec, promptTokens: number, maxTokens: number, backlog: boolean): void => {
    if (results.length >= maxRequests) return;
    const result: RequestResult = {
      client: spec.id,
      klass: spec.klass,
      backlog,
      promptTokens,
      maxTokens,
      sentAt: systemClock.now(),
      status: 0,
      firstTokenAt: undefined,
      endedAt: undefined,
      tokens: [],
      upstreamId: undefined,
      retryAfterS: undefined,
      usage: undefined,
      outcome: 'pending',
    };
    results.push(result);
    const body = JSON.stringify({ messages: [{ role: 'user', content: textOfTokens(promptTokens, textRandom) }], max_tokens: maxTokens });
    const request = http.request(`${options.gatewayUrl}/chat`, {
      method: 'POST',
      agent,
      headers: {
        'content-type': 'application/json',
        'x-client': spec.id,
        ...(spec.maxWaitMs === undefined ? {} : { 'x-max-wait-ms': String(spec.maxWaitMs) }),
      },
    });
    inFlight.set(result, request);
    const done = exchange(request, body, result).finally(() => {
      inFlight.delete(result);
      settled.delete(done);
    });
    settled.add(done);
  };

  const startedAt = systemClock.now();
  const endAt = startedAt + options.seconds * 1000;
  for (const spec of options.clients) {
    if (spec.backlog !== undefined)
      for (let i = 0; i < spec.backlog.count; i++) send(spec, spec.backlog.promptTokens, spec.backlog.maxTokens, true);
  }
  // Poisson arrivals: exponential gaps per client, a 5 ms scheduling tick
  const next = options.clients.map((spec, i) => startedAt + exponentialMs(spec.requestsPerSecond, randoms[i] as () => number));
  while (systemClock.now() < endAt && results.length < maxRequests) {
    const now = systemClock.now();
    options.clients.forEach((spec, i) => {
      const random = randoms[i] as () => number;
      while ((next[i] as number) <= now && (next[i] as number) < endAt) {
        send(spec, uniform(random, spec.promptTokens), uniform(random, spec.maxTokens), false);
        next[i] = (next[i] as number) + exponentialMs(spec.requestsPerSecond, random);
      }
    });
    await sleep(Math.min(5, Math.max(0, endAt - systemClock.now())));
  }
  const stoppedAt = systemClock.now();
  options.onStop?.();

  // requests still queued for quota (no answer yet) are abandoned: the gateway sees the client go
  for (const [result, request] of inFlight) {
    if (result.status === 0) {
      result.outcome = 'cancelled';
      request.destroy();
    }
  }
  // streams in progress may finish, within the drain timeout
  const drainTimeoutMs = options.drainTimeoutMs ?? 10_000;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled([...settled]),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, drainTimeoutMs);
    }),
  ]);
  clearTimeout(timer);
  for (const [result, request] of inFlight) {
    result.outcome = 'cancelled';
    request.destroy();
  }
  await Promise.allSettled([...settled]);
  agent.destroy();
  return { startedAt, stoppedAt, drainedAt: systemClock.now(), results };
}

/** One request: send, then read the SSE answer (or the refusal) into `result`. */
function exchange(request: http.ClientRequest, body: string, result: RequestResult): Promise<void> {
  return new Promise<void>((resolve) => {
    const finish = (outcome: RequestResult['outcome']): void => {
      if (result.outcome === 'pending') result.outcome = outcome;
      result.endedAt ??= systemClock.now();
      resolve();
    };
    request.on('error', () => finish('failed'));
    request.on('response', (response) => {
      result.status = response.statusCode ?? 0;
      if (result.status !== 200) {
        const retryAfter = Number(response.headers['retry-after']);
        if (Number.isFinite(retryAfter)) result.retryAfterS = retryAfter;
        response.resume();
        response.on('end', () => finish(result.status === 429 || result.status === 503 ? 'refused' : 'failed'));
        response.on('error', () => finish('failed'));
        response.on('close', () => finish('failed'));
        return;
      }
      const upstream = response.headers['x-upstream-id'];
      result.upstreamId = Array.isArray(upstream) ? upstream[0] : upstream;
      readEvents(response, result).then(
        (outcome) => finish(outcome),
        () => finish('failed'),
      );
    });
    request.end(body);
  });
}

async function readEvents(response: http.IncomingMessage, result: RequestResult): Promise<RequestResult['outcome']> {
  for await (const event of readSse(response as AsyncIterable<Buffer>)) {
    let payload: GatewayEvent;
    try {
      payload = JSON.parse(event.data) as GatewayEvent;
    } catch {
      continue;
    }
    if (payload.type === 'token') {
      result.firstTokenAt ??= systemClock.now();
      result.tokens.push(payload.text);
    } else if (payload.type === 'done') {
      result.usage = payload.usage;
      return 'completed';
    } else if (payload.type === 'error') {
      return 'failed';
    }
  }
  return 'failed'; // ended without `done`
}

function exponentialMs(perSecond: number, random: () => number): number {
  return (-Math.log(1 - random()) / perSecond) * 1000;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
