export { GateMeter, type GateMeterOptions } from './gate-meter.js';
export { systemClock, KEEP_ALIVE, type Clock, type TimerHandle, type TimerOptions } from './clock.js';
export {
  ACQUIRE_NOW,
  NOT_RUN,
  hasAcquireNow,
  isPermit,
  type AcquireNow,
  type AcquireOptions,
  type AdmitListener,
  type FairnessKey,
  type Gate,
  type GateStats,
  type Outcome,
  type Permit,
  type Refusal,
  type RefusalReason,
  type RefuseListener,
  type RunContext,
  type RunOptions,
  type TokenUsage,
  type TryAcquireOptions,
  type WaitOptions,
} from './gate.js';
export {
  ClosedError,
  CircuitOpenError,
  InvalidArgumentError,
  LimitExceededError,
  PausedError,
  QueueFullError,
  ShedError,
  StoreUnavailableError,
  SluiceError,
  TooLargeError,
  WaitTimeoutError,
  describeValue,
  isCircuitOpenError,
  isClosedError,
  isStoreUnavailableError,
  isInvalidArgumentError,
  isLimitExceededError,
  isPausedError,
  isQueueFullError,
  isShedError,
  isSluiceError,
  isTooLargeError,
  isWaitTimeoutError,
  refusalError,
  refusalReasonOf,
  type SluiceErrorCode,
  type SluiceErrorDetails,
} from './errors.js';
export { Emitter, type Disposer, type Listener } from './events.js';
export {
  checkAcquireOptions,
  checkCount,
  checkOutcome,
  RunOutcome,
  closestKey,
  checkBuffer,
  checkClock,
  checkFunction,
  checkGate,
  checkKey,
  checkName,
  checkNumber,
  checkOneOf,
  checkOptions,
  checkTryAcquireOptions,
  isGate,
  optionKeys,
  optionalNumber,
  unknownOptionError,
  type NumberRange,
  type OptionKeys,
} from './validate.js';
export { RingDeque } from './ring-deque.js';
export {
  DEFAULT_MAX_STARVATION_MS,
  WaiterQueue,
  type LeaveReason,
  type QueuedWaiter,
  type WaiterQueueOptions,
} from './waiter-queue.js';
export { EMPTY_PERMIT, GateBase, type FairnessOptions, type GateBaseOptions } from './gate-base.js';
export { ReleaseOncePermit } from './permit.js';
export { runWithGate } from './run.js';
export { Pipeline, pipeline, type PipelineOptions } from './pipeline.js';
export { PassThroughGate, passThrough, type PassThroughOptions } from './pass-through.js';
export type { BufferStats, DropListener, DropReason, ItemBuffer, OfferResult } from './buffer.js';
