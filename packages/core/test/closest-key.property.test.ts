import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { closestKey } from '@sluice/core';

const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
const key = fc.string({ unit: fc.constantFrom(...letters), minLength: 2, maxLength: 16 });

/** One edit of `s`: insert, delete, substitute a letter, or swap two neighbours. */
function edit(s: string, kind: number, at: number, letter: string): string {
  const i = at % (s.length + (kind === 0 ? 1 : 0));
  switch (kind) {
    case 0:
      return s.slice(0, i) + letter + s.slice(i);
    case 1:
      return s.slice(0, i) + s.slice(i + 1);
    case 2:
      return s.slice(0, i) + letter + s.slice(i + 1);
    default: {
      const j = Math.min(i, s.length - 2);
      return s.slice(0, j) + (s[j + 1] as string) + (s[j] as string) + s.slice(j + 2);
    }
  }
}

/** Edit distance of lower-cased strings, the plain dynamic programme (the reference). */
function distance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      row[j] = Math.min((d[i - 1] as number[])[j]! + 1, row[j - 1]! + 1, (d[i - 1] as number[])[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) row[j] = Math.min(row[j]!, (d[i - 2] as number[])[j - 2]! + 1);
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

describe('closestKey', () => {
  it('suggests the original of any one-edit typo when no other key is as close', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(key, { minLength: 1, maxLength: 8, selector: (k) => k.toLowerCase() }),
        fc.nat(),
        fc.integer({ min: 0, max: 3 }),
        fc.nat(),
        fc.constantFrom(...letters),
        (keys, pick, kind, at, letter) => {
          const original = keys[pick % keys.length] as string;
          const typo = edit(original, kind, at, letter);
          const mine = distance(typo, original);
          const unambiguous = keys.every((other) => other === original || distance(typo, other) > mine);
          fc.pre(unambiguous && typo.length > 0);
          expect(mine).toBeLessThanOrEqual(1);
          expect(closestKey(typo, keys)).toBe(original);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('never suggests a key farther than half the longer name, and always an existing key', () => {
    fc.assert(
      fc.property(fc.array(key, { maxLength: 8 }), key, (keys, typo) => {
        const suggestion = closestKey(typo, keys);
        if (suggestion === undefined) return;
        expect(keys).toContain(suggestion);
        expect(distance(typo, suggestion)).toBeLessThanOrEqual(Math.max(1, Math.floor(Math.max(typo.length, suggestion.length) / 2)));
      }),
    );
  });
});
