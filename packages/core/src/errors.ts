import type { FairnessKey, Refusal, RefusalReason } from './gate.js';

/**
 * Stable machine-readable codes of the sluice error family, one per cause.
 *
 * | code | class | retry can succeed? |
 * | --- | --- | --- |
 * | `LIMIT_EXCEEDED` | {@link LimitExceededError} | yes, after `retryAfterMs` when known |
 * | `QUEUE_FULL` | {@link QueueFullError} | yes |
 * | `WAIT_TIMEOUT` | {@link WaitTimeoutError} | yes |
 * | `CIRCUIT_OPEN` | {@link CircuitOpenError} | yes, once the breaker half-opens |
 * | `SHED` | {@link ShedError} | yes, when load falls |
 * | `PAUSED` | {@link PausedError} | yes, after the pause the downstream asked for |
 * | `CLOSED` | {@link ClosedError} | no |
 * | `STORE_UNAVAILABLE` | {@link StoreUnavailableError} | yes, once the shared store answers again |
 * | `TOO_LARGE` | {@link TooLargeError} | no: only a smaller request can pass |
 * | `INVALID_ARGUMENT` | {@link InvalidArgumentError} | no: a programming error |
 */
export type SluiceErrorCode =
  | 'LIMIT_EXCEEDED'
  | 'QUEUE_FULL'
  | 'WAIT_TIMEOUT'
  | 'CIRCUIT_OPEN'
  | 'SHED'
  | 'PAUSED'
  | 'CLOSED'
  | 'STORE_UNAVAILABLE'
  | 'TOO_LARGE'
  | 'INVALID_ARGUMENT';

/** Brand shared by every copy of this package, so guards work across duplicate installs. */
const SLUICE_ERROR = Symbol.for('sluice.error');

/** V8's knob for how many frames a new Error captures (other engines ignore it). */
const errorConstructor = Error as { stackTraceLimit?: number };

/** Details every sluice error may carry. */
export interface SluiceErrorDetails {
  /** Name of the gate or buffer that raised it. */
  readonly gate?: string | undefined;
  /** Milliseconds after which a retry can succeed; absent when no retry can. */
  readonly retryAfterMs?: number | undefined;
  /** The underlying cause, if any. */
  readonly cause?: unknown;
  /**
   * Capture a stack trace. Default `true`. Refusals (`LIMIT_EXCEEDED`, `QUEUE_FULL`,
   * `WAIT_TIMEOUT`, `CIRCUIT_OPEN`, `SHED`, `PAUSED`, `CLOSED`) pass `false`: they are answers,
   * not bugs, their `gate` says where they come from, and capturing frames would cost more than
   * the refusal itself under load.
   */
  readonly stack?: boolean;
}

/**
 * Base of the sluice error family. Every rejection from a sluice component is one of its
 * subclasses and carries a stable {@link SluiceError.code}, the refusing component's name in
 * {@link SluiceError.gate}, and {@link SluiceError.retryAfterMs} where a retry can succeed.
 *
 * Use {@link isSluiceError} (not `instanceof`) when two copies of sluice may be installed.
 *
 * @example
 * ```ts
 * try {
 *   await gate.acquire();
 * } catch (error) {
 *   if (isSluiceError(error) && error.retryAfterMs !== undefined) {
 *     response.setHeader('Retry-After', Math.ceil(error.retryAfterMs / 1000));
 *   }
 * }
 * ```
 */
export class SluiceError extends Error {
  /** Stable code of the cause; see {@link SluiceErrorCode}. */
  readonly code: SluiceErrorCode;
  /** Name of the gate or buffer that raised the error, if any. */
  readonly gate: string | undefined;
  /** Milliseconds after which a retry can succeed; `undefined` when no retry can (or unknown). */
  readonly retryAfterMs: number | undefined;

