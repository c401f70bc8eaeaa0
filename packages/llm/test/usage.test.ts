import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { SseUsageTracker, usageFromResponseBody } from '../src/usage.js';
import { splitAt } from './support/split.js';

const encoder = new TextEncoder();

/** Recorded-shape SSE streams (trimmed), with the usage each must yield. */
const OPENAI_CHAT_STREAM =
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{"content":"Größe — 大きさ 🌊"},"logprobs":null,"finish_reason":null}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_f9f4fb6dbf","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}],"usage":null}\n\n' +
  'data: {"id":"chatcmpl-B9x","object":"chat.completion.chunk","created":1741570283,"model":"gpt-4o-2024-08-06","system_fingerprint":"fp_f9f4fb6dbf","choices":[],"usage":{"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}\n\n' +
  'data: [DONE]\n\n';

const ANTHROPIC_STREAM =
  'event: message_start\n' +
  'data: {"type":"message_start","message":{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":25,"cache_creation_input_tokens":100,"cache_read_input_tokens":2000,"output_tokens":1}}}\n\n' +
  'event: content_block_start\n' +
  'data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n' +
  'event: ping\n' +
  'data: {"type": "ping"}\n\n' +
  'event: content_block_delta\n' +
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello — ünïcödé ✓ 🌊"}}\n\n' +
  'event: message_delta\n' +
  'data: {"type":"message_delta","delta":{"stop_reason":null,"stop_sequence":null},"usage":{"output_tokens":7}}\n\n' +
  'event: content_block_delta\n' +
  'data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" and the usage word in text"}}\n\n' +
  'event: content_block_stop\n' +
  'data: {"type":"content_block_stop","index":0}\n\n' +
  'event: message_delta\n' +
  'data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":15}}\n\n' +
  'event: message_stop\n' +
  'data: {"type":"message_stop"}\n\n';

const RESPONSES_STREAM =
  'event: response.created\n' +
  'data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9","object":"response","status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"usage":null}}\n\n' +
  'event: response.output_text.delta\n' +
  'data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9","output_index":0,"content_index":0,"delta":"Hi"}\n\n' +
  'event: response.completed\n' +
  'data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_67c9","object":"response","status":"completed","model":"gpt-4.1-2025-04-14","usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}}}\n\n';

const GEMINI_STREAM =
  'data: {"candidates":[{"content":{"parts":[{"text":"The"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-2.5-flash"}\r\n\r\n' +
  'data: {"candidates":[{"content":{"parts":[{"text":" end."}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":8,"candidatesTokenCount":20,"thoughtsTokenCount":5,"totalTokenCount":33},"modelVersion":"gemini-2.5-flash"}\r\n\r\n';

const ANTHROPIC_ERROR_STREAM =
  'event: message_start\n' +
  'data: {"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","content":[],"model":"claude-sonnet-4-5","usage":{"input_tokens":40,"output_tokens":1}}}\n\n' +
  'event: error\n' +
  'data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n';

const RECORDED: readonly { name: string; stream: string; usage: object; failed: boolean }[] = [
  {
    name: 'OpenAI chat (include_usage)',
    stream: OPENAI_CHAT_STREAM,
    usage: { inputTokens: 19, outputTokens: 10, totalTokens: 29 },
    failed: false,
  },
  { name: 'Anthropic messages', stream: ANTHROPIC_STREAM, usage: { inputTokens: 2_125, outputTokens: 15 }, failed: false },
  { name: 'OpenAI Responses', stream: RESPONSES_STREAM, usage: { inputTokens: 37, outputTokens: 11, totalTokens: 48 }, failed: false },
  { name: 'Gemini (CRLF)', stream: GEMINI_STREAM, usage: { inputTokens: 8, outputTokens: 25, totalTokens: 33 }, failed: false },
  { name: 'Anthropic with an error event', stream: ANTHROPIC_ERROR_STREAM, usage: { inputTokens: 40, outputTokens: 1 }, failed: true },
];

/** A case and cut offsets spread over its whole length. */
function withCuts<T extends { bytes: Uint8Array }>(cases: readonly T[]): fc.Arbitrary<[T, number[]]> {
  return fc
    .constantFrom(...cases)
    .chain((item) => fc.tuple(fc.constant(item), fc.array(fc.integer({ min: 0, max: item.bytes.length }), { maxLength: 40 })));
}

function track(chunks: readonly (Uint8Array | string)[]): SseUsageTracker {
  const tracker = new SseUsageTracker();
  for (const chunk of chunks) tracker.write(chunk);
  tracker.end();
  return tracker;
}

