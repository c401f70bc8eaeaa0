import { GateBase, checkNumber, type Clock } from '@sluice/core';

/**
 * The consumer's pace as a gate: it can take `perSecond` jobs a second, with room for a burst of
 * `burst`. A dozen lines on top of `GateBase`, which brings the waiting queue, `maxWaitMs`,
 * abort signals, retry hints and the contract every sluice gate keeps.
 */
export class Drain extends GateBase {
  readonly capacity: number;
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(options: { perSecond: number; burst: number; queueLimit?: number; clock?: Clock }) {
    super({ name: 'drain', clock: options.clock, queueLimit: options.queueLimit ?? 0 });
    this.perMs = checkNumber('Drain', 'perSecond', options.perSecond, { min: 0, exclusiveMin: true }) / 1000;
    this.capacity = checkNumber('Drain', 'burst', options.burst, { min: 1, integer: true });
    this.tokens = this.capacity;
    this.last = this.clock.now();
  }

  protected tryTake(count: number): boolean {
    this.refill();
    if (this.tokens < Math.max(count, 1)) return false;
    this.tokens -= count;
    return true;
  }

  protected availableUnits(): number {
    this.refill();
    return Math.floor(this.tokens);
  }

  protected override estimateWaitMs(count: number, unitsAhead: number): number {
    this.refill();
    return Math.max(0, (count + unitsAhead - this.tokens) / this.perMs);
  }

  private refill(): void {
    const now = this.clock.now();
    if (now > this.last) this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
    this.last = Math.max(this.last, now);
  }
}
