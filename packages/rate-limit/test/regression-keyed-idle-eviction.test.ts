import { VirtualClock } from '@sluice/testing';
import { describe, expect, it } from 'vitest';
import { KeyedLimiter, TokenBucket } from '../src/index.js';

describe('KeyedLimiter: a full map of idle keys makes room for a new key', () => {
  it.each([10, 64, 65, 100, 1000])('maxKeys %i, every key idle but used twice: a new key is admitted', (maxKeys) => {
    const clock = new VirtualClock();
    const keyed = new KeyedLimiter({ maxKeys, clock, create: () => new TokenBucket({ ratePerSecond: 1, burst: 10, clock }) });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < maxKeys; i++) {
        const taken = keyed.tryAcquire(`k${i}`);
        expect(taken.granted).toBe(true);
        if (taken.granted) taken.release();
      }
    }
    clock.advance(60_000); // every bucket refilled: nothing is in use
    expect(keyed.size).toBe(maxKeys);
    expect(keyed.tryAcquire('new-key').granted).toBe(true);
    expect(keyed.stats().refusedNoRoom).toBe(0);
    expect(keyed.size).toBe(maxKeys);
    expect(keyed.has('new-key')).toBe(true);
  });
});
