/** One entry of {@link INVALID_OUTCOMES}. */
export interface InvalidOutcome {
  /** What is wrong with it, for the test's name. */
  readonly label: string;
  /** The value a permit is released with. */
  readonly value: unknown;
  /** A part of the error message that names what is wrong. */
  readonly names: string;
}

/**
 * Values that are not an outcome, each with a label and the part of the error message that names
 * what is wrong: `permit.release(value)` must throw an `InvalidArgumentError` for every one, and
 * leave the permit as it was (still releasable, its budget not given back). The contract suites
 * use it; use it for your own permits too.
 *
 * @example
 * ```ts
 * for (const { label, value, names } of INVALID_OUTCOMES) {
 *   expect(() => permit.release(value as Outcome), label).toThrow(names);
 * }
 * ```
 */
export const INVALID_OUTCOMES: readonly InvalidOutcome[] = Object.freeze(
  [
    { label: 'a string', value: 'yes', names: 'outcome must be an outcome object' },
    { label: 'a number', value: 42, names: 'outcome must be an outcome object' },
    { label: 'null', value: null, names: 'outcome must be an outcome object' },
    { label: 'true', value: true, names: 'outcome must be an outcome object' },
    { label: 'an array', value: [{ ok: true }], names: 'outcome must be an outcome object' },
    { label: 'ok not a boolean', value: { ok: 'maybe' }, names: 'outcome.ok must be true, false or undefined' },
    { label: 'a negative duration', value: { ok: true, durationMs: -1 }, names: 'outcome.durationMs must be' },
    { label: 'a NaN duration', value: { ok: true, durationMs: Number.NaN }, names: 'outcome.durationMs must be' },
    { label: 'a negative cost', value: { cost: -1 }, names: 'outcome.cost must be' },
    { label: 'a NaN cost', value: { cost: Number.NaN }, names: 'outcome.cost must be' },
    { label: 'a string cost', value: { cost: '3' }, names: 'outcome.cost must be' },
    { label: 'usage not an object', value: { ok: true, usage: 12 }, names: 'outcome.usage must be an object' },
    { label: 'negative input tokens', value: { ok: true, usage: { inputTokens: -5 } }, names: 'outcome.usage.inputTokens must be' },
    { label: 'NaN output tokens', value: { ok: true, usage: { outputTokens: Number.NaN } }, names: 'outcome.usage.outputTokens must be' },
    {
      label: 'an unknown usage key',
      value: { ok: true, usage: { inputToken: 5 } },
      names: 'unknown usage key "outcome.usage.inputToken"; did you mean "outcome.usage.inputTokens"?',
    },
    { label: 'an unknown key', value: { ok: true, sucess: true }, names: 'unknown outcome key "sucess"' },
    { label: 'a misspelt key', value: { ok: true, durationMS: 5 }, names: 'unknown outcome key "durationMS"; did you mean "durationMs"?' },
  ].map((entry) => Object.freeze(entry)),
);
