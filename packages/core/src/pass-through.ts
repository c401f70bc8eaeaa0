import type { Clock } from './clock.js';
import { EMPTY_PERMIT, GateBase } from './gate-base.js';
import type { Permit } from './gate.js';
import { checkName, checkOptions, optionKeys } from './validate.js';

/** Options of {@link PassThroughGate}. */
export interface PassThroughOptions {
  /** Name used in metrics; default `"pass-through"`. */
  readonly name?: string;
  /** Time source (for `run` durations); default `systemClock`. */
  readonly clock?: Clock;
}

const PASS_THROUGH_KEYS = optionKeys<PassThroughOptions>()({ name: true, clock: true });

/**
 * A gate that admits everything at once, with unbounded capacity, and counts what passed. Use it
 * as a placeholder stage, to measure a pipeline's own overhead, or to observe traffic through
 * the same `onAdmit` events and stats as a real gate.
 *
 * @example
 * ```ts
 * const audit = new PassThroughGate({ name: 'audit' });
 * audit.onAdmit((count) => console.log(`admitted ${count}`));
 * const gate = pipeline(audit, limiter);
 * ```
 */
export class PassThroughGate extends GateBase {
  /** Always `Infinity`. */
  readonly capacity = Infinity;

  constructor(options: PassThroughOptions = {}) {
    const checked = checkOptions('PassThroughGate', options, PASS_THROUGH_KEYS);
    super({ name: checkName('PassThroughGate', checked.name, 'pass-through'), clock: checked.clock, queueLimit: 0 });
  }

  protected tryTake(): boolean {
    return true;
  }

  protected availableUnits(): number {
    return Infinity;
  }

  protected override permitFor(): Permit {
    return EMPTY_PERMIT;
  }
}

/** Creates a {@link PassThroughGate}. */
export function passThrough(options?: PassThroughOptions): PassThroughGate {
  return new PassThroughGate(options);
}
