import { checkNumber, checkOneOf, checkOptions, optionKeys, type Clock } from '@sluice/core';
import { createRandom, type Random } from './random.js';

/** Options of {@link ProviderSimulator}. */
export interface ProviderSimulatorOptions {
  /** The clock the provider lives on: a `VirtualClock`, or any `Clock` (e.g. over fake timers). */
  readonly clock: Clock;
  /** Requests per minute the provider allows (a continuously refilling bucket). */
  readonly requestsPerMinute: number;
  /** Tokens per minute it allows, input and output together (a continuously refilling bucket). */
  readonly tokensPerMinute: number;
  /** Header format of its responses; default `openai`. */
  readonly format?: 'openai' | 'anthropic';
  /** Seed of the latency and usage randomness; default 1. */
  readonly seed?: number;
  /** Time to answer an admitted request, ms: a constant or drawn per request; default 500. */
  readonly latencyMs?: number | ((random: Random) => number);
  /**
   * Share of `maxOutputTokens` a response really uses, drawn per request; default uniform in
   * [0.2, 0.8]. Input usage is the estimate ± 10 % (estimates are never exact).
   */
  readonly outputShare?: (random: Random) => number;
  /**
   * Give the unused part of a reservation back once the response is done (the provider
   * reconciles); default true. With false, the whole reservation stays charged.
   */
  readonly refundUnused?: boolean;
}

/** One request as a client sends it. */
export interface SimulatedCall {
  /** Input tokens the request really has. */
  readonly inputTokens: number;
  /** Its output cap (`max_tokens`). */
  readonly maxOutputTokens: number;
}

/** The provider's answer. */
export interface SimulatedResponse {
  /** 200, or 429 when a bucket had no room. */
  readonly status: number;
  /** Rate-limit headers in the provider's format (and `retry-after` on a 429). */
  readonly headers: Readonly<Record<string, string>>;
  /** The JSON body: a completion with `usage`, or the provider's error shape. */
  readonly body: unknown;
  /** Usage of a 200, for the caller's reconciliation; `undefined` on a 429. */
  readonly usage: SimulatedUsage | undefined;
}

/** The tokens a simulated response really used. */
export interface SimulatedUsage {
  /** Input tokens (the request's, ± 10 %). */
  readonly inputTokens: number;
  /** Output tokens (a share of `maxOutputTokens`). */
  readonly outputTokens: number;
}

/** Counters of a {@link ProviderSimulator}. */
export interface ProviderStats {
  /** Requests received. */
  readonly requests: number;
  /** Requests answered 200. */
  readonly ok: number;
  /** Requests answered 429. */
  readonly rateLimited: number;
  /** Tokens used by answered requests (actual input + output). */
  readonly tokensUsed: number;
}

const MINUTE_MS = 60_000;

const PROVIDER_SIMULATOR_KEYS = optionKeys<ProviderSimulatorOptions>()({
  clock: true,
  requestsPerMinute: true,
  tokensPerMinute: true,
  format: true,
  seed: true,
  latencyMs: true,
  outputShare: true,
  refundUnused: true,
});

/**
 * An LLM provider on a virtual clock, for tests and goodput benchmarks of client-side limiters:
 * continuously refilling RPM and TPM buckets (the providers' model), charged up front with
 * input + `max_tokens` as the providers do, a 429 with `retry-after` and the provider's error
 * body when a bucket has no room (a refused request still costs one request, as providers count
 * it), real rate-limit headers (OpenAI `x-ratelimit-*` with Go-style durations, or Anthropic
 * `anthropic-ratelimit-*` with RFC 3339 resets and thousands-rounded token counts), and actual
 * usage drawn around the estimate. Same seed, same answers.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const provider = new ProviderSimulator({ clock, requestsPerMinute: 500, tokensPerMinute: 90_000 });
 * const response = await clock.settle(provider.call({ inputTokens: 1_000, maxOutputTokens: 500 }));
 * response.status; // 200, with x-ratelimit-remaining-tokens: 88500 …
 * ```
 */
