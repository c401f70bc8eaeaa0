import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  TooLargeError,
  checkAcquireOptions,
  checkCount,
  checkFunction,
  checkName,
  checkNumber,
  checkOneOf,
  checkOptions,
  checkTryAcquireOptions,
  optionKeys,
  optionalNumber,
} from '@sluice/core';

interface BOptions {
  readonly name?: string;
}
const B_KEYS = optionKeys<BOptions>()({ name: true });

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return (error as Error).message;
  }
  throw new Error('expected a throw');
}

describe('boundary validation', () => {
  it('names the component, the option, the range, and the value with its type', () => {
    expect(messageOf(() => checkNumber('TokenBucket', 'ratePerSecond', Number.NaN, { min: 0, exclusiveMin: true }))).toBe(
      'TokenBucket: ratePerSecond must be a finite number > 0; received NaN (number)',
    );
    expect(messageOf(() => checkNumber('X', 'burst', 1.5, { min: 1, integer: true }))).toBe(
      'X: burst must be a finite integer ≥ 1; received 1.5 (number)',
    );
    expect(messageOf(() => checkNumber('X', 'ms', '10', { min: 0 }))).toBe('X: ms must be a finite number ≥ 0; received "10" (string)');
    expect(messageOf(() => checkNumber('X', 'p', 2, { min: 0, max: 1 }))).toBe('X: p must be a finite number ≥ 0 ≤ 1; received 2 (number)');
    expect(messageOf(() => checkNumber('X', 'wait', -1, { min: 0, allowInfinity: true }))).toBe(
      'X: wait must be a number ≥ 0 or Infinity; received -1 (number)',
    );
  });

  it('accepts values in range, Infinity only when allowed, and never NaN', () => {
    expect(checkNumber('X', 'a', 0, { min: 0 })).toBe(0);
    expect(checkNumber('X', 'a', Infinity, { min: 0, allowInfinity: true })).toBe(Infinity);
    expect(() => checkNumber('X', 'a', Infinity, { min: 0 })).toThrow(InvalidArgumentError);
    expect(() => checkNumber('X', 'a', -Infinity, { allowInfinity: true })).toThrow(InvalidArgumentError);
    expect(() => checkNumber('X', 'a', Number.NaN, { allowInfinity: true })).toThrow(InvalidArgumentError);
    expect(() => checkNumber('X', 'a', 0, { min: 0, exclusiveMin: true })).toThrow(/> 0/);
    expect(optionalNumber('X', 'a', undefined, 7)).toBe(7);
    expect(() => optionalNumber('X', 'a', null, 7)).toThrow(/received null/);
  });

  it('checks counts: integer ≥ 0, and not above capacity', () => {
    expect(() => checkCount(3, 3, 'g')).not.toThrow();
    expect(() => checkCount(0, 3, 'g')).not.toThrow();
    expect(() => checkCount(-1, 3, 'g')).toThrow(/g: count must be an integer ≥ 0; received -1 \(number\)/);
    expect(() => checkCount(1.5, 3, 'g')).toThrow(InvalidArgumentError);
    expect(() => checkCount(Number.NaN, 3, 'g')).toThrow(InvalidArgumentError);
    expect(() => checkCount(Infinity, Infinity, 'g')).toThrow(InvalidArgumentError);
    expect(() => checkCount(4, 3, 'g')).toThrow(TooLargeError);
    expect(() => checkCount(4, 3, 'g')).toThrow(/count 4 exceeds capacity 3/);
  });

  it('checks wait options', () => {
    expect(() => checkAcquireOptions('g', undefined)).not.toThrow();
    expect(() => checkAcquireOptions('g', { maxWaitMs: Infinity, priority: -3 })).not.toThrow();
    expect(() => checkAcquireOptions('g', { maxWaitMs: -1 })).toThrow(/maxWaitMs must be a number ≥ 0 \(ms\) or Infinity; received -1/);
    expect(() => checkAcquireOptions('g', { maxWaitMs: Number.NaN })).toThrow(/maxWaitMs/);
    expect(() => checkAcquireOptions('g', { maxWaitMs: '5' as unknown as number })).toThrow(/received "5" \(string\)/);
    expect(() => checkAcquireOptions('g', { priority: Infinity })).toThrow(/priority must be a finite number/);
    expect(() => checkAcquireOptions('g', { signal: {} as AbortSignal })).toThrow(/signal must be an AbortSignal; received an object/);
    expect(() => checkAcquireOptions('g', 5 as unknown as object)).toThrow(/options must be an object/);
    expect(() => checkAcquireOptions('g', { key: 'tenant-a' })).not.toThrow();
    expect(() => checkAcquireOptions('g', { key: 0 })).not.toThrow();
    expect(() => checkAcquireOptions('g', { key: Number.NaN })).toThrow(
      'g: key must be a string or a number (not NaN); received NaN (number)',
    );
    expect(() => checkAcquireOptions('g', { key: {} as unknown as string })).toThrow(
      /key must be a string or a number \(not NaN\); received an object/,
    );
    expect(() => checkAcquireOptions('g', { key: null as unknown as string })).toThrow(InvalidArgumentError);
    expect(() => checkTryAcquireOptions('g', { priority: Number.NaN })).toThrow(/priority/);
    expect(() => checkTryAcquireOptions('g', { priority: 2 })).not.toThrow();
  });

  it('checks enumerations, functions, names and option objects', () => {
    expect(checkOneOf('B', 'strategy', 'drop-oldest', ['drop-oldest', 'drop-newest'])).toBe('drop-oldest');
    expect(messageOf(() => checkOneOf('B', 'strategy', 'drop-all', ['drop-oldest', 'drop-newest']))).toBe(
      'B: strategy must be one of "drop-oldest", "drop-newest"; received "drop-all" (string)',
    );
    expect(() => checkFunction('B', 'merge', undefined, true)).not.toThrow();
    expect(() => checkFunction('B', 'merge', 3)).toThrow(/merge must be a function; received 3 \(number\)/);
    expect(checkName('B', undefined, 'fallback')).toBe('fallback');
    expect(() => checkName('B', '', 'fallback')).toThrow(/name must be a non-empty string/);
    expect(checkOptions('B', undefined, B_KEYS)).toEqual({});
    expect(() => checkOptions('B', [] as unknown as BOptions, B_KEYS)).toThrow(/options must be an object; received an array of 0/);
  });
});
