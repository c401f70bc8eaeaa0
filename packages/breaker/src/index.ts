export { CircuitBreaker, circuitBreaker } from './circuit-breaker.js';
export { consecutiveFailures, type ConsecutiveFailuresStrategy } from './consecutive-failures.js';
export { countWindow, type CountWindowStrategy } from './count-window.js';
export { timeWindow, type TimeWindowStrategy } from './time-window.js';
export type {
  ConsecutiveTripReason,
  FailureRateTripReason,
  TripCounter,
  TripReason,
  TripSnapshot,
  TripStrategy,
} from './trip-strategy.js';
export type {
  BreakerState,
  CloseListener,
  CloseReason,
  HalfOpenListener,
  IsolatedReason,
  OpenListener,
  OpenReason,
  ResetReason,
  TrialFailedReason,
  TrialsSucceededReason,
  TrippedReason,
} from './transitions.js';
export type { BreakerStats } from './breaker-stats.js';
export {
  DEFAULT_BREAKER_NAME,
  DEFAULT_BUCKET_MS,
  DEFAULT_HALF_OPEN_MAX_CALLS,
  MAX_COUNT_WINDOW_SIZE,
  MAX_TIME_WINDOW_BUCKETS,
  type CircuitBreakerOptions,
  type CountWindowOptions,
  type TimeWindowOptions,
} from './options.js';
