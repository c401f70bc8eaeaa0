import { describe, expect, it } from 'vitest';
import {
  InvalidArgumentError,
  NOT_RUN,
  PassThroughGate,
  Pipeline,
  WaiterQueue,
  GateMeter,
  checkOptions,
  checkOutcome,
  closestKey,
  optionKeys,
  passThrough,
  pipeline,
  systemClock,
  type Outcome,
} from '@sluice/core';
import { ControlledGate } from '@sluice/testing';

interface BucketOptions {
  readonly ratePerSecond: number;
  readonly burst?: number;
  readonly name?: string;
}
const BUCKET_KEYS = optionKeys<BucketOptions>()({ ratePerSecond: true, burst: true, name: true });

function thrown(fn: () => unknown): InvalidArgumentError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidArgumentError);
    return error as InvalidArgumentError;
  }
  throw new Error('expected a throw');
}

describe('unknown options', () => {
  it('names the key and the nearest known one', () => {
    const error = thrown(() => checkOptions('TokenBucket', { ratePerMinute: 10 } as unknown as BucketOptions, BUCKET_KEYS));
    expect(error.message).toBe('TokenBucket: unknown option "ratePerMinute"; did you mean "ratePerSecond"?');
    expect(error.argument).toBe('ratePerMinute');
    expect(error.received).toBe(10);
    expect(error.code).toBe('INVALID_ARGUMENT');
  });

  it('ignores letter case when suggesting, and suggests nothing for a far-off key', () => {
    expect(thrown(() => checkOptions('TokenBucket', { ratepersecond: 1 } as unknown as BucketOptions, BUCKET_KEYS)).message).toBe(
      'TokenBucket: unknown option "ratepersecond"; did you mean "ratePerSecond"?',
    );
    expect(thrown(() => checkOptions('TokenBucket', { colour: 'red' } as unknown as BucketOptions, BUCKET_KEYS)).message).toBe(
      'TokenBucket: unknown option "colour"',
    );
  });

  it('puts the path of a nested object before the key and the suggestion', () => {
    expect(thrown(() => checkOptions('shedder', { burts: 1 } as unknown as BucketOptions, BUCKET_KEYS, 'codel.')).message).toBe(
      'shedder: unknown option "codel.burts"; did you mean "codel.burst"?',
    );
  });

  it('accepts every known key, undefined values included, and inherited keys are checked like own ones', () => {
    const options: BucketOptions = { ratePerSecond: 1, burst: undefined as unknown as number, name: undefined as unknown as string };
    expect(checkOptions('TokenBucket', options, BUCKET_KEYS)).toBe(options);
    const inherited = Object.create({ ratePerMinute: 1 }) as BucketOptions;
    expect(() => checkOptions('TokenBucket', inherited, BUCKET_KEYS)).toThrow('unknown option "ratePerMinute"');
  });

  it('lists the keys once, in declaration order', () => {
    expect(BUCKET_KEYS.names).toEqual(['ratePerSecond', 'burst', 'name']);
    expect(Object.isFrozen(BUCKET_KEYS.names)).toBe(true);
    expect(BUCKET_KEYS.has('burst')).toBe(true);
    expect(BUCKET_KEYS.has('toString')).toBe(false);
  });

  it('closestKey: unique nearest within half the length; ties and far keys give none', () => {
    expect(closestKey('brust', ['burst', 'name'])).toBe('burst');
    expect(closestKey('nmae', ['burst', 'name'])).toBe('name');
    expect(closestKey('x', ['ok', 'name'])).toBeUndefined();
    expect(closestKey('cat', ['bat', 'hat'])).toBeUndefined();
    expect(closestKey('MAXWAITMS', ['maxWaitMs', 'priority'])).toBe('maxWaitMs');
    expect(closestKey('anything', [])).toBeUndefined();
  });

  const table: [string, () => unknown, string][] = [
    ['PassThroughGate', () => new PassThroughGate({ nme: 'x' } as never), 'PassThroughGate: unknown option "nme"; did you mean "name"?'],
    ['passThrough', () => passThrough({ clok: systemClock } as never), 'PassThroughGate: unknown option "clok"; did you mean "clock"?'],
    ['Pipeline', () => new Pipeline([passThrough()], { nmae: 'p' } as never), 'Pipeline: unknown option "nmae"; did you mean "name"?'],
    ['pipeline(options, ...)', () => pipeline({ title: 'p' } as never, passThrough()), 'Pipeline: unknown option "title"'],
    [
      'WaiterQueue',
      () => new WaiterQueue({ clock: systemClock, timeoutReason: () => undefined, keyd: true } as never),
      'WaiterQueue: unknown option "keyd"; did you mean "keyed"?',
    ],
    [
      'GateMeter',
      () => new GateMeter('throttle', passThrough(), { batches: 4 } as never),
      'throttle: unknown option "batches"; did you mean "batch"?',
    ],
    [
      'ControlledGate',
      () => new ControlledGate({ capacity: 1, queueLimt: 1 } as never),
      'ControlledGate: unknown option "queueLimt"; did you mean "queueLimit"?',
    ],
  ];
  it.each(table)('%s refuses an unknown key', (_label, make, message) => {
    expect(thrown(make).message).toBe(message);
  });
});

