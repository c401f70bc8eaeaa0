export { TokenBucket, tokenBucket } from './token-bucket.js';
export { Gcra, gcra } from './gcra.js';
export { SlidingWindow, slidingWindow } from './sliding-window.js';
export { KeyedLimiter, type KeyedLimiterOptions, type KeyedLimiterStats } from './keyed-limiter.js';
export { AllOf, allOf, type AllOfOptions } from './all-of.js';
export { RateLimiter, type RateLimiterInit } from './rate-limiter.js';
export {
  UNIT_EPSILON,
  bucketTokens,
  bucketWaitMs,
  gcraAdmit,
  gcraAvailable,
  gcraParameters,
  gcraWaitMs,
  slidingWindowEstimate,
  slidingWindowWaitMs,
  type GcraParameters,
} from './math.js';
export type { GcraOptions, LimiterOptions, SlidingWindowOptions, TokenBucketOptions } from './options.js';
export { BoundedKeyMap, KEY_MAP_SCAN, type BoundedKeyMapOptions, type BoundedKeyMapStats } from './key-map.js';
