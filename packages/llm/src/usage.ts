import type { TokenUsage } from '@sluice/core';

/**
 * Reads the token usage out of a parsed (non-streaming) LLM response body, in any of the
 * formats the providers send:
 *
 * | Provider | Fields read | Input | Output |
 * | --- | --- | --- | --- |
 * | OpenAI Chat / Completions / Embeddings | `usage.prompt_tokens`, `completion_tokens`, `total_tokens` | `prompt_tokens` | `completion_tokens` |
 * | OpenAI Responses | `usage.input_tokens`, `output_tokens`, `total_tokens` | `input_tokens` (cached included) | `output_tokens` |
 * | Anthropic Messages | `usage.input_tokens`, `cache_creation_input_tokens`, `cache_read_input_tokens`, `output_tokens` | the sum of the three input fields (`input_tokens` alone is only the uncached part) | `output_tokens` |
 * | Gemini | `usageMetadata.promptTokenCount`, `toolUsePromptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`, `totalTokenCount` | prompt + tool-use prompt | candidates + thoughts |
 *
 * All counts are tokens. When the total and one side are known the other side is derived
 * (`total − known`, so an embeddings response reports 0 output tokens); a total missing from
 * the body is left out (the limiter takes input + output).
 *
 * @param body - the parsed JSON body; anything else (a string, `null`) yields `undefined`.
 * @returns the usage, or `undefined` when the body reports none (nothing is guessed).
 *
 * @example
 * ```ts
 * import { usageFromResponseBody } from '@sluice/llm';
 * usageFromResponseBody({ usage: { prompt_tokens: 12, completion_tokens: 30, total_tokens: 42 } });
 * // → { inputTokens: 12, outputTokens: 30, totalTokens: 42 }
 * ```
 */
export function usageFromResponseBody(body: unknown): TokenUsage | undefined {
  if (!isRecord(body)) return undefined;
  if (isRecord(body.usageMetadata)) return geminiUsage(body.usageMetadata);
  if (isRecord(body.usage)) return usageFields(body.usage);
  // a Responses API stream event (`response.completed`) wraps the whole response
  if (isRecord(body.response) && isRecord(body.response.usage)) return usageFields(body.response.usage);
  return undefined;
}

/** Longest SSE event (its `data:` lines together) kept for parsing, in UTF-16 code units. */
const MAX_EVENT_CHARS = 8 * 1024 * 1024;

/**
 * Follows a Server-Sent Events stream from an LLM API, chunk by chunk, and keeps the token
 * usage it reports — without buffering the stream: only the current incomplete line (and the
 * `data:` of the event being assembled) is held, so a chunk may end anywhere, even inside a
 * multi-byte character or between a CR and its LF.
 *
 * Understood events:
 * - **OpenAI Chat** with `stream_options: { include_usage: true }`: the final chunk whose
 *   `usage` is not null (without `include_usage` no usage is ever sent).
 * - **OpenAI Responses**: `response.completed` / `response.incomplete` (`response.usage`);
 *   `response.failed` also marks the stream {@link SseUsageTracker.failed | failed}.
 * - **Anthropic**: `message_start` (`message.usage`: input, cache creation, cache read) then
 *   `message_delta` (`usage.output_tokens` is the running total, so the last one wins; input
 *   fields there, when present, replace the ones from `message_start`).
 * - **Gemini** (`alt=sse`): `usageMetadata`, the last one wins.
 * - Errors inside the stream: an `event: error`, a `{"type":"error"}` payload, or an OpenAI
 *   `{"error": {…}}` payload mark it failed.
 *
 * Malformed events are ignored; `write` never throws. `data: [DONE]` is skipped.
 *
 * @example
 * ```ts
 * import { SseUsageTracker } from '@sluice/llm';
 * const tracker = new SseUsageTracker();
 * tracker.write('event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\n\n');
 * tracker.end();
 * tracker.usage; // → { outputTokens: 7 }
 * ```
 */
