import { describe, expect, it } from 'vitest';
import { ClosedError, LimitExceededError, TooLargeError, type Permit } from '@sluice/core';
import { KeyedLimiter, TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

const forms = {
  create: (maxKeys: number, clock: VirtualClock) =>
    new KeyedLimiter({ create: () => new TokenBucket({ ratePerSecond: 1, burst: 2, clock }), maxKeys, clock }),
  tokenBucket: (maxKeys: number, clock: VirtualClock) =>
    new KeyedLimiter<TokenBucket>({ tokenBucket: { ratePerSecond: 1, burst: 2 }, maxKeys, clock }),
};

describe.each(Object.keys(forms) as (keyof typeof forms)[])('KeyedLimiter (%s)', (form) => {
  function keyed(maxKeys: number, clock = new VirtualClock()) {
    return { clock, limiter: forms[form](maxKeys, clock) };
  }

  it('keeps one limiter per key', () => {
    const { limiter } = keyed(10);
    expect(limiter.tryAcquire('a', 2).granted).toBe(true);
    expect(limiter.tryAcquire('a').granted).toBe(false);
    expect(limiter.tryAcquire('b').granted).toBe(true);
    expect(limiter.size).toBe(2);
    expect(limiter.statsFor('a')).toMatchObject({ admitted: 1, refused: 1 });
    expect(limiter.get('b')).toBeInstanceOf(TokenBucket);
    expect(limiter.get('c')).toBeUndefined();
  });

  it('stays within maxKeys however many keys rotate through, evicting idle keys first', async () => {
    const { clock, limiter } = keyed(100);
    for (let i = 0; i < 10_000; i++) {
      limiter.tryAcquire(`attacker-${i}`);
      await clock.advance(2_000); // each key refills to full: idle
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
    expect(limiter.stats()).toMatchObject({ created: 10_000, evicted: 9_900, evictedBusy: 0 });
  });

  it('prefers an idle key over a busy one, and gives a recently used key a second chance', async () => {
    const { clock, limiter } = keyed(3);
    limiter.tryAcquire('busy', 2); // not idle: its bucket is empty
    limiter.tryAcquire('idle-old');
    limiter.tryAcquire('recent');
    await clock.advance(5_000); // idle-old and recent refill; busy refilled too but is then used again
    limiter.tryAcquire('busy', 2);
    limiter.tryAcquire('recent'); // used again: second chance
    limiter.tryAcquire('newcomer');
    expect([...limiter.keys()].sort()).toEqual(['busy', 'newcomer', 'recent']);
    expect(limiter.stats().evictedBusy).toBe(0);
  });

  it('never evicts a key with waiters; refuses a new key when every key has waiters', async () => {
    const { limiter } = keyed(2);
    limiter.tryAcquire('a', 2);
    limiter.tryAcquire('b', 2);
    const waitA = limiter.acquire('a');
    const waitB = limiter.acquire('b');
    const refusal = limiter.tryAcquire('c');
    expect(refusal).toMatchObject({ granted: false, reason: 'exhausted', gate: 'keyed' });
    await expect(limiter.acquire('c')).rejects.toBeInstanceOf(LimitExceededError);
    expect(limiter.stats().refusedNoRoom).toBe(2);
    limiter.close();
    await expect(waitA).rejects.toBeInstanceOf(ClosedError);
    await expect(waitB).rejects.toBeInstanceOf(ClosedError);
  });

  it('evicts a busy key without waiters when no idle key is found, and counts it', () => {
    const { limiter } = keyed(2);
    limiter.tryAcquire('a', 2);
    limiter.tryAcquire('b', 2);
    expect(limiter.tryAcquire('c').granted).toBe(true);
    expect(limiter.stats()).toMatchObject({ evicted: 1, evictedBusy: 1, keys: 2 });
  });

  it('delete closes the key’s gate; a key seen again starts fresh', async () => {
    const { limiter } = keyed(5);
    limiter.tryAcquire('a', 2);
    const waiting = limiter.acquire('a');
    expect(limiter.delete('a')).toBe(true);
    await expect(waiting).rejects.toBeInstanceOf(ClosedError);
    expect(limiter.delete('a')).toBe(false);
    expect(limiter.tryAcquire('a', 2).granted).toBe(true);
  });

  it('gate(key) is a Gate for one key; run goes through the key’s limiter', async () => {
    const { limiter } = keyed(5);
    const gate = limiter.gate('tenant-7');
    expect(gate.name).toBe('keyed[tenant-7]');
    expect(await gate.run(() => 'ok')).toBe('ok');
    expect(await limiter.run('tenant-7', () => 'again')).toBe('again');
    expect(limiter.statsFor('tenant-7')).toMatchObject({ admitted: 2 });
    expect((gate.tryAcquire() as { granted: boolean }).granted).toBe(false);
    gate.close();
    expect(limiter.has('tenant-7')).toBe(false);
    expect(gate.tryAcquire()).toMatchObject({ granted: false, reason: 'closed' });
  });

  it('rejects keys that are not strings and a create that returns no gate', () => {
    const { limiter } = keyed(5);
    expect(() => limiter.tryAcquire(5 as never)).toThrow(/key must be a string; received 5 \(number\)/);
    const broken = new KeyedLimiter({ create: () => ({}) as never });
    expect(() => broken.tryAcquire('x')).toThrow(/create\(key\) must be a Gate \(an object with name, tryAcquire and acquire\)/);
  });

  it('refuses everything once closed', async () => {
    const { limiter } = keyed(5);
    limiter.close();
    expect(limiter.tryAcquire('a')).toMatchObject({ granted: false, reason: 'closed' });
    await expect(limiter.acquire('a')).rejects.toBeInstanceOf(ClosedError);
  });

  it('holds a permit per key independently', async () => {
    const { limiter } = keyed(5);
    const permits = ['a', 'b', 'c'].map((key) => limiter.tryAcquire(key) as Permit);
    expect(permits.every((p) => p.granted)).toBe(true);
  });
});

describe('KeyedLimiter tokenBucket (the compact form)', () => {
  it('takes exactly one of create and tokenBucket, and checks the bucket options at construction', () => {
    expect(() => new KeyedLimiter({})).toThrow(/create must be a function \(key\) => Gate, or tokenBucket options instead/);
    expect(() => new KeyedLimiter({ create: 'x' as never })).toThrow(/create must be a function/);
    expect(
      () =>
        new KeyedLimiter({ create: () => new TokenBucket({ ratePerSecond: 1, burst: 1 }), tokenBucket: { ratePerSecond: 1, burst: 1 } }),
    ).toThrow(/create must be undefined when tokenBucket is given/);
    expect(() => new KeyedLimiter({ tokenBucket: { ratePerSecond: 1, burst: 0 } })).toThrow(/burst/);
    expect(() => new KeyedLimiter({ tokenBucket: { ratePerSecond: -1, burst: 2 } })).toThrow(/ratePerSecond/);
    expect(() => new KeyedLimiter({ tokenBucket: 5 as never })).toThrow(/tokenBucket must be TokenBucketOptions/);
  });

  it('names refusals after the bucket options (else the keyed limiter) and keeps the key out of the name', () => {
    const clock = new VirtualClock();
    const named = new KeyedLimiter({ tokenBucket: { ratePerSecond: 1, burst: 1, name: 'per-ip' }, clock });
    named.tryAcquire('203.0.113.7');
    expect(named.tryAcquire('203.0.113.7')).toMatchObject({ granted: false, reason: 'exhausted', gate: 'per-ip', retryAfterMs: 1_000 });
    const unnamed = new KeyedLimiter({ tokenBucket: { ratePerSecond: 2, burst: 1 }, clock, name: 'clients' });
    unnamed.tryAcquire('a');
    expect(unnamed.tryAcquire('a')).toMatchObject({ gate: 'clients', retryAfterMs: 500 });
    expect(() => unnamed.tryAcquire('a', 2)).toThrow(TooLargeError);
  });

  it('a key keeps its tokens when it gets its real bucket (a wait), and a key that refilled is evicted first', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLimiter<TokenBucket>({ tokenBucket: { ratePerSecond: 1, burst: 3 }, maxKeys: 2, clock });
    expect(keyed.tryAcquire('a', 3).granted).toBe(true);
    const waiting = keyed.acquire('a', 2); // 2 s of refill: needs the real bucket
    expect(keyed.get('a')).toBeInstanceOf(TokenBucket);
    expect(keyed.statsFor('a')).toMatchObject({ admitted: 1, waiting: 1, available: 0 });
    expect(keyed.tryAcquire('b').granted).toBe(true);
    await clock.advance(2_000);
    await expect(waiting).resolves.toMatchObject({ granted: true });
    await clock.advance(5_000); // both full again
    keyed.tryAcquire('a'); // used: a second chance
    expect(keyed.tryAcquire('c').granted).toBe(true);
    expect([...keyed.keys()].sort()).toEqual(['a', 'c']);
    expect(keyed.stats()).toMatchObject({ evicted: 1, evictedBusy: 0 });
  });
});
