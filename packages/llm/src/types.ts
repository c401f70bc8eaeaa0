import type { AcquireOptions, Permit } from '@sluice/core';

/**
 * A quota dimension a provider enforces. Per-minute dimensions refill continuously over 60 s,
 * per-day ones over 24 h.
 */
export type Dimension = 'requests' | 'tokens' | 'input-tokens' | 'output-tokens' | 'requests-per-day' | 'tokens-per-day';

/** What one provider header set says about one {@link Dimension}. Every field may be missing. */
export interface LimitObservation {
  /** The dimension observed. */
  readonly dimension: Dimension;
  /** The provider's limit for it (units per minute, or per day for the `-per-day` ones). */
  readonly limit: number | undefined;
  /** Units left now, as the provider counts them. */
  readonly remaining: number | undefined;
  /**
   * When the bucket is full again, as an absolute time on the caller's monotonic clock (ms), or
   * `undefined` when not sent or not parseable.
   */
  readonly resetAt: number | undefined;
  /**
   * True when `remaining` is rounded by the provider (Anthropic rounds token counts to the
   * nearest thousand), so it should not pull a local bucket down by less than the rounding.
   */
  readonly rounded: boolean;
}

/** The providers whose header formats are understood. */
export type Provider = 'openai' | 'anthropic' | 'azure' | 'gemini' | 'generic';

/** Everything one response's headers say about rate limits. */
export interface RateLimitSnapshot {
  /** Which format the headers were in (`generic` for unknown OpenAI-compatible ones). */
  readonly provider: Provider;
  /** One entry per dimension the headers described; empty when none did. */
  readonly observations: readonly LimitObservation[];
  /**
   * How long the provider asks the caller to wait, ms (`retry-after-ms`, `retry-after` as
   * seconds or an HTTP date), or `undefined`.
   */
  readonly retryAfterMs: number | undefined;
}

/**
 * The time references a parser needs: the caller's monotonic clock now, and the wall-clock time
 * (ms since the epoch) that corresponds to it — used only to turn absolute resets (RFC 3339,
 * epoch seconds, HTTP dates) into monotonic times.
 */
export interface TimeReference {
  /** Monotonic now, ms (the limiter's `clock.now()`). */
  readonly now: number;
  /** Wall-clock now, ms since the epoch. Prefer the response's `Date` header when present. */
  readonly wallNow: number;
}

/**
 * Response headers in any of the shapes callers have at hand: a Fetch `Headers`, a plain object
 * (Node's `IncomingHttpHeaders`, values possibly arrays), or `[name, value]` pairs. Names are
 * matched case-insensitively.
 */
export type HeadersLike =
  | {
      /** Calls `callback` once per header, as Fetch `Headers` (and `Map`) do. */
      forEach(callback: (value: string, name: string) => void): void;
    }
  | Readonly<Record<string, string | readonly string[] | number | undefined>>
  | Iterable<readonly [string, string]>;

/** What to do about a response: the outcome of `classify`. */
export type Triage =
  /** Not an error: nothing to do. */
  | {
      /** Nothing to do. */
      readonly action: 'ok';
    }
  /**
   * Wait and try again: rate limited (the quota refills), overloaded (the provider is short of
   * capacity: 529, 503) or a transient server error. `retryAfterMs` is the provider's hint, or a
   * conservative default when it sent none.
   */
  | {
      /** Wait `retryAfterMs`, then send the same request again. */
      readonly action: 'retry-after';
      /** Why: the quota is exhausted, the provider is short of capacity, or a transient server error. */
      readonly reason: 'rate-limited' | 'overloaded' | 'server-error';
      /** How long to wait before retrying, ms. */
      readonly retryAfterMs: number;
      /** Whether the wait came from the provider (`hinted`) or is the default. */
      readonly hinted: boolean;
      /** The dimension that was exhausted, when the provider said. */
      readonly dimension: Dimension | undefined;
    }
  /** Never retry as is: quota or spend exhausted, a per-day limit hit, or the provider said so. */
  | {
      /** Do not retry this request. */
      readonly action: 'never';
      /** Why retrying cannot help. */
      readonly reason: 'insufficient-quota' | 'spend-limit' | 'daily-quota' | 'should-not-retry' | 'client-error';
      /** The provider's error message, when it sent one. */
      readonly message: string | undefined;
    }
  /** The request can never fit: shrink it (fewer input tokens, a smaller `max_tokens`). */
  | {
      /** Retry only a smaller request. */
      readonly action: 'shrink';
      /** Why: the request is larger than the limit itself. */
      readonly reason: 'request-too-large';
      /** The limit it exceeded, when stated. */
      readonly limit: number | undefined;
      /** What it asked for, when stated. */
      readonly requested: number | undefined;
      /** The provider's error message, when it sent one. */
      readonly message: string | undefined;
    };

/**
 * What the fetch wrappers (`wrapFetch`, `limiterFetch`) need of a limiter: an
 * `LlmLimiter` (or a keyed or Redis-backed one) has this shape. Declared here so the wrappers do
 * not depend on the limiter's module.
 */
export interface FetchLimiter {
  /** The limiter's name, used in error messages. */
  readonly name: string;
  /** Reserves room for one call: its estimated input tokens and output cap (tokens). */
  acquire(request: { readonly inputTokens?: number; readonly maxOutputTokens?: number }, options?: AcquireOptions): Promise<Permit>;
  /** Reads a response's rate-limit headers and status (and error body), as `LlmLimiter.observe` does. */
  observe(response: { readonly status: number; readonly headers: HeadersLike }, body?: unknown): unknown;
}
