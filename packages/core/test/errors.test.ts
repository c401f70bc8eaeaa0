import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  ClosedError,
  InvalidArgumentError,
  LimitExceededError,
  PausedError,
  QueueFullError,
  ShedError,
  SluiceError,
  TooLargeError,
  WaitTimeoutError,
  describeValue,
  isCircuitOpenError,
  isClosedError,
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
  type RefusalReason,
} from '@sluice/core';

describe('error family', () => {
  const cases = [
    [new LimitExceededError('g', 10), 'LIMIT_EXCEEDED', 'LimitExceededError', isLimitExceededError],
    [new QueueFullError('g', 5, 20), 'QUEUE_FULL', 'QueueFullError', isQueueFullError],
    [new WaitTimeoutError('g', 100, 30), 'WAIT_TIMEOUT', 'WaitTimeoutError', isWaitTimeoutError],
    [new CircuitOpenError('g', 40), 'CIRCUIT_OPEN', 'CircuitOpenError', isCircuitOpenError],
    [new ShedError('g', 50), 'SHED', 'ShedError', isShedError],
    [new PausedError('g', 60), 'PAUSED', 'PausedError', isPausedError],
    [new ClosedError('g'), 'CLOSED', 'ClosedError', isClosedError],
    [new TooLargeError('g', 9, 4), 'TOO_LARGE', 'TooLargeError', isTooLargeError],
    [new InvalidArgumentError('g', 'rate', 'a number', 'x'), 'INVALID_ARGUMENT', 'InvalidArgumentError', isInvalidArgumentError],
  ] as const;

  it.each(cases)('%s has its code, name, gate, and only its own guard', (error, code, name, guard) => {
    expect(error).toBeInstanceOf(SluiceError);
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(isSluiceError(error)).toBe(true);
    expect(guard(error)).toBe(true);
    for (const [other, otherCode, , otherGuard] of cases) {
      if (otherCode !== code) expect(otherGuard(error)).toBe(false);
      void other;
    }
    if (code !== 'INVALID_ARGUMENT') expect(error.gate).toBe('g');
    expect(String(error)).toContain(name);
  });

  it('a per-key queue-full names the key and its limit', () => {
    const whole = new QueueFullError('g', 8, 20);
    expect(whole.message).toBe('g: queue is full (queueLimit 8); retry after 20 ms');
    expect([whole.perKey, whole.key]).toEqual([false, undefined]);
    const tenant = new QueueFullError('g', 3, undefined, { key: 'tenant-a' });
    expect(tenant.message).toBe('g: queue is full for key "tenant-a" (perKeyQueueLimit 3)');
    expect([tenant.perKey, tenant.key, tenant.queueLimit]).toEqual([true, 'tenant-a', 3]);
    expect(new QueueFullError('g', 3, 5, { key: 7 }).message).toBe('g: queue is full for key 7 (perKeyQueueLimit 3); retry after 5 ms');
    const keyless = new QueueFullError('g', 3, undefined, { key: undefined });
    expect(keyless.message).toBe('g: queue is full for requests without a key (perKeyQueueLimit 3)');
    expect(keyless.perKey).toBe(true);
  });

  it('carries retryAfterMs only where a retry can succeed', () => {
    expect(new LimitExceededError('g', 10).retryAfterMs).toBe(10);
    expect(new LimitExceededError('g', 10).message).toBe('g: limit exceeded; retry after 10 ms');
    expect(new ClosedError('g').retryAfterMs).toBeUndefined();
    expect(new TooLargeError('g', 9, 4).retryAfterMs).toBeUndefined();
    expect(new TooLargeError('g', 9, 4).message).toBe('g: count 9 exceeds capacity 4; it can never be granted, request at most 4');
  });

  it('guards recognise errors from another copy of the package (brand via Symbol.for), not look-alikes', () => {
    const foreign = Object.assign(new Error('from another copy'), { code: 'SHED', gate: 'g' });
    Object.defineProperty(foreign, Symbol.for('sluice.error'), { value: true });
    expect(isSluiceError(foreign)).toBe(true);
    expect(isShedError(foreign)).toBe(true);
    const lookAlike = Object.assign(new Error('plain'), { code: 'SHED' });
    expect(isSluiceError(lookAlike)).toBe(false);
    expect(isShedError(lookAlike)).toBe(false);
    expect(isSluiceError(null)).toBe(false);
    expect(isSluiceError('SHED')).toBe(false);
  });

  it('maps every refusal reason to its error and back', () => {
    const reasons: RefusalReason[] = ['exhausted', 'queue-full', 'timeout', 'circuit-open', 'shed', 'paused', 'closed'];
    for (const reason of reasons) {
      const error = refusalError({ granted: false, reason, gate: 'stage', retryAfterMs: reason === 'closed' ? undefined : 25 });
      expect(error.gate).toBe('stage');
      expect(refusalReasonOf(error)).toBe(reason);
      if (reason !== 'closed') expect(error.retryAfterMs).toBe(25);
    }
    expect(refusalReasonOf(new TooLargeError('g', 2, 1))).toBeUndefined();
    expect(refusalReasonOf(new Error('x'))).toBeUndefined();
  });

  it('keeps a cause when given one', () => {
    const cause = new Error('root');
    expect(new LimitExceededError('g', undefined, cause).cause).toBe(cause);
  });

  it('describes received values with their type', () => {
    expect(describeValue(Number.NaN)).toBe('NaN (number)');
    expect(describeValue('5')).toBe('"5" (string)');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(() => 1)).toBe('a function');
    expect(describeValue([1, 2])).toBe('an array of 2');
    expect(describeValue({})).toBe('an object');
    expect(describeValue(10n)).toBe('10 (bigint)');
    expect(describeValue('x'.repeat(100))).toMatch(/…" \(string\)$/);
  });
});

describe('stack traces', () => {
  it('refusals carry no stack frames (they are answers, not bugs); programming errors do', () => {
    const refusals = [
      new LimitExceededError('g'),
      new QueueFullError('g'),
      new WaitTimeoutError('g'),
      new CircuitOpenError('g'),
      new ShedError('g'),
      new PausedError('g'),
      new ClosedError('g'),
    ];
    for (const error of refusals) {
      expect(error.stack).toBe(`${error.name}: ${error.message}`);
    }
    expect(new TooLargeError('g', 2, 1).stack).toMatch(/\n\s+at /);
    expect(new InvalidArgumentError('g', 'x', 'a number', 'y').stack).toMatch(/\n\s+at /);
    // the engine's own setting is left as it was
    expect(Error.stackTraceLimit).toBeGreaterThan(0);
    expect(new Error('plain').stack).toMatch(/\n\s+at /);
  });
});