describe('usageFromResponseBody', () => {
  it('reads OpenAI chat usage', () => {
    const body = {
      id: 'chatcmpl-123',
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 57, completion_tokens: 17, total_tokens: 74, prompt_tokens_details: { cached_tokens: 0 } },
    };
    expect(usageFromResponseBody(body)).toEqual({ inputTokens: 57, outputTokens: 17, totalTokens: 74 });
  });

  it('reads OpenAI Responses usage (input_tokens already includes cached ones)', () => {
    const body = {
      object: 'response',
      usage: {
        input_tokens: 328,
        input_tokens_details: { cached_tokens: 128 },
        output_tokens: 52,
        output_tokens_details: { reasoning_tokens: 10 },
        total_tokens: 380,
      },
    };
    expect(usageFromResponseBody(body)).toEqual({ inputTokens: 328, outputTokens: 52, totalTokens: 380 });
  });

  it('sums the three Anthropic input fields', () => {
    const body = {
      type: 'message',
      usage: {
        input_tokens: 12,
        cache_creation_input_tokens: 300,
        cache_read_input_tokens: 4_000,
        output_tokens: 90,
        service_tier: 'standard',
      },
    };
    expect(usageFromResponseBody(body)).toEqual({ inputTokens: 4_312, outputTokens: 90 });
  });

  it('reads Gemini usageMetadata, thoughts counted as output', () => {
    const body = {
      candidates: [],
      usageMetadata: {
        promptTokenCount: 120,
        cachedContentTokenCount: 100,
        candidatesTokenCount: 40,
        thoughtsTokenCount: 60,
        totalTokenCount: 220,
      },
    };
    expect(usageFromResponseBody(body)).toEqual({ inputTokens: 120, outputTokens: 100, totalTokens: 220 });
  });

  it('derives the missing side from the total (embeddings report no completion tokens)', () => {
    expect(usageFromResponseBody({ object: 'list', usage: { prompt_tokens: 8, total_tokens: 8 } })).toEqual({
      inputTokens: 8,
      outputTokens: 0,
      totalTokens: 8,
    });
    expect(usageFromResponseBody({ usageMetadata: { promptTokenCount: 5, totalTokenCount: 5 } })).toEqual({
      inputTokens: 5,
      outputTokens: 0,
      totalTokens: 5,
    });
  });

  it('reads the response inside a Responses stream event', () => {
    expect(
      usageFromResponseBody({ type: 'response.completed', response: { usage: { input_tokens: 3, output_tokens: 4, total_tokens: 7 } } }),
    ).toEqual({
      inputTokens: 3,
      outputTokens: 4,
      totalTokens: 7,
    });
  });

  it('returns undefined when there is no usage, and ignores values that are not counts', () => {
    for (const body of [
      undefined,
      null,
      'text',
      42,
      [],
      {},
      { usage: null },
      { usage: {} },
      { usage: { prompt_tokens: '5', completion_tokens: -1 } },
    ]) {
      expect(usageFromResponseBody(body)).toBeUndefined();
    }
    expect(usageFromResponseBody({ usage: { prompt_tokens: 5, completion_tokens: Number.NaN } })).toEqual({ inputTokens: 5 });
  });
});

