export { BoundedBuffer } from './bounded-buffer.js';
export { DroppingBuffer } from './dropping-buffer.js';
export { PriorityBuffer } from './priority-buffer.js';
export { RingBuffer } from './ring-buffer.js';
export { BufferBase, type BufferSnapshot, type PutOptions, type TakeListener } from './buffer-base.js';
export {
  DEFAULT_MAX_PENDING_TAKES,
  resolveBufferOptions,
  type BufferOptions,
  type DropStrategy,
  type DroppingBufferOptions,
  type PriorityBufferOptions,
  type PriorityOverflow,
  type ResolvedBufferOptions,
} from './options.js';
