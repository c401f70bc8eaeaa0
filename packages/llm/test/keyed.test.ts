import { describe, expect, it } from 'vitest';
import { ClosedError, InvalidArgumentError, LimitExceededError, TooLargeError, type Refusal } from '@sluice/core';
import { VirtualClock, track } from '@sluice/testing';
import { KeyedLlmLimiter } from '../src/router.js';
import type { LlmPermit } from '../src/llm-limiter.js';

const granted = (result: LlmPermit | Refusal): LlmPermit => {
  if (!result.granted) throw new Error(`expected a permit, got a refusal (${result.reason})`);
  return result;
};

describe('KeyedLlmLimiter: one budget per key', () => {
  it('keeps a separate budget for every key, on the shared clock', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 1_200 }, clock }); // 20 tokens/s per key
    expect(keyed.tryAcquire('alice', { inputTokens: 1_000 }).granted).toBe(true);
    expect(keyed.tryAcquire('alice', { inputTokens: 500 })).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: 15_000 });
    expect(keyed.tryAcquire('bob', { inputTokens: 1_000 }).granted).toBe(true); // bob's budget is his own
    expect(keyed.limiter('alice').remaining('tokens')).toBe(200);
    expect(keyed.limiter('bob').remaining('tokens')).toBe(200);
    // the key's limiter runs on the keyed limiter's clock
    const waiting = track(keyed.acquire('alice', { inputTokens: 500 }));
    await clock.advance(14_999);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.state).toBe('fulfilled');
    keyed.close();
  });

  it('makes a limiter lazily, once per key, from a function of the key', () => {
    const seen: string[] = [];
    const keyed = new KeyedLlmLimiter({
      limits: (key) => {
        seen.push(key);
        return key.startsWith('gold:') ? { tokensPerMinute: 10_000 } : { tokensPerMinute: 1_000 };
      },
      clock: new VirtualClock(),
    });
    expect(keyed.size).toBe(0);
    expect(keyed.has('gold:acme')).toBe(false);
    expect(seen).toEqual([]);
    keyed.tryAcquire('gold:acme', { inputTokens: 10 });
    keyed.tryAcquire('gold:acme', { inputTokens: 10 });
    keyed.tryAcquire('free:bob', { inputTokens: 10 });
    expect(seen).toEqual(['gold:acme', 'free:bob']);
    expect(keyed.size).toBe(2);
    expect(keyed.limiter('gold:acme').capacityOf('tokens')).toBe(10_000);
    expect(keyed.limiter('free:bob').capacityOf('tokens')).toBe(1_000);
    // the key is not put in the limiter's name (it may be an API key)
    expect(keyed.limiter('free:bob').name).toBe('keyed-llm');
    expect(keyed.stats()).toMatchObject({ keys: 2, created: 2, evicted: 0 });
    keyed.close();
  });

  it('forwards observe to the key: a 429 pauses that key only', () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { requestsPerMinute: 100, tokensPerMinute: 10_000 }, clock });
    const permit = granted(keyed.tryAcquire('a', { inputTokens: 100 }));
    const observation = keyed.observe('a', { status: 429, headers: { 'retry-after': '5', 'x-ratelimit-remaining-tokens': 'garbage' } });
    expect(observation?.triage).toMatchObject({ action: 'retry-after' });
    permit.release({ cost: 0 });
    expect(keyed.limiter('a').isPaused).toBe(true);
    expect(keyed.tryAcquire('a', { inputTokens: 1 }).granted).toBe(false);
    expect(keyed.tryAcquire('b', { inputTokens: 1 }).granted).toBe(true);
    clock.advanceSync(5_000);
    expect(keyed.tryAcquire('a', { inputTokens: 1 }).granted).toBe(true);
    keyed.close();
  });

  it('closes every key: waiters reject, later calls refuse', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600 }, clock });
    keyed.tryAcquire('a', 600);
    const waiting = track(keyed.acquire('a', 100));
    keyed.close();
    keyed.close();
    await clock.advance(0);
    expect(waiting.error).toBeInstanceOf(ClosedError);
    expect(keyed.size).toBe(0);
    expect(keyed.tryAcquire('a', 1)).toMatchObject({ granted: false, reason: 'closed' });
    await expect(keyed.acquire('b', 1)).rejects.toBeInstanceOf(ClosedError);
    expect(() => keyed.limiter('a')).toThrow(ClosedError);
    expect(keyed.observe('a', {})).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('KeyedLlmLimiter: a bounded map', () => {
  it('never evicts a key with a waiter or a permit outstanding; refuses a new key instead', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600 }, maxKeys: 2, clock });
    keyed.tryAcquire('waiter', 600);
    const waiting = track(keyed.acquire('waiter', 300)); // 30 s of refill
    const held = granted(keyed.tryAcquire('holder', 10));
    await clock.advance(0);

    expect(keyed.tryAcquire('newcomer', 1)).toMatchObject({ granted: false, reason: 'exhausted', gate: 'keyed-llm' });
    await expect(keyed.acquire('newcomer', 1)).rejects.toBeInstanceOf(LimitExceededError);
    expect(() => keyed.limiter('newcomer')).toThrow(LimitExceededError);
    expect(keyed.stats()).toMatchObject({ keys: 2, evicted: 0, refusedNoRoom: 3 });
    expect(keyed.has('waiter') && keyed.has('holder')).toBe(true);

    held.release({ ok: true, usage: { totalTokens: 10 } });
    expect(keyed.tryAcquire('newcomer', 1).granted).toBe(true); // room made by evicting 'holder'
    expect(keyed.has('holder')).toBe(false);
    expect(keyed.has('waiter')).toBe(true);
    expect(keyed.stats()).toMatchObject({ evicted: 1, evictedBusy: 1 }); // its budget was not full yet

    await clock.advance(30_000);
    expect(waiting.state).toBe('fulfilled');
    keyed.close();
  });

  it('evicts an idle key (budget full again) before a partly used one, least recently used first', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 6_000 }, maxKeys: 2, clock });
    granted(keyed.tryAcquire('used', 3_000)).release({ ok: true, usage: { totalTokens: 3_000 } });
    keyed.limiter('idle'); // made, never used: full budget
    const use = (key: string): void => granted(keyed.tryAcquire(key, 1)).release(); // the reservation stands
    use('third'); // the least recently used is 'used', but it is not idle
    expect([keyed.has('used'), keyed.has('idle'), keyed.has('third')]).toEqual([true, false, true]);
    expect(keyed.stats()).toMatchObject({ evicted: 1, evictedBusy: 0 });
    // a minute later both are full again: the least recently used goes
    await clock.advance(60_000);
    use('fourth');
    expect([keyed.has('used'), keyed.has('third'), keyed.has('fourth')]).toEqual([false, true, true]);
    // using a key makes it the most recently used
    await clock.advance(60_000);
    use('third');
    await clock.advance(60_000);
    use('fifth');
    expect([keyed.has('third'), keyed.has('fourth'), keyed.has('fifth')]).toEqual([true, false, true]);
    keyed.close();
  });

  it('does not evict a paused key while an idle one is there', () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 6_000 }, maxKeys: 2, clock });
    keyed.observe('paused', { status: 429, headers: { 'retry-after-ms': '10000' } });
    keyed.limiter('idle');
    keyed.tryAcquire('new', 1);
    expect([keyed.has('paused'), keyed.has('idle')]).toEqual([true, false]);
    keyed.close();
  });

  it('counts an acquire from the call until it settles: an aborted or refused one frees its key', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600 }, maxKeys: 1, clock });
    granted(keyed.tryAcquire('a', 600)).release();
    const controller = new AbortController();
    const waiting = track(keyed.acquire('a', 100, { signal: controller.signal }));
    expect(keyed.tryAcquire('b', 1).granted).toBe(false); // 'a' has a waiter
    controller.abort(new Error('gave up'));
    await clock.advance(0);
    expect(waiting.state).toBe('rejected');
    // a request too large never counts
    await expect(keyed.acquire('a', { inputTokens: 700 })).rejects.toBeInstanceOf(TooLargeError);
    expect(() => keyed.tryAcquire('a', { inputTokens: 700 })).toThrow(TooLargeError);
    expect(keyed.tryAcquire('b', 1).granted).toBe(true);
    expect(keyed.has('a')).toBe(false);
    keyed.close();
  });

  it('releases a permit once however often it is released, and a probe holds nothing', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600 }, maxKeys: 1, clock });
    const permit = await keyed.acquire('a', { inputTokens: 100, maxOutputTokens: 50 });
    expect(permit).toMatchObject({ granted: true, inputTokens: 100, maxOutputTokens: 50 });
    permit.release({ cost: 0 });
    permit.release({ cost: 0 });
    expect(keyed.limiter('a').remaining('tokens')).toBe(600);
    expect(keyed.tryAcquire('a', 0).granted).toBe(true); // a probe: nothing to release
    expect(keyed.tryAcquire('b', 1).granted).toBe(true);
    expect(keyed.stats()).toMatchObject({ evicted: 1, evictedBusy: 0 });
    keyed.close();
  });

  it('stays within maxKeys when 10,000 distinct keys are each used once', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { requestsPerMinute: 60, tokensPerMinute: 6_000 }, maxKeys: 1_000, clock });
    let largest = 0;
    for (let i = 0; i < 10_000; i++) {
      if (i % 2 === 0) {
        granted(keyed.tryAcquire(`key-${i}`, { inputTokens: 30, maxOutputTokens: 20 })).release({ ok: true, usage: { totalTokens: 40 } });
      } else {
        (await keyed.acquire(`key-${i}`, { inputTokens: 30 })).release({ cost: 0 });
      }
      if (i % 100 === 0) await clock.advance(100);
      largest = Math.max(largest, keyed.size);
    }
    expect(largest).toBe(1_000);
    expect(keyed.size).toBe(1_000);
    expect(keyed.stats()).toMatchObject({ created: 10_000, evicted: 9_000, refusedNoRoom: 0 });
    keyed.close();
  });

  it('delete closes one key', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600 }, clock });
    keyed.tryAcquire('a', 600);
    const waiting = track(keyed.acquire('a', 10));
    expect(keyed.delete('a')).toBe(true);
    expect(keyed.delete('a')).toBe(false);
    await clock.advance(0);
    expect(waiting.error).toBeInstanceOf(ClosedError);
    expect(keyed.tryAcquire('a', 600).granted).toBe(true); // made again, with a fresh budget
    keyed.close();
  });
});