describe('SseUsageTracker', () => {
  for (const { name, stream, usage, failed } of RECORDED) {
    it(`reads ${name}`, () => {
      const tracker = track([encoder.encode(stream)]);
      expect(tracker.usage).toEqual(usage);
      expect(tracker.failed).toBe(failed);
    });
  }

  it('takes the last Anthropic message_delta (cumulative), never the sum', () => {
    const tracker = new SseUsageTracker();
    tracker.write(ANTHROPIC_STREAM.slice(0, ANTHROPIC_STREAM.indexOf('event: content_block_start')));
    expect(tracker.usage).toEqual({ inputTokens: 2_125, outputTokens: 1 });
    tracker.write(ANTHROPIC_STREAM.slice(ANTHROPIC_STREAM.indexOf('event: content_block_start')));
    tracker.end();
    expect(tracker.usage?.outputTokens).toBe(15);
  });

  it('lets a message_delta restate the input fields', () => {
    const tracker = track([
      'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":10,"cache_read_input_tokens":50,"output_tokens":1}}}\n\n',
      'event: message_delta\ndata: {"type":"message_delta","usage":{"input_tokens":12,"cache_creation_input_tokens":null,"output_tokens":30}}\n\n',
    ]);
    expect(tracker.usage).toEqual({ inputTokens: 62, outputTokens: 30 });
  });

  it('marks OpenAI and Responses errors inside a stream as failed', () => {
    expect(track(['data: {"error":{"message":"The server had an error","type":"server_error"}}\n\n']).failed).toBe(true);
    expect(track(['data: {"type":"error","code":"server_error","message":"boom","sequence_number":3}\n\n']).failed).toBe(true);
    const failedResponse = track([
      'event: response.failed\ndata: {"type":"response.failed","response":{"status":"failed","usage":{"input_tokens":9,"output_tokens":0,"total_tokens":9}}}\n\n',
    ]);
    expect(failedResponse.failed).toBe(true);
    expect(failedResponse.usage).toEqual({ inputTokens: 9, outputTokens: 0, totalTokens: 9 });
  });

  it('reports no usage for a stream without include_usage', () => {
    const tracker = track([
      'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
      'data: [DONE]\n\n',
    ]);
    expect(tracker.usage).toBeUndefined();
    expect(tracker.failed).toBe(false);
  });

  it('handles CR, LF and CRLF line ends, comments, multi-line data and a missing final blank line', () => {
    const tracker = track([
      ': keep-alive\r',
      'event: message_start\r',
      'data: {"type":"message_start",\r\n',
      'data: "message":{"usage":{"input_tokens":3,"output_tokens":1}}}\r\r',
      'data:{"type":"message_delta","usage":{"output_tokens":4}}',
    ]);
    expect(tracker.usage).toEqual({ inputTokens: 3, outputTokens: 4 });
  });

  it('ignores malformed events and never throws', () => {
    const tracker = track([
      'data: {"usage": oops}\n\n',
      'data\n\n',
      'event\n\n',
      'data: {"usage":{"prompt_tokens":1,"completion_tokens":2}}\n\n',
    ]);
    expect(tracker.usage).toEqual({ inputTokens: 1, outputTokens: 2 });
    expect(tracker.failed).toBe(false);
  });

  it('drops a line longer than its limit, and its event, then reads on', () => {
    const tracker = new SseUsageTracker();
    tracker.write('data: {"usage":{"prompt_tokens":1,"completion_tokens":1},"pad":"');
    const block = 'x'.repeat(1 << 20);
    for (let i = 0; i < 9; i++) tracker.write(block);
    tracker.write('"}\n\ndata: {"usage":{"prompt_tokens":5,"completion_tokens":6}}\n\n');
    tracker.end();
    expect(tracker.usage).toEqual({ inputTokens: 5, outputTokens: 6 });
  });

  it('ignores writes after end', () => {
    const tracker = track(['data: {"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\n']);
    tracker.write('data: {"usage":{"prompt_tokens":9,"completion_tokens":9}}\n\n');
    tracker.end();
    expect(tracker.usage).toEqual({ inputTokens: 1, outputTokens: 1 });
  });

  it('yields the same usage for any split of a recorded stream into byte chunks', () => {
    const cases = RECORDED.map(({ stream, usage, failed }) => ({ bytes: encoder.encode(stream), usage, failed }));
    fc.assert(
      fc.property(withCuts(cases), ([{ bytes, usage, failed }, cuts]) => {
        const tracker = track(splitAt(bytes, cuts));
        expect(tracker.usage).toEqual(usage);
        expect(tracker.failed).toBe(failed);
      }),
      { numRuns: 500 },
    );
  });

  it('yields the same usage with CRLF line ends split anywhere, even between CR and LF of a multi-line data field', () => {
    const multiLine =
      'event: message_start\ndata: {"type":"message_start",\ndata: "message":{"usage":{"input_tokens":3,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta",\ndata:"usage":{"output_tokens":4}}\n\n';
    const cases = [...RECORDED, { stream: multiLine, usage: { inputTokens: 3, outputTokens: 4 } }].map(({ stream, usage }) => ({
      bytes: encoder.encode(stream.replace(/\r?\n/g, '\r\n')),
      usage,
    }));
    fc.assert(
      fc.property(withCuts(cases), ([{ bytes, usage }, cuts]) => {
        expect(track(splitAt(bytes, cuts)).usage).toEqual(usage);
      }),
      { numRuns: 300 },
    );
    // and exhaustively: every single cut, and every pair of cuts in the multi-line stream
    for (const { bytes, usage } of cases) {
      for (let cut = 0; cut <= bytes.length; cut++) expect(track(splitAt(bytes, [cut])).usage).toEqual(usage);
    }
    const small = cases[cases.length - 1] as (typeof cases)[number];
    for (let a = 0; a <= small.bytes.length; a++) {
      for (let b = a; b <= small.bytes.length; b++) expect(track(splitAt(small.bytes, [a, b])).usage).toEqual(small.usage);
    }
  });
});
