export {
  ConcurrencyLimiter,
  DEFAULT_QUEUE_LIMIT,
  concurrencyLimiter,
  type ConcurrencyLimiterOptions,
} from './concurrency-limiter.js';
export { AdaptiveLimit, type AdaptiveAlgorithm, type AdaptiveLimitOptions, type LimitChange } from './adaptive.js';