export class SseUsageTracker {
  private readonly decoder = new TextDecoder();
  /** The current line, not yet terminated. */
  private partial = '';
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to it. */
  private skipLineFeed = false;
  private eventName: string | undefined;
  private data: string | undefined;
  private dataOverflow = false;
  /** The current line outgrew the limit: its rest is skipped up to the next line end. */
  private skippingLine = false;
  private ended = false;
  private sawError = false;
  // Usage so far, in tokens. Anthropic's input is kept in its three parts so a message_delta
  // that restates one of them can replace just that part.
  private input: number | undefined;
  private uncachedInput: number | undefined;
  private cacheCreationInput: number | undefined;
  private cacheReadInput: number | undefined;
  private output: number | undefined;
  private total: number | undefined;

  /**
   * The usage reported so far (tokens), or `undefined` if none yet. Before the stream ends it
   * may be partial: Anthropic's output count grows with every `message_delta`.
   */
  get usage(): TokenUsage | undefined {
    return buildUsage(this.input, this.output, this.total);
  }

  /** True once the stream carried an error event (the call failed despite its 2xx status). */
  get failed(): boolean {
    return this.sawError;
  }

  /**
   * Feeds the next chunk: bytes as they came off the wire (decoded as UTF-8 across chunk
   * boundaries) or already-decoded text. Ignored after {@link SseUsageTracker.end}.
   */
  write(chunk: Uint8Array | string): void {
    if (this.ended) return;
    try {
      this.feed(typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true }));
    } catch {
      // never let usage tracking break the stream it watches
    }
  }

  /**
   * Ends the stream: flushes the decoder and dispatches an event left without its closing blank
   * line (a lenient reading: some servers end the stream right after the last `data:` line).
   */
  end(): void {
    if (this.ended) return;
    try {
      this.feed(this.decoder.decode());
      if (this.partial.length > 0 && !this.skippingLine) this.line(this.partial);
      this.partial = '';
      this.dispatch();
    } catch {
      // as in write
    }
    this.ended = true;
  }

  private feed(text: string): void {
    const length = text.length;
    if (length === 0) return;
    let start = 0;
    if (this.skipLineFeed) {
      this.skipLineFeed = false;
      if (text.charCodeAt(0) === 10) start = 1;
    }
    for (let i = start; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      if (this.skippingLine) this.skippingLine = false;
      else {
        const piece = text.slice(start, i);
        this.line(this.partial.length === 0 ? piece : this.partial + piece);
      }
      this.partial = '';
      if (code === 13) {
        if (i + 1 === length) this.skipLineFeed = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < length && !this.skippingLine) {
      this.partial += text.slice(start);
      // a line this long is no usage event: drop it (and its event) rather than grow without bound
      if (this.partial.length > MAX_EVENT_CHARS) {
        this.partial = '';
        this.skippingLine = true;
        this.dataOverflow = true;
        this.data = undefined;
      }
    }
  }

  private line(line: string): void {
    if (line.length === 0) {
      this.dispatch();
      return;
    }
    if (line.charCodeAt(0) === 58) return; // ":" starts a comment (keep-alive)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') {
      if (this.dataOverflow) return;
      this.data = this.data === undefined ? value : `${this.data}\n${value}`;
      if (this.data.length > MAX_EVENT_CHARS) {
        this.data = undefined;
        this.dataOverflow = true;
      }
    } else if (field === 'event') {
      this.eventName = value;
    }
  }

  private dispatch(): void {
    const name = this.eventName;
    const data = this.data;
    this.eventName = undefined;
    this.data = undefined;
    this.dataOverflow = false;
    if (name === 'error') this.sawError = true;
    if (data === undefined || data === '[DONE]') return;
    // most events are text deltas: parse only those that can carry usage or an error
    if (!data.includes('sage') && !data.includes('rror')) return;
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      return;
    }
    if (isRecord(payload)) this.event(payload);
  }

  private event(payload: Record<string, unknown>): void {
    const type = typeof payload.type === 'string' ? payload.type : undefined;
    if (type === 'error' || (type === undefined && isRecord(payload.error))) {
      this.sawError = true;
      return;
    }
    switch (type) {
      case 'message_start': {
        const message = payload.message;
        if (isRecord(message) && isRecord(message.usage)) this.anthropic(message.usage);
        return;
      }
      case 'message_delta':
        if (isRecord(payload.usage)) this.anthropic(payload.usage);
        return;
      case 'response.completed':
      case 'response.incomplete':
      case 'response.failed': {
        // a failed response still reports what it used
        if (type === 'response.failed') this.sawError = true;
        const response = payload.response;
        if (isRecord(response) && isRecord(response.usage)) this.replace(usageFields(response.usage));
        return;
      }
      default:
        if (isRecord(payload.usageMetadata)) this.replace(geminiUsage(payload.usageMetadata));
        else if (isRecord(payload.usage)) this.replace(usageFields(payload.usage));
    }
  }

  /** Anthropic usage, from `message_start` or a (cumulative) `message_delta`. */
  private anthropic(usage: Record<string, unknown>): void {
    const uncached = tokens(usage.input_tokens);
    const creation = tokens(usage.cache_creation_input_tokens);
    const read = tokens(usage.cache_read_input_tokens);
    if (uncached !== undefined) this.uncachedInput = uncached;
    if (creation !== undefined) this.cacheCreationInput = creation;
    if (read !== undefined) this.cacheReadInput = read;
    if (this.uncachedInput !== undefined || this.cacheCreationInput !== undefined || this.cacheReadInput !== undefined) {
      this.input = (this.uncachedInput ?? 0) + (this.cacheCreationInput ?? 0) + (this.cacheReadInput ?? 0);
    }
    const output = tokens(usage.output_tokens);
    if (output !== undefined) this.output = output; // a running total: the latest replaces
    this.total = undefined;
  }

  private replace(usage: TokenUsage | undefined): void {
    if (usage === undefined) return;
    this.input = usage.inputTokens;
    this.output = usage.outputTokens;
    this.total = usage.totalTokens;
  }
}

