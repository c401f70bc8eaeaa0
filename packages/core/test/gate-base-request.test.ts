import {
  type AcquireOptions,
  GateBase,
  InvalidArgumentError,
  type Outcome,
  type Permit,
  ReleaseOncePermit,
  type TryAcquireOptions,
} from '@sluice/core';
import { VirtualClock } from '@sluice/testing';
import { describe, expect, it } from 'vitest';

// A gate whose requests carry a value beside their count: a weight in "bytes", budgeted apart
// from the count. Nothing but the kernel's own hooks carries the weight: if a hook received
// another request's value (or none), the budget would drift.

interface Weight {
  readonly bytes: number;
}

class WeightPermit extends ReleaseOncePermit {
  constructor(
    private readonly owner: WeightedGate,
    readonly bytes: number,
  ) {
    super(owner.name);
  }
  protected settle(outcome: Outcome | undefined): void {
    this.owner.giveBack(outcome?.cost === 0 ? this.bytes : 0);
  }
}

class WeightedGate extends GateBase<Weight> {
  readonly capacity = 100;
  bytes: number;
  readonly seen: string[] = [];
  constructor(
    bytes: number,
    private readonly refillBytesPerMs: number,
    clock: VirtualClock,
  ) {
    super({ name: 'weighted', clock, queueLimit: 100 });
    this.bytes = bytes;
    this.last = clock.now();
  }
  private last: number;
  send(count: number, bytes: number, options?: TryAcquireOptions): Permit | { granted: false } {
    return this.decide(count, options, { bytes });
  }
  sendLater(count: number, bytes: number, options?: AcquireOptions): Promise<WeightPermit> {
    return this.request(count, options, { bytes }) as Promise<WeightPermit>;
  }
  giveBack(bytes: number): void {
    this.bytes += bytes;
    this.serve();
  }
  private refill(): void {
    const now = this.clock.now();
    this.bytes += (now - this.last) * this.refillBytesPerMs;
    this.last = now;
  }
  protected tryTake(count: number, _priority: number, request: Weight | undefined): boolean {
    this.refill();
    const bytes = request?.bytes ?? count;
    this.seen.push(`take:${bytes}`);
    if (count === 0) return this.bytes >= 1;
    if (this.bytes < bytes) return false;
    this.bytes -= bytes;
    return true;
  }
  protected availableUnits(): number {
    this.refill();
    return Math.floor(this.bytes);
  }
  protected override estimateWaitMs(count: number, _unitsAhead: number, _priority: number, request?: Weight): number {
    this.refill();
    const bytes = request?.bytes ?? Math.max(count, 1);
    this.seen.push(`estimate:${bytes}`);
    return this.bytes >= bytes ? 0 : (bytes - this.bytes) / this.refillBytesPerMs;
  }
  protected override permitFor(count: number, request?: Weight): Permit {
    return new WeightPermit(this, request?.bytes ?? count);
  }
}

describe('GateBase: the value a request carries reaches every hook that decides about it', () => {
  it('tryAcquire with a value: tryTake, the refusal estimate and the permit see that value', () => {
    const clock = new VirtualClock();
    const gate = new WeightedGate(50, 1, clock);
    const permit = gate.send(1, 30) as WeightPermit;
    expect(permit.bytes).toBe(30);
    expect(gate.send(1, 40)).toMatchObject({ granted: false, retryAfterMs: 20 });
    expect(gate.seen).toEqual(['take:30', 'take:40', 'estimate:40']);
    // a plain count carries no value: the gate falls back to the count
    const plain = gate.tryAcquire(5) as WeightPermit;
    expect(plain.bytes).toBe(5);
  });

  it('a waiter keeps its value: the head is served, estimated and timed out with its own', async () => {
    const clock = new VirtualClock();
    const gate = new WeightedGate(0, 1, clock);
    const big = gate.sendLater(1, 30);
    const small = gate.sendLater(1, 5, { maxWaitMs: 10 }).catch((error: unknown) => error);
    gate.seen.length = 0;
    await clock.advance(10);
    // the small one timed out behind the big one (never overtaking it), estimated with its own 5 bytes
    expect(await small).toMatchObject({ code: 'WAIT_TIMEOUT' });
    expect(gate.seen).toContain('estimate:5');
    await clock.advance(20);
    const permit = await big;
    expect(permit.bytes).toBe(30);
    expect(gate.seen.filter((s) => s.startsWith('take')).every((s) => s === 'take:30')).toBe(true);
    expect(gate.bytes).toBe(0);
  });

  it('the permit settles once: NOT_RUN gives the weight back one time and wakes a waiter carrying its value', async () => {
    const clock = new VirtualClock();
    const gate = new WeightedGate(30, 0.000_001, clock);
    const held = gate.send(1, 30) as WeightPermit;
    const next = gate.sendLater(1, 25);
    expect(held.isReleased).toBe(false);
    held.release({ cost: 0 });
    held.release({ cost: 0 });
    expect(held.isReleased).toBe(true);
    const permit = await next;
    expect(permit.bytes).toBe(25);
    expect(Math.round(gate.bytes)).toBe(5);
  });

  it('a bad outcome throws naming the gate and leaves the permit releasable', () => {
    const clock = new VirtualClock();
    const gate = new WeightedGate(30, 1, clock);
    const permit = gate.send(1, 10) as WeightPermit;
    expect(() => permit.release({ cost: -1 } as Outcome)).toThrow(InvalidArgumentError);
    expect(() => permit.release({ cost: -1 } as Outcome)).toThrow(/^weighted: /);
    expect(permit.isReleased).toBe(false);
    permit.release({ cost: 0 });
    expect(gate.bytes).toBe(30);
  });
});

/** Slots that hint a retry from a guess, but cannot predict a wait. */
class HintingSlots extends GateBase {
  readonly capacity = 1;
  free = 1;
  constructor(clock: VirtualClock, queueLimit: number) {
    super({ name: 'hinting', clock, queueLimit });
  }
  protected tryTake(count: number): boolean {
    if (this.free < Math.max(count, 1)) return false;
    this.free -= count;
    return true;
  }
  protected availableUnits(): number {
    return this.free;
  }
  protected override retryHintMs(count: number, unitsAhead: number): number {
    return 25 * (unitsAhead + count);
  }
  protected override onRelease(count: number): void {
    this.free += count;
    this.serve();
  }
}

describe('GateBase: retryHintMs hints refusals without predicting waits', () => {
  it('every refusal carries the hint; a maxWaitMs wait is not refused early and no wake timer is armed', async () => {
    const clock = new VirtualClock();
    const gate = new HintingSlots(clock, 1);
    const held = gate.tryAcquire() as Permit;
    expect(gate.tryAcquire()).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: 25 });
    await expect(gate.acquire(1, { maxWaitMs: 0 })).rejects.toMatchObject({ code: 'WAIT_TIMEOUT', retryAfterMs: 25 });
    const waiting = gate.acquire(1, { maxWaitMs: 10 }).catch((error: unknown) => error);
    expect(gate.stats().waiting).toBe(1); // queued, not refused on a guess
    expect(clock.pendingTimers).toBe(1); // the deadline only: no wake timer for a slot gate
    await expect(gate.acquire(1)).rejects.toMatchObject({ code: 'QUEUE_FULL', retryAfterMs: 50 });
    await clock.advance(10);
    expect(await waiting).toMatchObject({ code: 'WAIT_TIMEOUT', retryAfterMs: 25 });
    held.release();
    expect(gate.tryAcquire().granted).toBe(true);
  });
});
