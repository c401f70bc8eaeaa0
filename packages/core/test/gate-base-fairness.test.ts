import { describe, expect, it } from 'vitest';
import {
  ClosedError,
  GateBase,
  InvalidArgumentError,
  QueueFullError,
  refusalReasonOf,
  type FairnessOptions,
  type Permit,
  type Refusal,
} from '@sluice/core';
import { VirtualClock } from '@sluice/testing';

/**
 * A gate that grants nothing until `open()` and predicts 100 ms per unit queued ahead, so its
 * refusals carry a retry hint.
 */
class Slow extends GateBase {
  readonly capacity = 4;
  private free = 0;
  constructor(clock: VirtualClock, fairness: FairnessOptions | undefined, queueLimit = 10) {
    super({ name: 'slow', clock, queueLimit, fairness });
  }
  open(units: number): void {
    this.free += units;
    this.serve();
  }
  protected tryTake(count: number): boolean {
    if (this.free < Math.max(count, 1)) return false;
    this.free -= count;
    return true;
  }
  protected availableUnits(): number {
    return this.free;
  }
  protected override estimateWaitMs(count: number, unitsAhead: number): number {
    return (unitsAhead + count) * 100;
  }
}

function settle<T>(promise: Promise<T>): { result: T | Error | undefined } {
  const box: { result: T | Error | undefined } = { result: undefined };
  promise.then(
    (value) => (box.result = value),
    (error: Error) => (box.result = error),
  );
  return box;
}

describe('GateBase fairness', () => {
  it('refuses a key past perKeyQueueLimit with queue-full and the gate’s retry hint, while other keys queue', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const gate = new Slow(clock, { perKeyQueueLimit: 3 });
    const refusals: Refusal[] = [];
    gate.onRefuse((refusal) => refusals.push(refusal));
    const noisy = [settle(gate.acquire(2, { key: 'noisy' })), settle(gate.acquire(1, { key: 'noisy' }))];
    const over = settle(gate.acquire(1, { key: 'noisy' }));
    const quiet = settle(gate.acquire(3, { key: 'quiet' }));
    await clock.advance(0);
    const error = over.result as QueueFullError;
    expect(error).toBeInstanceOf(QueueFullError);
    expect(refusalReasonOf(error)).toBe('queue-full');
    expect([error.perKey, error.key, error.queueLimit]).toEqual([true, 'noisy', 3]);
    expect(error.retryAfterMs).toBe(400); // 3 units ahead + its own, at 100 ms each
    expect(refusals).toEqual([expect.objectContaining({ reason: 'queue-full', gate: 'slow', retryAfterMs: 400 })]);
    expect(quiet.result).toBeUndefined();
    expect(gate.stats()).toMatchObject({ waiting: 3, queued: 6, refused: 1 });
    // served in turns: noisy's first, then quiet's, then noisy's second
    gate.open(6);
    await clock.advance(0);
    expect([...noisy, quiet].map((box) => (box.result as Permit).granted)).toEqual([true, true, true]);
    gate.close();
  });

  it('the whole queue’s limit still applies first', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const gate = new Slow(clock, { perKeyQueueLimit: 2 }, 3);
    const waiting = [settle(gate.acquire(1, { key: 'a' })), settle(gate.acquire(1, { key: 'b' })), settle(gate.acquire(1, { key: 'c' }))];
    const over = settle(gate.acquire(1, { key: 'd' }));
    await clock.advance(0);
    expect(over.result).toBeInstanceOf(QueueFullError);
    expect((over.result as QueueFullError).perKey).toBe(false);
    gate.close();
    await clock.advance(0);
    expect(waiting.every((box) => box.result instanceof ClosedError)).toBe(true);
  });

  it('requests without a key share one key, and its cap', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const gate = new Slow(clock, { perKeyQueueLimit: 1 });
    const first = settle(gate.acquire());
    const second = settle(gate.acquire(1, {}));
    await clock.advance(0);
    expect(first.result).toBeUndefined();
    expect((second.result as QueueFullError).message).toBe(
      'slow: queue is full for requests without a key (perKeyQueueLimit 1); retry after 200 ms',
    );
    gate.close();
    await clock.advance(0);
  });

  it('fairBy derives the key; a bad result or a throw rejects that request, uncounted', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const seen: unknown[] = [];
    const gate = new Slow(clock, {
      perKeyQueueLimit: 1,
      fairBy: (options) => {
        seen.push(options?.key);
        if (options?.key === 'boom') throw new Error('no tenant');
        if (options?.key === 'bad') return { tenant: 1 } as unknown as string;
        return String(options?.key).split(':')[0];
      },
    });
    const alice = settle(gate.acquire(1, { key: 'acme:alice' }));
    const bob = settle(gate.acquire(1, { key: 'acme:bob' })); // same tenant: over its cap of 1
    const boom = settle(gate.acquire(1, { key: 'boom' }));
    const bad = settle(gate.acquire(1, { key: 'bad' }));
    await clock.advance(0);
    expect(alice.result).toBeUndefined();
    expect((bob.result as QueueFullError).key).toBe('acme');
    expect((boom.result as Error).message).toBe('no tenant');
    expect(bad.result).toBeInstanceOf(InvalidArgumentError);
    expect((bad.result as Error).message).toMatch(
      /fairness.fairBy\(\) result must be a string or a number \(not NaN\); received an object/,
    );
    expect(seen).toEqual(['acme:alice', 'acme:bob', 'boom', 'bad']);
    expect(gate.stats()).toMatchObject({ waiting: 1, refused: 1, admitted: 0 });
    // granted at once: fairBy is not called
    gate.open(4);
    await clock.advance(0);
    expect(gate.tryAcquire(1).granted).toBe(true);
    expect((await gate.acquire(1, { key: 'boom' })).granted).toBe(true);
    expect(seen).toHaveLength(4);
    gate.close();
  });

  it('rejects bad fairness options at construction, naming the option', () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const bad: [FairnessOptions, RegExp][] = [
      [{ perKeyQueueLimit: 0 }, /slow: fairness.perKeyQueueLimit must be a finite integer ≥ 1 ≤ 10; received 0 \(number\)/],
      [{ perKeyQueueLimit: 1.5 }, /fairness.perKeyQueueLimit must be a finite integer/],
      [{ perKeyQueueLimit: 11 }, /fairness.perKeyQueueLimit .* ≤ 10; received 11/],
      [{ perKeyQueueLimit: Number.NaN }, /fairness.perKeyQueueLimit/],
      [
        { fairBy: 'tenant' as unknown as () => string },
        /slow: fairness.fairBy must be a function or undefined; received "tenant" \(string\)/,
      ],
      ['on' as unknown as FairnessOptions, /slow: fairness must be an object or undefined; received "on" \(string\)/],
    ];
    for (const [fairness, message] of bad) {
      expect(() => new Slow(clock, fairness)).toThrow(InvalidArgumentError);
      expect(() => new Slow(clock, fairness)).toThrow(message);
    }
    expect(() => new Slow(clock, {})).not.toThrow();
    expect(() => new Slow(clock, { perKeyQueueLimit: 10 })).not.toThrow();
  });

  it('a key of the wrong type is refused at the boundary', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const gate = new Slow(clock, {});
    await expect(gate.acquire(1, { key: Number.NaN })).rejects.toThrow(/slow: key must be a string or a number \(not NaN\); received NaN/);
    await expect(gate.acquire(1, { key: true as unknown as string })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(gate.stats()).toMatchObject({ waiting: 0, refused: 0 });
  });
});
