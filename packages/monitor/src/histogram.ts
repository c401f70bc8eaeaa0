import { InvalidArgumentError, checkNumber, checkOptions, optionKeys } from '@sluice/core';

/** Options of {@link LogLinearHistogram}. */
export interface LogLinearHistogramOptions {
  /**
   * Linear sub-buckets per power of two, a power of two from 2 to 256; default 16. A recorded
   * value lands in a bucket whose width is at most 1/`subBuckets` of its lower bound, so
   * percentiles are within that relative error (6.25 % by default).
   */
  readonly subBuckets?: number;
  /** Smallest value told apart from 0, ms; default 0.001 (1 µs). Values below it count as 0. */
  readonly lowestMs?: number;
  /** Largest value told apart, ms; default 86,400,000 (a day). Larger values land in the top bucket. */
  readonly highestMs?: number;
}

const HISTOGRAM_KEYS = optionKeys<LogLinearHistogramOptions>()({ subBuckets: true, lowestMs: true, highestMs: true });

/**
 * A fixed-memory histogram of durations (ms) with log-linear buckets: each power of two is split
 * into `subBuckets` equal parts, so the relative error is bounded (≤ 1/`subBuckets`) from
 * microseconds to a day in a few hundred counters. Recording is O(1) and allocates nothing;
 * histograms with the same options merge by adding counters.
 *
 * @example
 * ```ts
 * const waits = new LogLinearHistogram();
 * for (const ms of [1, 2, 3, 250]) waits.record(ms);
 * waits.percentile(50); // ≈ 2
 * ```
 */
export class LogLinearHistogram {
  /** Sub-buckets per power of two. */
  readonly subBuckets: number;
  /** Smallest value told apart from 0, ms. */
  readonly lowestMs: number;
  /** Largest value told apart, ms. */
  readonly highestMs: number;
  private readonly powers: number;
  private readonly counts: Float64Array;
  private total = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;

  /** @throws InvalidArgumentError naming a bad option. */
  constructor(options: LogLinearHistogramOptions = {}) {
    const o = checkOptions('LogLinearHistogram', options, HISTOGRAM_KEYS);
    const subBuckets = checkNumber('LogLinearHistogram', 'subBuckets', o.subBuckets ?? 16, { min: 2, max: 256, integer: true });
    if ((subBuckets & (subBuckets - 1)) !== 0) {
      throw new InvalidArgumentError('LogLinearHistogram', 'subBuckets', 'a power of two', subBuckets);
    }
    this.subBuckets = subBuckets;
    this.lowestMs = checkNumber('LogLinearHistogram', 'lowestMs', o.lowestMs ?? 0.001, { min: 0, exclusiveMin: true });
    this.highestMs = checkNumber('LogLinearHistogram', 'highestMs', o.highestMs ?? 86_400_000, { min: this.lowestMs * 2 });
    // bucket 0 holds zeros (below lowestMs); then `powers` octaves of `subBuckets` each
    this.powers = Math.ceil(Math.log2(this.highestMs / this.lowestMs)) + 1;
    this.counts = new Float64Array(1 + this.powers * subBuckets);
  }

  /** Values recorded. */
  get count(): number {
    return this.total;
  }

  /** Sum of the values recorded, ms (exact). */
  get sum(): number {
    return this.sumMs;
  }

  /** Smallest value recorded, ms (`NaN` when empty). */
  get min(): number {
    return this.total === 0 ? Number.NaN : this.minMs;
  }

  /** Largest value recorded, ms (`NaN` when empty). */
  get max(): number {
    return this.total === 0 ? Number.NaN : this.maxMs;
  }

  /** Mean of the values recorded, ms (`NaN` when empty). */
  get mean(): number {
    return this.total === 0 ? Number.NaN : this.sumMs / this.total;
  }

  /** Number of buckets (fixed at construction). */
  get bucketCount(): number {
    return this.counts.length;
  }

  /**
   * Records `valueMs` (`count` times, a whole number). Negative values count as 0; NaN and
   * infinite values, and counts that are not whole numbers ≥ 1, are ignored. O(1), no allocation.
   */
  record(valueMs: number, count = 1): void {
    if (!(valueMs < Infinity) || !(count >= 1) || count !== Math.floor(count)) return;
    const v = valueMs > 0 ? valueMs : 0;
    const index = this.indexOf(v);
    this.counts[index] = (this.counts[index] as number) + count;
    this.total += count;
    this.sumMs += v * count;
    if (v < this.minMs) this.minMs = v;
    if (v > this.maxMs) this.maxMs = v;
  }

