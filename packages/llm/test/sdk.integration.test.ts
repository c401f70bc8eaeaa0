// The official `openai` and `@anthropic-ai/sdk` clients, driven through `limiter.fetch` against a
// local provider that speaks their wire formats (test/support/fake-provider.ts). Real clock: the
// SDKs sleep on real timers between retries, so the scripted 429s ask for 0.7 s and 1 s.
//
// Bucket levels are checked exactly up to refill: a bucket only gains by refilling at
// capacity / 60 s, so a level measured t ms after the limiter was made lies in
// [expected, expected + capacity × t / 60 000]. The limits are small (a few thousand per minute)
// so that slack stays 10–15 tokens per 100 ms, far below the amounts the assertions tell apart.

import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { LlmLimiter, estimateTokensByChars, type Dimension, type LlmLimiterOptions, type PauseEvent } from '../src/index.js';
import {
  ANSWER,
  ANTHROPIC_INPUT_TOTAL,
  ANTHROPIC_RETRY_AFTER_S,
  ANTHROPIC_USAGE,
  FakeProvider,
  OPENAI_RETRY_AFTER_MS,
  OPENAI_USAGE,
  SCENARIO_HEADER,
  type ProviderHit,
} from './support/fake-provider.js';

const OPENAI_LIMITS = { requestsPerMinute: 5_000, tokensPerMinute: 6_000 } as const;
const ANTHROPIC_LIMITS = {
  requestsPerMinute: 4_000,
  tokensPerMinute: 9_000,
  inputTokensPerMinute: 6_000,
  outputTokensPerMinute: 3_000,
} as const;

const OPENAI_MODEL = 'gpt-4o-mini';
const ANTHROPIC_MODEL = 'claude-sonnet-4-6';
const OPENAI_MAX_TOKENS = 400;
const ANTHROPIC_MAX_TOKENS = 300;
const OPENAI_MESSAGES = [
  { role: 'system', content: 'You are a terse assistant. Answer in one line.' },
  { role: 'user', content: 'Name four rivers of Europe, one of them in Chinese.' },
] satisfies OpenAI.Chat.Completions.ChatCompletionMessageParam[];
const ANTHROPIC_SYSTEM = 'You are a terse assistant. Answer in one line.';
const ANTHROPIC_MESSAGES = [
  { role: 'user', content: 'Name four rivers of Europe, one of them in Chinese.' },
] satisfies Anthropic.MessageParam[];

/** Longest a bounded wait in these tests may take, ms. */
const WAIT_LIMIT_MS = 3_000;

let provider: FakeProvider;
const limiters: LlmLimiter[] = [];

beforeAll(async () => {
  provider = await FakeProvider.start({
    openai: { requests: OPENAI_LIMITS.requestsPerMinute, tokens: OPENAI_LIMITS.tokensPerMinute },
    anthropic: {
      requests: ANTHROPIC_LIMITS.requestsPerMinute,
      tokens: ANTHROPIC_LIMITS.tokensPerMinute,
      inputTokens: ANTHROPIC_LIMITS.inputTokensPerMinute,
      outputTokens: ANTHROPIC_LIMITS.outputTokensPerMinute,
    },
  });
});

afterEach(() => {
  for (const limiter of limiters.splice(0)) limiter.close();
  provider.reset();
});

afterAll(async () => {
  await provider.close();
});

// ---- helpers ----

type Levels = Partial<Record<Dimension, number>>;

interface Setup {
  readonly limiter: LlmLimiter;
  /** `performance.now()` just before the limiter was made: refill can only have run since. */
  readonly since: number;
}

/** A limiter on the real clock whose levels the provider records as each request arrives. */
function makeLimiter(options: LlmLimiterOptions): Setup {
  const since = performance.now();
  const limiter = new LlmLimiter(options);
  limiters.push(limiter);
  provider.probe = (): Levels => levelsOf(limiter);
  return { limiter, since };
}

