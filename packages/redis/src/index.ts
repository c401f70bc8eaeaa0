export { fromNodeRedis, type NodeRedisLike, type RedisScriptClient } from './client.js';
export { RedisStore, StoreCallError, hashSlot, type RedisStoreOptions } from './store.js';
export {
  RedisRateLimiter,
  type DecidedBy,
  type LeaseOptions,
  type RedisGcraOptions,
  type RedisLimiterOptions,
  type RedisSlidingWindowOptions,
  type TakeResult,
} from './rate-limiter.js';
export { STORE_DOWN, StoreGuard, type StoreFailurePolicy, type StoreGuardOptions, type StoreMode } from './guard.js';
export {
  BREAKER_ACQUIRE,
  BREAKER_RECORD,
  GCRA_LEASE,
  GCRA_REFUND,
  GCRA_TAKE,
  GCRA_TAKE_MANY,
  LLM_ADJUST,
  LLM_OBSERVE,
  LLM_TAKE,
  LUA_PRELUDE,
  PING,
  SEMAPHORE_ACQUIRE,
  SEMAPHORE_LEAVE_LINE,
  SEMAPHORE_RELEASE,
  SEMAPHORE_RENEW,
  SLIDING_REFUND,
  SLIDING_TAKE,
  luaScript,
  type LuaScript,
} from './scripts.js';
export { RedisLlmLimiter, type RedisLlmLimiterOptions, type RedisLlmRefusal, type RedisLlmWaitOptions } from './llm.js';
export { RedisGate, type RedisGateOptions, type RemoteBudget, type RemoteDecision } from './gate.js';
export { DEFAULT_SEMAPHORE_QUEUE_LIMIT, RedisSemaphoreGate, type RedisSemaphoreGateOptions } from './semaphore-gate.js';
export {
  DEFAULT_SEMAPHORE_POLL_MS,
  RedisSemaphore,
  type RedisSemaphoreOptions,
  type SemaphoreDecidedBy,
  type SemaphorePermit,
} from './semaphore.js';
export { SharedBreakerGate, type SharedBreakerGateOptions } from './breaker-gate.js';
export {
  DEFAULT_HALF_OPEN_TRIAL_MS,
  DEFAULT_SHARED_BREAKER_NAME,
  SharedCircuitBreaker,
  type SharedBreakerState,
  type SharedCircuitBreakerOptions,
} from './breaker.js';