  constructor(code: SluiceErrorCode, message: string, details: SluiceErrorDetails = {}) {
    const limit = errorConstructor.stackTraceLimit;
    const stackless = details.stack === false && limit !== undefined;
    if (stackless) errorConstructor.stackTraceLimit = 0;
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    if (stackless) errorConstructor.stackTraceLimit = limit;
    this.code = code;
    this.gate = details.gate;
    this.retryAfterMs = details.retryAfterMs;
  }
}
Object.defineProperty(SluiceError.prototype, SLUICE_ERROR, { value: true });
Object.defineProperty(SluiceError.prototype, 'name', { value: 'SluiceError', writable: true });

function named(cls: { prototype: object }, name: string): void {
  Object.defineProperty(cls.prototype, 'name', { value: name, writable: true });
}

function retryText(retryAfterMs: number | undefined): string {
  return retryAfterMs === undefined ? '' : `; retry after ${retryAfterMs} ms`;
}

/** The gate has no budget for the request now (tokens, slots, quota). Code `LIMIT_EXCEEDED`. */
export class LimitExceededError extends SluiceError {
  constructor(gate: string, retryAfterMs?: number, cause?: unknown) {
    super('LIMIT_EXCEEDED', `${gate}: limit exceeded${retryText(retryAfterMs)}`, { gate, retryAfterMs, cause, stack: false });
  }
}
named(LimitExceededError, 'LimitExceededError');

/** The waiting queue is at its `queueLimit`. Code `QUEUE_FULL`. */
export class QueueFullError extends SluiceError {
  /** The queue limit, in the gate's unit, when known (the per-key limit when `perKey`). */
  readonly queueLimit: number | undefined;
  /**
   * True when the request's key had used its own share of the queue (`perKeyQueueLimit` of a
   * gate with fairness) while the queue itself had room: requests of other keys still queue.
   */
  readonly perKey: boolean;
  /** With `perKey`: the key whose share was full (`undefined` for requests without a key). */
  readonly key: FairnessKey | undefined;
  /**
   * @param perKey - given when the limit that was reached is one key's share of the queue, with
   *   that key.
   */
  constructor(gate: string, queueLimit?: number, retryAfterMs?: number, perKey?: { readonly key: FairnessKey | undefined }) {
    const key = perKey?.key;
    const which =
      perKey === undefined
        ? ''
        : key === undefined
          ? ' for requests without a key'
          : ` for key ${typeof key === 'string' ? JSON.stringify(key) : String(key)}`;
    const limit = queueLimit === undefined ? '' : ` (${perKey === undefined ? 'queueLimit' : 'perKeyQueueLimit'} ${queueLimit})`;
    super('QUEUE_FULL', `${gate}: queue is full${which}${limit}${retryText(retryAfterMs)}`, { gate, retryAfterMs, stack: false });
    this.queueLimit = queueLimit;
    this.perKey = perKey !== undefined;
    this.key = key;
  }
}
named(QueueFullError, 'QueueFullError');

/** A wait ran past, or would run past, its `maxWaitMs`. Code `WAIT_TIMEOUT`. */
export class WaitTimeoutError extends SluiceError {
  /** The wait limit that was exceeded, in ms, when known. */
  readonly maxWaitMs: number | undefined;
  constructor(gate: string, maxWaitMs?: number, retryAfterMs?: number) {
    const within = maxWaitMs === undefined ? '' : ` within maxWaitMs ${maxWaitMs}`;
    super('WAIT_TIMEOUT', `${gate}: could not be granted${within}${retryText(retryAfterMs)}`, { gate, retryAfterMs, stack: false });
    this.maxWaitMs = maxWaitMs;
  }
}
named(WaitTimeoutError, 'WaitTimeoutError');

/** A circuit breaker is open (or half-open with its trials taken). Code `CIRCUIT_OPEN`. */
export class CircuitOpenError extends SluiceError {
  constructor(gate: string, retryAfterMs?: number) {
    super('CIRCUIT_OPEN', `${gate}: circuit is open${retryText(retryAfterMs)}`, { gate, retryAfterMs, stack: false });
  }
}
named(CircuitOpenError, 'CircuitOpenError');