describe('checkOutcome', () => {
  it('accepts undefined, NOT_RUN and every well-formed outcome', () => {
    for (const outcome of [
      undefined,
      NOT_RUN,
      { ok: true },
      { ok: false },
      {},
      { ok: true, durationMs: 0, cost: 3, usage: { inputTokens: 1, outputTokens: 2, totalTokens: 3 }, error: new Error('x') },
      { ok: undefined, durationMs: undefined, cost: undefined, usage: undefined, error: undefined },
      { ok: false, error: undefined },
    ]) {
      expect(() => checkOutcome('g', outcome)).not.toThrow();
    }
  });

  it('names the gate and the bad field', () => {
    expect(thrown(() => checkOutcome('api', 'yes')).message).toBe(
      'api: outcome must be an outcome object ({ ok, durationMs, cost, usage, error }) or undefined; received "yes" (string)',
    );
    expect(thrown(() => checkOutcome('api', { durationMs: -1 })).message).toBe(
      'api: outcome.durationMs must be a finite number ≥ 0 or undefined; received -1 (number)',
    );
    expect(thrown(() => checkOutcome('api', { ok: true, okay: true })).message).toBe('api: unknown outcome key "okay"; did you mean "ok"?');
    expect(thrown(() => checkOutcome('api', { usage: { inputTokens: Infinity } })).message).toBe(
      'api: outcome.usage.inputTokens must be a finite number ≥ 0 or undefined; received Infinity (number)',
    );
  });

  it('a pipeline permit throws before any stage is released, and stays releasable', () => {
    const a = new ControlledGate({ name: 'a', capacity: 1, queueLimit: 0 });
    const b = new ControlledGate({ name: 'b', capacity: 1, queueLimit: 0 });
    const gate = pipeline({ name: 'front' }, a, b);
    const permit = gate.tryAcquire(1);
    if (!permit.granted) throw new Error('refused');
    expect(thrown(() => permit.release({ ok: 'yes' } as unknown as Outcome)).message).toBe(
      'front: outcome.ok must be true, false or undefined; received "yes" (string)',
    );
    expect(a.available + b.available).toBe(0);
    expect(a.releases.length + b.releases.length).toBe(0);
    permit.release({ ok: true });
    expect(a.available + b.available).toBe(2);
    expect(() => permit.release(42 as unknown as Outcome)).toThrow(InvalidArgumentError);
  });

  it('the shared empty permit checks too', () => {
    const permit = passThrough().tryAcquire(1);
    if (!permit.granted) throw new Error('refused');
    expect(thrown(() => permit.release(null as unknown as Outcome)).message).toBe(
      'Permit: outcome must be an outcome object ({ ok, durationMs, cost, usage, error }) or undefined; received null',
    );
    permit.release();
  });
});

describe('checkOutcome fast path', () => {
  it('still refuses what only the slow path names: an empty array, a bad field next to good ones', () => {
    expect(() => checkOutcome('g', [])).toThrow('g: outcome must be an outcome object');
    expect(() => checkOutcome('g', { ok: true, durationMs: 1, cost: Infinity })).toThrow('g: outcome.cost must be');
    expect(() => checkOutcome('g', { ok: true, durationMs: 1, error: 1, extra: 1 })).toThrow('g: unknown outcome key "extra"');
    for (const key of ['ok', 'durationMs', 'cost', 'usage', 'error']) expect(() => checkOutcome('g', { [key]: undefined })).not.toThrow();
  });
});