export class ProviderSimulator {
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly format: 'openai' | 'anthropic';
  private readonly rpm: number;
  private readonly tpm: number;
  private readonly latency: (random: Random) => number;
  private readonly outputShare: (random: Random) => number;
  private readonly refundUnused: boolean;
  private requestLevel: number;
  private tokenLevel: number;
  private updatedAt: number;
  private counts = { requests: 0, ok: 0, rateLimited: 0, tokensUsed: 0 };

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: ProviderSimulatorOptions) {
    const o = checkOptions('ProviderSimulator', options, PROVIDER_SIMULATOR_KEYS);
    if (o.clock === undefined) throw new TypeError('ProviderSimulator: clock is required');
    this.clock = o.clock;
    this.rpm = checkNumber('ProviderSimulator', 'requestsPerMinute', o.requestsPerMinute, { min: 1 });
    this.tpm = checkNumber('ProviderSimulator', 'tokensPerMinute', o.tokensPerMinute, { min: 1 });
    this.format = checkOneOf('ProviderSimulator', 'format', o.format ?? 'openai', ['openai', 'anthropic']);
    this.random = createRandom(checkNumber('ProviderSimulator', 'seed', o.seed ?? 1, { integer: true }));
    const latency = o.latencyMs ?? 500;
    if (typeof latency === 'number') {
      const ms = checkNumber('ProviderSimulator', 'latencyMs', latency, { min: 0 });
      this.latency = () => ms;
    } else {
      this.latency = latency;
    }
    this.outputShare = o.outputShare ?? ((random) => random.uniform(0.2, 0.8));
    this.refundUnused = o.refundUnused ?? true;
    this.requestLevel = this.rpm;
    this.tokenLevel = this.tpm;
    this.updatedAt = this.clock.now();
  }

  /** Counters so far. */
  stats(): ProviderStats {
    return { ...this.counts };
  }

  /**
   * Sends one request: answered 429 at once when a bucket has no room, else 200 after the
   * latency, with usage.
   */
  call(request: SimulatedCall): Promise<SimulatedResponse> {
    this.refill();
    this.counts.requests++;
    const reserved = request.inputTokens + request.maxOutputTokens;
    if (this.requestLevel < 1 || this.tokenLevel < reserved) {
      this.counts.rateLimited++;
      const tokensShort = reserved - this.tokenLevel;
      const requestWaitMs = this.requestLevel < 1 ? ((1 - this.requestLevel) * MINUTE_MS) / this.rpm : 0;
      const tokenWaitMs = tokensShort > 0 ? (tokensShort * MINUTE_MS) / this.tpm : 0;
      const waitMs = Math.max(requestWaitMs, tokenWaitMs);
      // a refused request still counts against the request limit
      this.requestLevel -= 1;
      const dimension = tokenWaitMs >= requestWaitMs ? 'tokens' : 'requests';
      return Promise.resolve({
        status: 429,
        headers: {
          ...this.headers(),
          'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))),
          'retry-after-ms': String(Math.ceil(waitMs)),
        },
        body: this.errorBody(dimension, waitMs, reserved),
        usage: undefined,
      });
    }
    this.requestLevel -= 1;
    this.tokenLevel -= reserved;
    const headers = this.headers();
    const inputTokens = Math.max(0, Math.round(request.inputTokens * this.random.uniform(0.9, 1.1)));
    const outputTokens = Math.max(
      0,
      Math.min(request.maxOutputTokens, Math.round(request.maxOutputTokens * this.outputShare(this.random))),
    );
    const latency = Math.max(0, this.latency(this.random));
    return new Promise((resolve) => {
      this.clock.setTimer(() => {
        this.refill();
        const used = inputTokens + outputTokens;
        if (this.refundUnused) this.tokenLevel = Math.min(this.tpm, this.tokenLevel + (reserved - used));
        this.counts.ok++;
        this.counts.tokensUsed += used;
        resolve({ status: 200, headers, body: this.completionBody(inputTokens, outputTokens), usage: { inputTokens, outputTokens } });
      }, latency);
    });
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsed = now - this.updatedAt;
    if (elapsed <= 0) return;
    this.requestLevel = Math.min(this.rpm, this.requestLevel + (elapsed * this.rpm) / MINUTE_MS);
    this.tokenLevel = Math.min(this.tpm, this.tokenLevel + (elapsed * this.tpm) / MINUTE_MS);
    this.updatedAt = now;
  }

  private headers(): Record<string, string> {
    const requestsLeft = Math.max(0, Math.floor(this.requestLevel));
    const tokensLeft = Math.max(0, Math.floor(this.tokenLevel));
    const requestsFullInMs = ((this.rpm - this.requestLevel) * MINUTE_MS) / this.rpm;
    const tokensFullInMs = ((this.tpm - this.tokenLevel) * MINUTE_MS) / this.tpm;
    if (this.format === 'anthropic') {
      const wall = Date.UTC(2026, 0, 1) + this.clock.now();
      return {
        date: new Date(wall).toUTCString(),
        'anthropic-ratelimit-requests-limit': String(this.rpm),
        'anthropic-ratelimit-requests-remaining': String(requestsLeft),
        'anthropic-ratelimit-requests-reset': new Date(wall + requestsFullInMs).toISOString(),
        'anthropic-ratelimit-tokens-limit': String(this.tpm),
        'anthropic-ratelimit-tokens-remaining': String(Math.round(tokensLeft / 1000) * 1000),
        'anthropic-ratelimit-tokens-reset': new Date(wall + tokensFullInMs).toISOString(),
      };
    }
    return {
      'x-ratelimit-limit-requests': String(this.rpm),
      'x-ratelimit-limit-tokens': String(this.tpm),
      'x-ratelimit-remaining-requests': String(requestsLeft),
      'x-ratelimit-remaining-tokens': String(tokensLeft),
      'x-ratelimit-reset-requests': goDuration(requestsFullInMs),
      'x-ratelimit-reset-tokens': goDuration(tokensFullInMs),
    };
  }

  private errorBody(dimension: 'tokens' | 'requests', waitMs: number, requested: number): unknown {
    if (this.format === 'anthropic') {
      return {
        type: 'error',
        error: { type: 'rate_limit_error', message: `Number of ${dimension} has exceeded your per-minute rate limit.` },
      };
    }
    const unit = dimension === 'tokens' ? 'tokens per min (TPM)' : 'requests per min (RPM)';
    const limit = dimension === 'tokens' ? this.tpm : this.rpm;
    return {
      error: {
        message: `Rate limit reached on ${unit}: Limit ${limit}, Requested ${dimension === 'tokens' ? requested : 1}. Please try again in ${goDuration(waitMs)}.`,
        type: dimension,
        param: null,
        code: 'rate_limit_exceeded',
      },
    };
  }

  private completionBody(inputTokens: number, outputTokens: number): unknown {
    if (this.format === 'anthropic') {
      return {
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: '…' }],
        usage: { input_tokens: inputTokens, output_tokens: outputTokens },
      };
    }
    return {
      object: 'chat.completion',
      choices: [{ index: 0, message: { role: 'assistant', content: '…' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: inputTokens, completion_tokens: outputTokens, total_tokens: inputTokens + outputTokens },
    };
  }
}

/** Formats ms the way OpenAI's reset headers do: `12ms`, `1s`, `6m0s`, `1m1.5s`. */
export function goDuration(ms: number): string {
  if (!(ms > 0)) return '0s';
  if (ms < 1000) return `${Math.ceil(ms)}ms`;
  const totalSeconds = Math.round(ms) / 1000;
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds - hours * 3600) / 60);
  const seconds = Math.round((totalSeconds - hours * 3600 - minutes * 60) * 1000) / 1000;
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  if (minutes > 0) return `${minutes}m${seconds}s`;
  return `${seconds}s`;
}