/** Usage from a `usage` object of OpenAI (Chat or Responses) or Anthropic shape. */
function usageFields(usage: Record<string, unknown>): TokenUsage | undefined {
  const prompt = tokens(usage.prompt_tokens);
  const uncached = tokens(usage.input_tokens);
  const creation = tokens(usage.cache_creation_input_tokens);
  const read = tokens(usage.cache_read_input_tokens);
  const input =
    prompt ??
    (uncached === undefined && creation === undefined && read === undefined ? undefined : (uncached ?? 0) + (creation ?? 0) + (read ?? 0));
  const output = tokens(usage.completion_tokens) ?? tokens(usage.output_tokens);
  return buildUsage(input, output, tokens(usage.total_tokens));
}

/** Usage from Gemini's `usageMetadata`. */
function geminiUsage(meta: Record<string, unknown>): TokenUsage | undefined {
  const prompt = tokens(meta.promptTokenCount);
  const toolPrompt = tokens(meta.toolUsePromptTokenCount);
  const candidates = tokens(meta.candidatesTokenCount);
  const thoughts = tokens(meta.thoughtsTokenCount);
  const input = prompt === undefined && toolPrompt === undefined ? undefined : (prompt ?? 0) + (toolPrompt ?? 0);
  const output = candidates === undefined && thoughts === undefined ? undefined : (candidates ?? 0) + (thoughts ?? 0);
  return buildUsage(input, output, tokens(meta.totalTokenCount));
}

/**
 * Assembles a `TokenUsage` with only the fields known, deriving a missing side from the total.
 * Returns `undefined` when nothing is known.
 */
function buildUsage(input: number | undefined, output: number | undefined, total: number | undefined): TokenUsage | undefined {
  if (total !== undefined) {
    if (input === undefined && output !== undefined) input = Math.max(0, total - output);
    else if (output === undefined && input !== undefined) output = Math.max(0, total - input);
  }
  if (input === undefined && output === undefined && total === undefined) return undefined;
  return {
    ...(input === undefined ? {} : { inputTokens: input }),
    ...(output === undefined ? {} : { outputTokens: output }),
    ...(total === undefined ? {} : { totalTokens: total }),
  };
}

/** A token count: a finite number ≥ 0, else `undefined` (null, strings, negatives). */
function tokens(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
