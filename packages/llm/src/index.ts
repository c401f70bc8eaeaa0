export type * from './types.js';

// --- The limiter ---------------------------------------------------------------------------------
export {
  LlmLimiter,
  llmLimiter,
  type LlmLimiterOptions,
  type LlmObservation,
  type LlmPermit,
  type LlmRequest,
  type PauseEvent,
  type ResponseLike,
} from './llm-limiter.js';
// --- end of the limiter --------------------------------------------------------------------------

// --- Provider rate-limit headers, durations and response triage -------------------------------
export { parseGoDuration, parseProtoDuration, parseResetAt, parseRfc3339, parseHttpDate } from './duration.js';
export {
  parseRateLimitHeaders,
  readHeaders,
  wallClockFromDateHeader,
  detectProvider,
  type RateLimitHeaderOptions,
} from './headers.js';
export { classify, DEFAULT_RETRY_AFTER_MS } from './classify.js';
// --- end of headers / durations / triage -------------------------------------------------------

// --- Drop-in fetch and usage extraction ---------------------------------------------------------
export {
  wrapFetch,
  limiterFetch,
  estimateTokensByChars,
  MAX_WAIT_HEADER,
  PRIORITY_HEADER,
  type FetchFunction,
  type FetchInput,
  type WrapFetchOptions,
} from './fetch.js';
export { usageFromResponseBody, SseUsageTracker } from './usage.js';
// --- end of fetch / usage -----------------------------------------------------------------------

// --- Keyed limiters and the deployment router -----------------------------------------------------
export {
  KeyedLlmLimiter,
  LlmRouter,
  type KeyedLlmLimiterOptions,
  type KeyedLlmLimiterStats,
  type LlmDeployment,
  type LlmRoute,
  type LlmRouterDeployment,
  type LlmRouterOptions,
} from './router.js';
// --- end of keyed limiters / router ---------------------------------------------------------------