function openaiSetup(): Setup & { readonly client: OpenAI } {
  const setup = makeLimiter(OPENAI_LIMITS);
  const client = new OpenAI({ apiKey: 'test', baseURL: `${provider.baseUrl}/v1`, fetch: setup.limiter.fetch });
  return { ...setup, client };
}

function anthropicSetup(): Setup & { readonly client: Anthropic } {
  const setup = makeLimiter(ANTHROPIC_LIMITS);
  const client = new Anthropic({ apiKey: 'test', baseURL: provider.baseUrl, fetch: setup.limiter.fetch });
  return { ...setup, client };
}

function levelsOf(limiter: LlmLimiter): Levels {
  const levels: Levels = {};
  for (const dimension of limiter.dimensions) levels[dimension] = limiter.remaining(dimension);
  return levels;
}

/** The level of `dimension` recorded by the provider as `hit` arrived. */
function probed(hit: ProviderHit | undefined, dimension: Dimension): number {
  const levels = hit?.probe as Levels | undefined;
  const level = levels?.[dimension];
  if (level === undefined) throw new Error(`no ${dimension} level was recorded`);
  return level;
}

/**
 * Asserts that `level`, read at `atMs`, is `expected` up to what the bucket can have refilled
 * since `since` (it gains capacity/60 s per ms below capacity, and nothing else raises it).
 */
function expectLevel(limiter: LlmLimiter, dimension: Dimension, level: number, expected: number, since: number, atMs: number): void {
  const refill = (limiter.capacityOf(dimension) / 60_000) * (atMs - since);
  expect(level, `${dimension} left`).toBeGreaterThanOrEqual(expected - 1e-6);
  expect(level, `${dimension} left (refill up to ${refill.toFixed(1)})`).toBeLessThanOrEqual(expected + refill + 1e-6);
}

/** `expectLevel` on the limiter's level now. */
function expectRemaining(limiter: LlmLimiter, dimension: Dimension, expected: number, since: number): void {
  const level = limiter.remaining(dimension);
  expectLevel(limiter, dimension, level, expected, since, performance.now());
}

/** The input tokens the limiter estimated for the body the provider received (the same text). */
function estimateOf(hit: ProviderHit | undefined): number {
  if (hit === undefined) throw new Error('no request reached the provider');
  return estimateTokensByChars(hit.bodyText, JSON.parse(hit.bodyText));
}

/** A promise's outcome, handled at once (so a rejection before it is awaited is never unhandled). */
function outcomeOf<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return Promise.allSettled([promise]).then(([result]) => result as PromiseSettledResult<T>);
}

function settledValue<T>(result: PromiseSettledResult<T>): T {
  if (result.status === 'rejected') throw result.reason;
  return result.value;
}

/** Records the limiter's pauses and resumptions with their `performance.now()` times. */
function watchPauses(limiter: LlmLimiter): { readonly pauses: { event: PauseEvent; at: number }[]; readonly resumes: number[] } {
  const pauses: { event: PauseEvent; at: number }[] = [];
  const resumes: number[] = [];
  limiter.onPause((event) => pauses.push({ event, at: performance.now() }));
  limiter.onResume(() => resumes.push(performance.now()));
  return { pauses, resumes };
}

/**
 * Spies on `settle`, where every permit release lands (public, marked internal): it tells when a
 * call's permit was settled and with what outcome.
 */
function watchSettles(limiter: LlmLimiter) {
  return vi.spyOn(limiter, 'settle');
}

// ---- OpenAI ----