/** A load shedder refused the request to protect the work already admitted. Code `SHED`. */
export class ShedError extends SluiceError {
  constructor(gate: string, retryAfterMs?: number) {
    super('SHED', `${gate}: shed under load${retryText(retryAfterMs)}`, { gate, retryAfterMs, stack: false });
  }
}
named(ShedError, 'ShedError');

/** Intake is paused because the downstream asked to back off (e.g. a 429). Code `PAUSED`. */
export class PausedError extends SluiceError {
  constructor(gate: string, retryAfterMs?: number) {
    super('PAUSED', `${gate}: paused by downstream backpressure${retryText(retryAfterMs)}`, { gate, retryAfterMs, stack: false });
  }
}
named(PausedError, 'PausedError');

/** The component was closed; nothing more will be granted. Code `CLOSED`. */
export class ClosedError extends SluiceError {
  constructor(gate: string) {
    super('CLOSED', `${gate}: closed`, { gate, stack: false });
  }
}
named(ClosedError, 'ClosedError');

/**
 * A limiter whose state lives in a shared store (Redis) could not reach it — an error or a
 * timeout — and its failure policy is to refuse (`fail-closed`). The store's error is the
 * `cause`. Code `STORE_UNAVAILABLE`.
 */
export class StoreUnavailableError extends SluiceError {
  constructor(gate: string, cause: unknown, retryAfterMs?: number) {
    super(
      'STORE_UNAVAILABLE',
      `${gate}: the shared store is unavailable (${cause instanceof Error ? cause.message : String(cause)})${retryText(retryAfterMs)}`,
      {
        gate,
        cause,
        retryAfterMs,
        stack: false,
      },
    );
  }
}
named(StoreUnavailableError, 'StoreUnavailableError');

/**
 * The request can never be granted: its count exceeds what the gate can ever hold. Only a
 * smaller request can pass, so there is no `retryAfterMs`. Code `TOO_LARGE`.
 */
export class TooLargeError extends SluiceError {
  /** The count that was asked for. */
  readonly requested: number;
  /** The most the gate can ever grant at once. */
  readonly capacity: number;
  constructor(gate: string, requested: number, capacity: number) {
    super('TOO_LARGE', `${gate}: count ${requested} exceeds capacity ${capacity}; it can never be granted, request at most ${capacity}`, {
      gate,
    });
    this.requested = requested;
    this.capacity = capacity;
  }
}
named(TooLargeError, 'TooLargeError');

/**
 * An option or argument is invalid. The message names it, the accepted range, and the value
 * received with its type. Code `INVALID_ARGUMENT`.
 */
export class InvalidArgumentError extends SluiceError {
  /** Name of the offending option or argument, e.g. `ratePerSecond`. */
  readonly argument: string;
  /** The value received. */
  readonly received: unknown;
  /**
   * @param message - the whole message, for the few checks whose sentence is not "must be"
   *   (an unknown option: see `unknownOptionError`). Default:
   *   `${where}: ${argument} must be ${expected}; received ${describeValue(received)}`.
   */
  constructor(
    where: string,
    argument: string,
    expected: string,
    received: unknown,
    message = `${where}: ${argument} must be ${expected}; received ${describeValue(received)}`,
  ) {
    super('INVALID_ARGUMENT', message);
    this.argument = argument;
    this.received = received;
  }
}
named(InvalidArgumentError, 'InvalidArgumentError');

/** Renders a received value with its type for error messages: `NaN (number)`, `"5" (string)`. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'string':
      return `${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)} (string)`;
    case 'number':
    case 'boolean':
    case 'bigint':
      return `${String(value)} (${typeof value})`;
    case 'function':
      return 'a function';
    case 'symbol':
      return `${String(value)} (symbol)`;
    default:
      return Array.isArray(value) ? `an array of ${value.length}` : 'an object';
  }
}

/** True for any error of the sluice family, including ones from another copy of the package. */
export function isSluiceError(error: unknown): error is SluiceError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[SLUICE_ERROR] === true;
}

