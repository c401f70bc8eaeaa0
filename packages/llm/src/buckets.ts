import { UNIT_EPSILON, bucketTokens, bucketWaitMs } from '@sluice/rate-limit';
import type { Dimension } from './types.js';

/** The dimensions in a fixed order: index into {@link Buckets} and cost vectors. */
export const DIMENSIONS: readonly Dimension[] = Object.freeze([
  'requests',
  'tokens',
  'input-tokens',
  'output-tokens',
  'requests-per-day',
  'tokens-per-day',
]);

/** Index of each dimension in {@link DIMENSIONS}. */
export const Dim = Object.freeze({
  Requests: 0,
  Tokens: 1,
  Input: 2,
  Output: 3,
  RequestsPerDay: 4,
  TokensPerDay: 5,
} as const);

/** Refill window of each dimension, ms. */
export const WINDOW_MS: readonly number[] = Object.freeze([60_000, 60_000, 60_000, 60_000, 86_400_000, 86_400_000]);

/**
 * What one request reserves in every dimension: 1 request, input + max output tokens in
 * `tokens`, input in `input-tokens`, max output in `output-tokens`, and the same per day.
 */
export function costVector(requests: number, input: number, output: number): Float64Array {
  const cost = new Float64Array(DIMENSIONS.length);
  cost[Dim.Requests] = requests;
  cost[Dim.Tokens] = input + output;
  cost[Dim.Input] = input;
  cost[Dim.Output] = output;
  cost[Dim.RequestsPerDay] = requests;
  cost[Dim.TokensPerDay] = input + output;
  return cost;
}

/**
 * One continuously refilling bucket per configured dimension (capacity = the limit, refilled
 * over its window: the providers' own model). Levels may go below zero after a debit (work that
 * cost more than it reserved, or the provider reporting less left than we thought).
 */
export class Buckets {
  /** Which dimensions are configured, as indexes into {@link DIMENSIONS}. */
  readonly active: readonly number[];
  /** Capacity per dimension (Infinity when not configured). */
  readonly capacity: Float64Array;
  /** The configured (provider) limit per dimension, before headroom (Infinity when not configured). */
  readonly limit: Float64Array;
  private readonly ratePerMs: Float64Array;
  private readonly level: Float64Array;
  private updatedAt: number;

  constructor(limits: readonly (number | undefined)[], headroom: number, now: number) {
    const n = DIMENSIONS.length;
    this.capacity = new Float64Array(n).fill(Infinity);
    this.limit = new Float64Array(n).fill(Infinity);
    this.ratePerMs = new Float64Array(n);
    this.level = new Float64Array(n).fill(Infinity);
    const active: number[] = [];
    for (let i = 0; i < n; i++) {
      const limit = limits[i];
      if (limit === undefined) continue;
      const capacity = limit * (1 - headroom);
      active.push(i);
      this.limit[i] = limit;
      this.capacity[i] = capacity;
      this.ratePerMs[i] = capacity / (WINDOW_MS[i] as number);
      this.level[i] = capacity;
    }
    this.active = Object.freeze(active);
    this.updatedAt = now;
  }

  /** Brings every level up to `now`. */
  refill(now: number): void {
    if (now <= this.updatedAt) return;
    for (const i of this.active) {
      this.level[i] = bucketTokens(this.level[i] as number, this.updatedAt, now, this.ratePerMs[i] as number, this.capacity[i] as number);
    }
    this.updatedAt = now;
  }

  /** Units available in dimension `i` at the last refill (may be negative). */
  levelOf(i: number): number {
    return this.level[i] as number;
  }

  /** True when every dimension has room for `cost` now (call {@link Buckets.refill} first). */
  fits(cost: Float64Array): boolean {
    for (const i of this.active) {
      const need = cost[i] as number;
      if (need > 0 && (this.level[i] as number) + UNIT_EPSILON < need) return false;
    }
    return true;
  }

  /** The first dimension `cost` asks more of than its capacity (it can never fit), or -1. */
  tooLargeIn(cost: Float64Array): number {
    for (const i of this.active) if ((cost[i] as number) > (this.capacity[i] as number) + UNIT_EPSILON) return i;
    return -1;
  }

  /** Takes `cost` from every dimension (the caller checked {@link Buckets.fits}, or is debiting). */
  take(cost: Float64Array, sign = 1): void {
    for (const i of this.active) {
      const next = (this.level[i] as number) - sign * (cost[i] as number);
      this.level[i] = next > (this.capacity[i] as number) ? (this.capacity[i] as number) : next;
    }
  }

  /** Adds `delta` units to dimension `i` (negative: a debit), never above capacity. */
  add(i: number, delta: number): void {
    const next = (this.level[i] as number) + delta;
    this.level[i] = next > (this.capacity[i] as number) ? (this.capacity[i] as number) : next;
  }

  /** Lowers dimension `i` to `level` if it is above it. */
  lowerTo(i: number, level: number): boolean {
    if ((this.level[i] as number) <= level) return false;
    this.level[i] = level;
    return true;
  }

  /** Ms until every dimension has room for `cost` plus `ahead` (0 when it fits now). */
  waitMs(cost: Float64Array, ahead: Float64Array | undefined): number {
    let wait = 0;
    for (const i of this.active) {
      const need = (cost[i] as number) + (ahead === undefined ? 0 : (ahead[i] as number));
      if (need <= 0) continue;
      const w = bucketWaitMs(this.level[i] as number, need, this.ratePerMs[i] as number);
      if (w > wait) wait = w;
    }
    return wait;
  }
}