describe('openai SDK through limiter.fetch', () => {
  it('a chat completion: reserves the input estimate + max_completion_tokens in flight, then settles at the reported usage', async () => {
    const { limiter, client, since } = openaiSetup();

    const completion = await client.chat.completions.create({
      model: OPENAI_MODEL,
      messages: OPENAI_MESSAGES,
      max_completion_tokens: OPENAI_MAX_TOKENS,
    });

    expect(completion.choices[0]?.message.content).toBe(ANSWER);
    expect(completion.usage).toMatchObject(OPENAI_USAGE);
    expect(provider.hits).toHaveLength(1);
    const [hit] = provider.hits;
    const reserved = estimateOf(hit) + OPENAI_MAX_TOKENS;
    expect(estimateOf(hit)).toBeGreaterThan(0);
    // in flight: the whole reservation was held
    expectLevel(limiter, 'tokens', probed(hit, 'tokens'), OPENAI_LIMITS.tokensPerMinute - reserved, since, hit?.at ?? 0);
    expectLevel(limiter, 'requests', probed(hit, 'requests'), OPENAI_LIMITS.requestsPerMinute - 1, since, hit?.at ?? 0);
    // afterwards: only what the provider reported as used
    expectRemaining(limiter, 'tokens', OPENAI_LIMITS.tokensPerMinute - OPENAI_USAGE.total_tokens, since);
  });

  it('a streamed chat completion with include_usage: the chunks arrive intact and the permit settles at the usage chunk', async () => {
    const { limiter, client, since } = openaiSetup();
    const settles = watchSettles(limiter);

    const stream = await client.chat.completions.create({
      model: OPENAI_MODEL,
      messages: OPENAI_MESSAGES,
      max_completion_tokens: OPENAI_MAX_TOKENS,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }

    expect(text).toBe(ANSWER);
    expect(chunks).toBe(7); // role, 4 pieces, finish, usage
    expect(usage).toMatchObject(OPENAI_USAGE);
    const [hit] = provider.hits;
    expect(await hit?.finished).toBe('completed');
    const reserved = estimateOf(hit) + OPENAI_MAX_TOKENS;
    expectLevel(limiter, 'tokens', probed(hit, 'tokens'), OPENAI_LIMITS.tokensPerMinute - reserved, since, hit?.at ?? 0);
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(settles.mock.calls[0]?.[1]).toMatchObject({ ok: true, usage: { inputTokens: 23, outputTokens: 11, totalTokens: 34 } });
    expectRemaining(limiter, 'tokens', OPENAI_LIMITS.tokensPerMinute - OPENAI_USAGE.total_tokens, since);
  });

  it('a stream without include_usage reports no usage, so its reservation stands', async () => {
    const { limiter, client, since } = openaiSetup();
    const settles = watchSettles(limiter);

    const stream = await client.chat.completions.create({
      model: OPENAI_MODEL,
      messages: OPENAI_MESSAGES,
      max_completion_tokens: OPENAI_MAX_TOKENS,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';

    expect(text).toBe(ANSWER);
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(settles.mock.calls[0]?.[1]).not.toHaveProperty('usage');
    expectRemaining(limiter, 'tokens', OPENAI_LIMITS.tokensPerMinute - estimateOf(provider.hits[0]) - OPENAI_MAX_TOKENS, since);
  });

  it('a stream the caller breaks out of early keeps its whole reservation', async () => {
    const { limiter, client, since } = openaiSetup();
    const settles = watchSettles(limiter);

    const stream = await client.chat.completions.create(
      {
        model: OPENAI_MODEL,
        messages: OPENAI_MESSAGES,
        max_completion_tokens: OPENAI_MAX_TOKENS,
        stream: true,
        stream_options: { include_usage: true },
      },
      { headers: { [SCENARIO_HEADER]: 'cut-off' } },
    );
    let text = '';
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (text.length > 0) break;
    }

    expect(text).toBe('Donau, ');
    const [hit] = provider.hits;
    expect(await hit?.finished).toBe('client-closed');
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(settles.mock.calls[0]?.[1]).toMatchObject({ ok: false });
    expect(settles.mock.calls[0]?.[1]).not.toHaveProperty('usage');
    expectRemaining(limiter, 'tokens', OPENAI_LIMITS.tokensPerMinute - estimateOf(hit) - OPENAI_MAX_TOKENS, since);
  });

  it('x-ratelimit-* headers reporting fewer tokens left lower the limiter, streamed or not', async () => {
    const { limiter, client, since } = openaiSetup();
    provider.tokensRemaining = 1_500;
    const settles = watchSettles(limiter);

    // not streamed: observed, then reconciled (the unused part of the reservation comes back on
    // top of the provider's figure, which counted this call's up-front charge)
    await client.chat.completions.create({ model: OPENAI_MODEL, messages: OPENAI_MESSAGES, max_completion_tokens: OPENAI_MAX_TOKENS });
    const firstRefund = estimateOf(provider.hits[0]) + OPENAI_MAX_TOKENS - OPENAI_USAGE.total_tokens;
    expectRemaining(limiter, 'tokens', 1_500 + firstRefund, since);
    expectRemaining(limiter, 'requests', OPENAI_LIMITS.requestsPerMinute - 1, since);

    // streamed: the headers are observed before the first chunk reaches the caller (the limiter now
    // holds about 1,500 + that refund − this call's reservation; the provider reports less still)
    provider.tokensRemaining = 1_000;
    const stream = await client.chat.completions.create({
      model: OPENAI_MODEL,
      messages: OPENAI_MESSAGES,
      max_completion_tokens: OPENAI_MAX_TOKENS,
      stream: true,
      stream_options: { include_usage: true },
    });
    let firstChunkLevel: number | undefined;
    let firstChunkAt = 0;
    for await (const chunk of stream) {
      if (firstChunkLevel === undefined) {
        firstChunkLevel = limiter.remaining('tokens');
        firstChunkAt = performance.now();
      }
      void chunk;
    }
    expectLevel(limiter, 'tokens', firstChunkLevel ?? Number.NaN, 1_000, since, firstChunkAt);
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(2), { timeout: WAIT_LIMIT_MS, interval: 1 });
    const secondRefund = estimateOf(provider.hits[1]) + OPENAI_MAX_TOKENS - OPENAI_USAGE.total_tokens;
    expectRemaining(limiter, 'tokens', 1_000 + secondRefund, since);
  });

  it('a 429 with retry-after-ms pauses the limiter for every caller; the SDK retries by itself once the pause is over', async () => {
    const { limiter, client, since } = openaiSetup();
    const { pauses, resumes } = watchPauses(limiter);
    const ask = (headers?: Record<string, string>): Promise<OpenAI.Chat.Completions.ChatCompletion> =>
      client.chat.completions.create(
        { model: OPENAI_MODEL, messages: OPENAI_MESSAGES, max_completion_tokens: OPENAI_MAX_TOKENS },
        headers ? { headers } : {},
      );

    const limited = outcomeOf(ask({ [SCENARIO_HEADER]: 'rate-limit-once:openai' }));
    await vi.waitFor(() => expect(pauses).toHaveLength(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    // three other callers arrive during the pause: they queue in the limiter, none is sent
    const others = [outcomeOf(ask()), outcomeOf(ask()), outcomeOf(ask())];
    await vi.waitFor(() => expect(limiter.stats().waiting).toBe(3), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(limiter.isPaused).toBe(true);
    expect(provider.hits).toHaveLength(1);

    const answers = [settledValue(await limited), ...(await Promise.all(others)).map(settledValue)];

    for (const answer of answers) expect(answer.choices[0]?.message.content).toBe(ANSWER);
    // the pause: the provider's hint, one pause, then one resumption
    expect(pauses).toHaveLength(1);
    expect(pauses[0]?.event.durationMs).toBeCloseTo(OPENAI_RETRY_AFTER_MS, 6);
    expect(pauses[0]?.event.triage).toMatchObject({
      action: 'retry-after',
      reason: 'rate-limited',
      retryAfterMs: OPENAI_RETRY_AFTER_MS,
      hinted: true,
      dimension: 'tokens',
    });
    expect(resumes).toHaveLength(1);
    const pausedAt = pauses[0]?.at ?? Number.NaN;
    const resumedAt = resumes[0] ?? Number.NaN;
    expect(resumedAt - pausedAt).toBeGreaterThanOrEqual(OPENAI_RETRY_AFTER_MS - 2); // timers may fire up to ~1 ms early on this clock
    // server hits over time: the 429, nothing while paused, then the SDK's retry and the three others
    const [first, ...later] = provider.hits;
    expect(first).toMatchObject({ status: 429, retryCount: 0, scenario: 'rate-limit-once:openai' });
    expect(later).toHaveLength(4);
    expect(provider.hits.filter((hit) => hit.at > (first?.at ?? 0) && hit.at < resumedAt)).toHaveLength(0);
    for (const hit of later) {
      expect(hit.status).toBe(200);
      expect(hit.at).toBeGreaterThanOrEqual(resumedAt);
    }
    const retry = later.find((hit) => hit.scenario === 'rate-limit-once:openai');
    expect(retry).toMatchObject({ retryCount: 1, status: 200 });
    expect((retry?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(OPENAI_RETRY_AFTER_MS - 2);
    // the 429's reservation stands (the provider counts failed calls); the four answers settled at their usage
    const rateLimitedReservation = estimateOf(first) + OPENAI_MAX_TOKENS;
    expectRemaining(limiter, 'tokens', OPENAI_LIMITS.tokensPerMinute - rateLimitedReservation - 4 * OPENAI_USAGE.total_tokens, since);
  });
});

// ---- Anthropic ----

describe('@anthropic-ai/sdk through limiter.fetch', () => {
  const params = { model: ANTHROPIC_MODEL, max_tokens: ANTHROPIC_MAX_TOKENS, system: ANTHROPIC_SYSTEM, messages: ANTHROPIC_MESSAGES };

  it('a message: reserves the input estimate + max_tokens in flight, then settles at the reported usage, cache reads and writes included', async () => {
    const { limiter, client, since } = anthropicSetup();

    const message = await client.messages.create(params);

    expect(message.content).toEqual([{ type: 'text', text: ANSWER }]);
    expect(message.usage).toMatchObject(ANTHROPIC_USAGE);
    expect(provider.hits).toHaveLength(1);
    const [hit] = provider.hits;
    const estimate = estimateOf(hit);
    const at = hit?.at ?? 0;
    expectLevel(limiter, 'tokens', probed(hit, 'tokens'), ANTHROPIC_LIMITS.tokensPerMinute - estimate - ANTHROPIC_MAX_TOKENS, since, at);
    expectLevel(limiter, 'input-tokens', probed(hit, 'input-tokens'), ANTHROPIC_LIMITS.inputTokensPerMinute - estimate, since, at);
    expectLevel(
      limiter,
      'output-tokens',
      probed(hit, 'output-tokens'),
      ANTHROPIC_LIMITS.outputTokensPerMinute - ANTHROPIC_MAX_TOKENS,
      since,
      at,
    );
    // the estimate was low (the cached prefix is not in the body): the extra input is debited
    expect(estimate).toBeLessThan(ANTHROPIC_INPUT_TOTAL);
    expectRemaining(limiter, 'tokens', ANTHROPIC_LIMITS.tokensPerMinute - ANTHROPIC_INPUT_TOTAL - ANTHROPIC_USAGE.output_tokens, since);
    expectRemaining(limiter, 'input-tokens', ANTHROPIC_LIMITS.inputTokensPerMinute - ANTHROPIC_INPUT_TOTAL, since);
    expectRemaining(limiter, 'output-tokens', ANTHROPIC_LIMITS.outputTokensPerMinute - ANTHROPIC_USAGE.output_tokens, since);
  });

  it('a streamed message: the events arrive intact and the permit settles at message_start + the cumulative message_delta', async () => {
    const { limiter, client, since } = anthropicSetup();
    const settles = watchSettles(limiter);

    const stream = await client.messages.create({ ...params, stream: true });
    let text = '';
    const types: string[] = [];
    let outputTokens: number | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') outputTokens = event.usage.output_tokens;
    }

    expect(text).toBe(ANSWER);
    expect(types).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(outputTokens).toBe(ANTHROPIC_USAGE.output_tokens);
    const [hit] = provider.hits;
    expect(await hit?.finished).toBe('completed');
    const estimate = estimateOf(hit);
    expectLevel(
      limiter,
      'tokens',
      probed(hit, 'tokens'),
      ANTHROPIC_LIMITS.tokensPerMinute - estimate - ANTHROPIC_MAX_TOKENS,
      since,
      hit?.at ?? 0,
    );
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    // output 9 is the running total of message_delta, not 1 (message_start) + 9
    expect(settles.mock.calls[0]?.[1]).toMatchObject({
      ok: true,
      usage: { inputTokens: ANTHROPIC_INPUT_TOTAL, outputTokens: ANTHROPIC_USAGE.output_tokens },
    });
    expectRemaining(limiter, 'tokens', ANTHROPIC_LIMITS.tokensPerMinute - ANTHROPIC_INPUT_TOTAL - ANTHROPIC_USAGE.output_tokens, since);
    expectRemaining(limiter, 'input-tokens', ANTHROPIC_LIMITS.inputTokensPerMinute - ANTHROPIC_INPUT_TOTAL, since);
    expectRemaining(limiter, 'output-tokens', ANTHROPIC_LIMITS.outputTokensPerMinute - ANTHROPIC_USAGE.output_tokens, since);
  });

  it('a message stream aborted after its first text keeps its whole reservation, though message_start reported partial usage', async () => {
    const { limiter, client, since } = anthropicSetup();
    const settles = watchSettles(limiter);

    const stream = client.messages.stream(params, { headers: { [SCENARIO_HEADER]: 'cut-off' } });
    const firstText = new Promise<string>((resolve) => stream.on('text', (delta) => resolve(delta)));
    const ended = outcomeOf(stream.done());
    expect(await firstText).toBe('Donau, ');
    stream.abort();

    const end = await ended;
    expect(end.status).toBe('rejected');
    expect(end.status === 'rejected' ? end.reason : undefined).toBeInstanceOf(Anthropic.APIUserAbortError);
    const [hit] = provider.hits;
    expect(await hit?.finished).toBe('client-closed');
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(settles.mock.calls[0]?.[1]).toMatchObject({ ok: false });
    expect(settles.mock.calls[0]?.[1]).not.toHaveProperty('usage');
    const estimate = estimateOf(hit);
    expectRemaining(limiter, 'tokens', ANTHROPIC_LIMITS.tokensPerMinute - estimate - ANTHROPIC_MAX_TOKENS, since);
    expectRemaining(limiter, 'input-tokens', ANTHROPIC_LIMITS.inputTokensPerMinute - estimate, since);
    expectRemaining(limiter, 'output-tokens', ANTHROPIC_LIMITS.outputTokensPerMinute - ANTHROPIC_MAX_TOKENS, since);
  });

  it('anthropic-ratelimit-* headers (rounded to thousands) reporting fewer tokens left lower the limiter', async () => {
    const { limiter, client, since } = anthropicSetup();
    provider.tokensRemaining = 2_000;

    const message = await client.messages.create(params);

    expect(message.content).toEqual([{ type: 'text', text: ANSWER }]);
    const estimate = estimateOf(provider.hits[0]);
    // the provider's 2,000 may be up to 500 more before rounding: the limiter lowers to 2,500, then
    // the reconciliation moves each level by reserved − used
    expectRemaining(
      limiter,
      'tokens',
      2_500 + estimate + ANTHROPIC_MAX_TOKENS - ANTHROPIC_INPUT_TOTAL - ANTHROPIC_USAGE.output_tokens,
      since,
    );
    expectRemaining(limiter, 'input-tokens', 2_500 + estimate - ANTHROPIC_INPUT_TOTAL, since);
    expectRemaining(limiter, 'output-tokens', 2_500 + ANTHROPIC_MAX_TOKENS - ANTHROPIC_USAGE.output_tokens, since);
    expectRemaining(limiter, 'requests', ANTHROPIC_LIMITS.requestsPerMinute - 1, since);
  });

  it('a 429 rate_limit_error with retry-after pauses the limiter for every caller; the SDK retries by itself once the pause is over', async () => {
    const { limiter, client, since } = anthropicSetup();
    const { pauses, resumes } = watchPauses(limiter);
    const settles = watchSettles(limiter);
    const ask = (headers?: Record<string, string>): Promise<Anthropic.Message> =>
      client.messages.create(params, headers ? { headers } : {});
    const retryAfterMs = ANTHROPIC_RETRY_AFTER_S * 1000;

    const limited = outcomeOf(ask({ [SCENARIO_HEADER]: 'rate-limit-once:anthropic' }));
    await vi.waitFor(() => expect(pauses).toHaveLength(1), { timeout: WAIT_LIMIT_MS, interval: 1 });
    // a streamed and two plain calls from other callers during the pause: they queue, none is sent
    const streamed = client.messages.stream(params);
    const others = [outcomeOf(ask()), outcomeOf(ask()), outcomeOf(streamed.finalMessage())];
    await vi.waitFor(() => expect(limiter.stats().waiting).toBe(3), { timeout: WAIT_LIMIT_MS, interval: 1 });
    expect(limiter.isPaused).toBe(true);
    expect(provider.hits).toHaveLength(1);

    const answers = [settledValue(await limited), ...(await Promise.all(others)).map(settledValue)];

    for (const answer of answers) expect(answer.content).toEqual([{ type: 'text', text: ANSWER }]);
    expect(pauses).toHaveLength(1);
    expect(pauses[0]?.event.durationMs).toBeCloseTo(retryAfterMs, 6);
    expect(pauses[0]?.event.triage).toMatchObject({
      action: 'retry-after',
      reason: 'rate-limited',
      retryAfterMs,
      hinted: true,
      dimension: 'input-tokens',
    });
    expect(resumes).toHaveLength(1);
    const resumedAt = resumes[0] ?? Number.NaN;
    expect(resumedAt - (pauses[0]?.at ?? Number.NaN)).toBeGreaterThanOrEqual(retryAfterMs - 2);
    const [first, ...later] = provider.hits;
    expect(first).toMatchObject({ status: 429, retryCount: 0, scenario: 'rate-limit-once:anthropic' });
    expect(later).toHaveLength(4);
    expect(provider.hits.filter((hit) => hit.at > (first?.at ?? 0) && hit.at < resumedAt)).toHaveLength(0);
    for (const hit of later) {
      expect(hit.status).toBe(200);
      expect(hit.at).toBeGreaterThanOrEqual(resumedAt);
    }
    const retry = later.find((hit) => hit.scenario === 'rate-limit-once:anthropic');
    expect(retry).toMatchObject({ retryCount: 1, status: 200 });
    expect((retry?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(retryAfterMs - 2);
    // the 429's reservation stands; the four answers settled at their usage (the stream's as it ended)
    await vi.waitFor(() => expect(settles).toHaveBeenCalledTimes(5), { timeout: WAIT_LIMIT_MS, interval: 1 });
    const estimate = estimateOf(first);
    const used = ANTHROPIC_INPUT_TOTAL + ANTHROPIC_USAGE.output_tokens;
    expectRemaining(limiter, 'tokens', ANTHROPIC_LIMITS.tokensPerMinute - estimate - ANTHROPIC_MAX_TOKENS - 4 * used, since);
    expectRemaining(limiter, 'input-tokens', ANTHROPIC_LIMITS.inputTokensPerMinute - estimate - 4 * ANTHROPIC_INPUT_TOTAL, since);
  });
});
