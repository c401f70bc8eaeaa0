import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedKeyMap, KEY_MAP_SCAN } from '../src/index.js';

/** A stand-in for a per-key limiter: its busy and idle flags are set by the test. */
interface Held {
  readonly key: string;
  readonly serial: number;
  busy: boolean;
  idle: boolean;
  evictions: number;
}

type Step =
  | { readonly kind: 'add'; readonly key: number }
  | { readonly kind: 'busy'; readonly key: number; readonly on: boolean }
  | { readonly kind: 'idle'; readonly key: number; readonly on: boolean }
  | { readonly kind: 'delete'; readonly key: number };

function steps(keys: number): fc.Arbitrary<Step[]> {
  const key = fc.integer({ min: 0, max: keys - 1 });
  return fc.array(
    fc.oneof(
      { weight: 5, arbitrary: key.map((k): Step => ({ kind: 'add', key: k })) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('busy' as const), key, on: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('idle' as const), key, on: fc.boolean() }) },
      { weight: 1, arbitrary: key.map((k): Step => ({ kind: 'delete', key: k })) },
    ),
    { maxLength: 300, size: 'max' },
  );
}

/** Runs `plan` on a map of `maxKeys`, checking the invariants after every step. */
function check(maxKeys: number, plan: readonly Step[]): void {
  let serial = 0;
  const evicted: Held[] = [];
  const map = new BoundedKeyMap<Held>({
    maxKeys,
    isBusy: (held) => held.busy,
    isIdle: (held) => held.idle,
    onEvict: (held, key, idle) => {
      expect(held.busy).toBe(false); // a busy key is never evicted
      expect(key).toBe(held.key);
      expect(idle).toBe(held.idle);
      expect(map.has(key)).toBe(false); // it left the map before the hook runs
      held.evictions++;
      evicted.push(held);
    },
  });
  const make = (key: string): Held => ({ key, serial: serial++, busy: false, idle: true, evictions: 0 });
  for (const step of plan) {
    const key = `k${step.key}`;
    if (step.kind === 'busy' || step.kind === 'idle') {
      const held = map.peek(key);
      if (held !== undefined) held[step.kind] = step.on;
      continue;
    }
    if (step.kind === 'delete') {
      const held = map.delete(key);
      expect(map.has(key)).toBe(false);
      if (held !== undefined) expect(held.key).toBe(key);
      continue;
    }
    const before = [...map.keys()].map((k) => map.peek(k) as Held);
    const wasHeld = map.peek(key);
    const refusedBefore = map.stats().refused;
    const evictedBefore = evicted.length;
    const result = map.getOrAdd(key, make);
    const full = before.length >= maxKeys;
    if (wasHeld !== undefined) {
      expect(result).toBe(wasHeld); // a held key is returned as it is
    } else if (full && before.every((held) => held.busy)) {
      expect(result).toBeUndefined(); // refused only when every held key is busy
      expect(map.stats().refused).toBe(refusedBefore + 1);
    } else {
      expect(result).toBeDefined();
      expect((result as Held).serial).toBe(serial - 1); // a key seen again (after eviction) starts fresh
      expect(evicted.length).toBe(evictedBefore + (full ? 1 : 0));
      if (full && maxKeys <= KEY_MAP_SCAN && before.some((held) => !held.busy && held.idle)) {
        // within one scan an idle key is always found before a merely not-busy one
        expect((evicted.at(-1) as Held).idle).toBe(true);
      }
    }
    expect(map.size).toBeLessThanOrEqual(maxKeys);
    expect(before.filter((held) => held.busy && map.peek(held.key) !== held)).toEqual([]); // busy keys stay
  }
  expect(evicted.filter((held) => held.evictions !== 1)).toEqual([]);
  const stats = map.stats();
  expect(stats.keys).toBe(map.size);
  expect(stats.evicted).toBe(evicted.length);
  expect(stats.evictedNotIdle).toBe(evicted.filter((held) => !held.idle).length);
  expect(stats.added).toBe(serial);
}