function hasCode<E extends SluiceError>(code: SluiceErrorCode) {
  return (error: unknown): error is E => isSluiceError(error) && error.code === code;
}

/** True for a {@link LimitExceededError} (from any copy of sluice). */
export const isLimitExceededError = /* @__PURE__ */ hasCode<LimitExceededError>('LIMIT_EXCEEDED');
/** True for a {@link QueueFullError} (from any copy of sluice). */
export const isQueueFullError = /* @__PURE__ */ hasCode<QueueFullError>('QUEUE_FULL');
/** True for a {@link WaitTimeoutError} (from any copy of sluice). */
export const isWaitTimeoutError = /* @__PURE__ */ hasCode<WaitTimeoutError>('WAIT_TIMEOUT');
/** True for a {@link CircuitOpenError} (from any copy of sluice). */
export const isCircuitOpenError = /* @__PURE__ */ hasCode<CircuitOpenError>('CIRCUIT_OPEN');
/** True for a {@link ShedError} (from any copy of sluice). */
export const isShedError = /* @__PURE__ */ hasCode<ShedError>('SHED');
/** True for a {@link PausedError} (from any copy of sluice). */
export const isPausedError = /* @__PURE__ */ hasCode<PausedError>('PAUSED');
/** True for a {@link ClosedError} (from any copy of sluice). */
export const isClosedError = /* @__PURE__ */ hasCode<ClosedError>('CLOSED');
/** True for a {@link StoreUnavailableError} from any copy of sluice. */
export const isStoreUnavailableError = /* @__PURE__ */ hasCode<StoreUnavailableError>('STORE_UNAVAILABLE');
/** True for a {@link TooLargeError} (from any copy of sluice). */
export const isTooLargeError = /* @__PURE__ */ hasCode<TooLargeError>('TOO_LARGE');
/** True for an {@link InvalidArgumentError} (from any copy of sluice). */
export const isInvalidArgumentError = /* @__PURE__ */ hasCode<InvalidArgumentError>('INVALID_ARGUMENT');

/**
 * The error an `acquire` rejects with for a refusal: one subclass per {@link RefusalReason},
 * carrying the refusal's gate and `retryAfterMs`.
 */
export function refusalError(refusal: Refusal): SluiceError {
  const { gate, retryAfterMs } = refusal;
  const reason: RefusalReason = refusal.reason;
  switch (reason) {
    case 'exhausted':
      return new LimitExceededError(gate, retryAfterMs);
    case 'queue-full':
      return new QueueFullError(gate, undefined, retryAfterMs);
    case 'timeout':
      return new WaitTimeoutError(gate, undefined, retryAfterMs);
    case 'circuit-open':
      return new CircuitOpenError(gate, retryAfterMs);
    case 'shed':
      return new ShedError(gate, retryAfterMs);
    case 'paused':
      return new PausedError(gate, retryAfterMs);
    case 'closed':
      return new ClosedError(gate);
  }
}

const REASON_BY_CODE: Partial<Record<SluiceErrorCode, RefusalReason>> = {
  LIMIT_EXCEEDED: 'exhausted',
  QUEUE_FULL: 'queue-full',
  WAIT_TIMEOUT: 'timeout',
  CIRCUIT_OPEN: 'circuit-open',
  SHED: 'shed',
  PAUSED: 'paused',
  CLOSED: 'closed',
};

/**
 * The refusal reason behind a rejected wait (the inverse of {@link refusalError}), or
 * `undefined` when `error` is not a refusal (an abort reason, a bug, `TOO_LARGE`).
 */
export function refusalReasonOf(error: unknown): RefusalReason | undefined {
  return isSluiceError(error) ? REASON_BY_CODE[error.code] : undefined;
}
