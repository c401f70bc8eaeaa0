export {
  VirtualClock,
  VirtualTimeStallError,
  type SettleOptions,
  type VirtualClockOptions,
} from './virtual-clock.js';
export { ControlledGate, type ControlledGateOptions, type ReleaseRecord } from './controlled-gate.js';
export { INVALID_OUTCOMES, type InvalidOutcome } from './invalid-outcomes.js';
export { createRandom, type Random } from './random.js';
export {
  simulateLoad,
  summarize,
  type LoadSimulationOptions,
  type LoadSimulationResult,
  type SimulatedRequest,
  type SimulatedRequestOptions,
  type Summary,
} from './simulation.js';
export {
  simulateProducerConsumer,
  type ProducerConsumerOptions,
  type ProducerConsumerResult,
} from './producer-consumer.js';
export {
  driveGate,
  settleAll,
  type DriveOptions,
  type DriveReport,
  type GateOperation,
  type TryOperation,
  type AcquireOperation,
  type ReleaseOperation,
  type AbortOperation,
  type AdvanceOperation,
  type WaiterRecord,
} from './driver.js';
export {
  ProviderSimulator,
  goDuration,
  type ProviderSimulatorOptions,
  type ProviderStats,
  type SimulatedCall,
  type SimulatedResponse,
  type SimulatedUsage,
} from './provider-simulator.js';
export { track, type TrackedPromise } from './track.js';
