import type { Outcome, Permit } from './gate.js';
import { checkOutcome } from './validate.js';

/**
 * The base of a permit that settles exactly once: {@link ReleaseOncePermit.release} checks the
 * outcome (a bad one throws `InvalidArgumentError` naming the gate, before the once-guard, so it
 * always throws and leaves the permit releasable), then calls
 * {@link ReleaseOncePermit.settle} the first time only; later releases do nothing, so nothing is
 * ever refunded twice. Extend it in a custom gate whose release needs more than a count (the LLM
 * limiter's reservations do). The kernel's, the pipeline's and the breaker's permits write the same
 * guard out flat: they are allocated on every grant, and on V8 a constructor that calls `super`
 * measured about a third slower on the queued path (a binary semaphore's acquire + release,
 * 225 → 300 ns).
 *
 * @example
 * ```ts
 * class SlotPermit extends ReleaseOncePermit {
 *   constructor(private readonly pool: { free: number }) {
 *     super('slots');
 *   }
 *   protected settle(): void {
 *     this.pool.free++;
 *   }
 * }
 * ```
 */
export abstract class ReleaseOncePermit implements Permit {
  /** Always `true`: a permit, not a refusal. */
  readonly granted = true as const;
  private released = false;

  /** @param gate - the name of the gate it came from, used in the error of a bad outcome. */
  constructor(protected readonly gate: string) {}

  /** True once the permit was released (its {@link ReleaseOncePermit.settle} has run). */
  get isReleased(): boolean {
    return this.released;
  }

  /** Releases with `outcome` the first time; every later call only checks the outcome. */
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.settle(outcome);
  }

  /** Gives back or reconciles what the permit holds; called once, on the first release. */
  protected abstract settle(outcome: Outcome | undefined): void;
}