  /** The bucket `valueMs` lands in. */
  indexOf(valueMs: number): number {
    const scaled = valueMs / this.lowestMs;
    if (!(scaled >= 1)) return 0;
    let exponent = Math.floor(Math.log2(scaled));
    if (exponent >= this.powers) return this.counts.length - 1;
    let base = 2 ** exponent;
    // Math.log2 can be off by one ulp at exact powers of two
    if (base > scaled) {
      exponent--;
      base /= 2;
    } else if (base * 2 <= scaled) {
      exponent++;
      base *= 2;
      if (exponent >= this.powers) return this.counts.length - 1;
    }
    const sub = Math.min(this.subBuckets - 1, Math.floor(((scaled - base) / base) * this.subBuckets));
    return 1 + exponent * this.subBuckets + sub;
  }

  /** Lower bound of bucket `index`, ms (0 for the zero bucket). */
  lowerBoundOf(index: number): number {
    if (index <= 0) return 0;
    const exponent = Math.floor((index - 1) / this.subBuckets);
    const sub = (index - 1) % this.subBuckets;
    return this.lowestMs * 2 ** exponent * (1 + sub / this.subBuckets);
  }

  /** Upper bound (exclusive) of bucket `index`, ms; the zero bucket's is `lowestMs`. */
  upperBoundOf(index: number): number {
    if (index <= 0) return this.lowestMs;
    if (index >= this.counts.length - 1) return Infinity;
    return this.lowerBoundOf(index + 1);
  }

  /**
   * The `p`-th percentile (0–100), ms: the midpoint of the bucket holding the nearest-rank
   * sample, clamped to the recorded min and max — so it is within one bucket (≤ 1/`subBuckets`
   * relative) of the exact value. `NaN` when empty.
   */
  percentile(p: number): number {
    if (this.total === 0) return Number.NaN;
    // p × total / 100, not p / 100 × total: 7 / 100 × 100 is 7.000000000000001 and would round up a rank
    const rank = Math.max(1, Math.ceil((Math.min(100, Math.max(0, p)) * this.total) / 100));
    let seen = 0;
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      seen += counts[i] as number;
      if (seen >= rank) {
        if (i === 0) return Math.max(0, this.minMs);
        const upper = this.upperBoundOf(i);
        const middle = upper === Infinity ? this.maxMs : (this.lowerBoundOf(i) + upper) / 2;
        return Math.min(this.maxMs, Math.max(this.minMs, middle));
      }
    }
    return this.maxMs;
  }

  /**
   * Values recorded at or below `boundMs` (for Prometheus `le` buckets): every value when
   * `boundMs` ≥ the largest recorded, else the buckets that end at or below it — so it never
   * overcounts, and is exact when `boundMs` is a bucket edge not hit exactly.
   */
  countAtOrBelow(boundMs: number): number {
    if (this.total === 0) return 0;
    if (boundMs >= this.maxMs) return this.total;
    let n = 0;
    const counts = this.counts;
    for (let i = 0; i < counts.length; i++) {
      if (this.upperBoundOf(i) > boundMs) break;
      n += counts[i] as number;
    }
    return n;
  }

  /**
   * {@link LogLinearHistogram.countAtOrBelow} for many bounds (ascending) in one pass over the
   * buckets: what a Prometheus histogram's `le` series need.
   */
  cumulativeCounts(boundsMs: readonly number[]): number[] {
    const out: number[] = [];
    let n = 0;
    let i = 0;
    const counts = this.counts;
    for (const bound of boundsMs) {
      if (this.total === 0) {
        out.push(0);
        continue;
      }
      if (bound >= this.maxMs) {
        out.push(this.total);
        continue;
      }
      while (i < counts.length && this.upperBoundOf(i) <= bound) n += counts[i++] as number;
      out.push(n);
    }
    return out;
  }

  /** Adds `other`'s counts to this one. @throws InvalidArgumentError when their layouts differ. */
  merge(other: LogLinearHistogram): void {
    if (other.subBuckets !== this.subBuckets || other.lowestMs !== this.lowestMs || other.counts.length !== this.counts.length) {
      throw new InvalidArgumentError(
        'LogLinearHistogram.merge',
        'other',
        'a histogram with the same subBuckets, lowestMs and highestMs',
        other,
      );
    }
    if (other.total === 0) return;
    const counts = this.counts;
    const from = other.counts;
    for (let i = 0; i < counts.length; i++) counts[i] = (counts[i] as number) + (from[i] as number);
    this.total += other.total;
    this.sumMs += other.sumMs;
    if (other.minMs < this.minMs) this.minMs = other.minMs;
    if (other.maxMs > this.maxMs) this.maxMs = other.maxMs;
  }

  /** Forgets everything recorded (memory is kept). */
  reset(): void {
    if (this.total === 0) return;
    this.counts.fill(0);
    this.total = 0;
    this.sumMs = 0;
    this.minMs = Infinity;
    this.maxMs = -Infinity;
  }

  /** Non-empty buckets in order: `[upperBoundMs, cumulativeCount]`. */
  *buckets(): IterableIterator<readonly [number, number]> {
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      const c = this.counts[i] as number;
      if (c === 0) continue;
      seen += c;
      yield [this.upperBoundOf(i), seen] as const;
    }
  }
}