describe('KeyedLlmLimiter: options', () => {
  it('rejects bad options at construction', () => {
    expect(() => new KeyedLlmLimiter(undefined as never)).toThrow(InvalidArgumentError);
    expect(() => new KeyedLlmLimiter({} as never)).toThrow(/limits/);
    expect(() => new KeyedLlmLimiter({ limits: null as never })).toThrow(/limits/);
    expect(() => new KeyedLlmLimiter({ limits: 5 as never })).toThrow(InvalidArgumentError);
    expect(() => new KeyedLlmLimiter({ limits: {} })).toThrow(/at least one of requestsPerMinute/);
    expect(() => new KeyedLlmLimiter({ limits: { tokensPerMinute: -1 } })).toThrow(/tokensPerMinute/);
    expect(() => new KeyedLlmLimiter({ limits: { tokensPerMinute: 10 }, maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new KeyedLlmLimiter({ limits: { tokensPerMinute: 10 }, maxKeys: 1.5 })).toThrow(/maxKeys/);
    expect(() => new KeyedLlmLimiter({ limits: { tokensPerMinute: 10 }, name: '' })).toThrow(/name/);
    expect(() => new KeyedLlmLimiter({ limits: { tokensPerMinute: 10 }, clock: {} as never })).toThrow(/clock/);
  });

  it('rejects a bad key, and bad options from the function when the key is made', async () => {
    const keyed = new KeyedLlmLimiter({
      limits: (key) => (key === 'bad' ? { tokensPerMinute: 0 } : { tokensPerMinute: 10 }),
      clock: new VirtualClock(),
    });
    expect(() => keyed.tryAcquire(7 as never, 1)).toThrow(InvalidArgumentError);
    await expect(keyed.acquire(undefined as never, 1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(keyed.acquire('bad', 1)).rejects.toThrow(/tokensPerMinute/);
    expect(() => keyed.limiter('bad')).toThrow(InvalidArgumentError);
    expect(keyed.size).toBe(0);
    keyed.close();
  });

  it('uses the limits’ own clock when none is given to it', async () => {
    const clock = new VirtualClock();
    const keyed = new KeyedLlmLimiter({ limits: { tokensPerMinute: 600, clock, name: 'per-tenant' } });
    keyed.tryAcquire('a', 600);
    const waiting = track(keyed.acquire('a', 10));
    await clock.advance(1_000);
    expect(waiting.state).toBe('fulfilled');
    expect(keyed.limiter('a').name).toBe('per-tenant');
    keyed.close();
  });
});