describe('BoundedKeyMap (fast-check)', () => {
  it('refuses a new key only when every held key is busy, never holds more than maxKeys and never evicts a busy key', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }).chain((maxKeys) =>
          fc.tuple(
            fc.constant(maxKeys),
            fc.integer({ min: maxKeys, max: maxKeys * 3 }).chain((keys) => fc.tuple(fc.constant(keys), steps(keys))),
          ),
        ),
        ([maxKeys, [, plan]]) => check(maxKeys, plan),
      ),
      { numRuns: 300 },
    );
  });

  it('holds the same beyond one scan: maxKeys above 64, most keys busy', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: KEY_MAP_SCAN + 1, max: 150 }),
        fc.array(fc.integer({ min: 0, max: 149 }), { maxLength: 10 }),
        (maxKeys, freeKeys) => {
          const plan: Step[] = [];
          for (let k = 0; k < maxKeys; k++) plan.push({ kind: 'add', key: k }, { kind: 'busy', key: k, on: true });
          for (const k of freeKeys) plan.push({ kind: 'busy', key: k, on: false });
          for (let k = maxKeys; k < maxKeys + 20; k++) plan.push({ kind: 'add', key: k });
          check(maxKeys, plan);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('BoundedKeyMap', () => {
  it('gives a recently used key a second chance and evicts the oldest idle key that was not used', () => {
    const closed: string[] = [];
    const map = new BoundedKeyMap<string>({ maxKeys: 3, isBusy: () => false, onEvict: (value) => closed.push(value) });
    for (const key of ['a', 'b', 'c']) map.getOrAdd(key, (k) => k);
    map.get('a'); // used: spared once
    map.getOrAdd('d', (k) => k);
    expect(closed).toEqual(['b']);
    expect([...map.keys()]).toEqual(['c', 'a', 'd']);
  });

  it('evicts a recently used idle key when every key was used since the last scan', () => {
    const closed: string[] = [];
    const map = new BoundedKeyMap<string>({ maxKeys: 2, isBusy: () => false, onEvict: (value) => closed.push(value) });
    map.getOrAdd('a', (k) => k);
    map.getOrAdd('b', (k) => k);
    map.get('a');
    map.get('b');
    expect(map.getOrAdd('c', (k) => k)).toBe('c');
    expect(closed).toEqual(['a']);
  });

  it('rejects bad options naming the option, and keys that are not strings', () => {
    expect(() => new BoundedKeyMap({ isBusy: () => false, maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new BoundedKeyMap({ isBusy: () => false, maxKeys: 1.5 })).toThrow(/maxKeys/);
    expect(() => new BoundedKeyMap({} as never)).toThrow(/isBusy must be a function/);
    expect(() => new BoundedKeyMap({ isBusy: () => false, onEvict: 3 as never })).toThrow(/onEvict must be a function or undefined/);
    expect(() => new BoundedKeyMap({ isBusy: () => false, isIdle: 'x' as never })).toThrow(/isIdle/);
    expect(() => new BoundedKeyMap({ isBusy: () => false, maxkeys: 3 } as never)).toThrow(/maxkeys/);
    const map = new BoundedKeyMap<number>({ isBusy: () => false });
    expect(map.maxKeys).toBe(10_000);
    expect(() => map.getOrAdd(7 as never, () => 1)).toThrow(/key must be a string/);
  });

  it('delete and clear hand the values back without calling onEvict', () => {
    let hooks = 0;
    const map = new BoundedKeyMap<number>({ maxKeys: 4, isBusy: () => false, onEvict: () => hooks++ });
    map.getOrAdd('a', () => 1);
    map.getOrAdd('b', () => 2);
    expect(map.delete('a')).toBe(1);
    expect(map.delete('a')).toBeUndefined();
    expect(map.clear()).toEqual([2]);
    expect(map.size).toBe(0);
    expect(hooks).toBe(0);
  });
});
