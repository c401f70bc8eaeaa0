import { describe, expect, it } from 'vitest';
import { consecutiveFailures } from '@sluice/breaker';
import { ClosedError, TooLargeError, isCircuitOpenError, isQueueFullError, isShedError, type Permit } from '@sluice/core';
import { OverloadProtection, overloadProtection } from '@sluice/overload';
import { TokenBucket } from '@sluice/rate-limit';
import { VirtualClock } from '@sluice/testing';

const sleep = (clock: VirtualClock, ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));

function preset(clock: VirtualClock) {
  return overloadProtection({
    breaker: { trip: consecutiveFailures(3), halfOpenAfterMs: 1_000 },
    shedder: {
      capacity: 8,
      shedThreshold: 0.5,
      levels: [
        { name: 'high', priority: 1, admitUpTo: 1 },
        { name: 'low', priority: 0, admitUpTo: 0.5 },
      ],
    },
    limiter: { ratePerSecond: 10, burst: 20, queueLimit: 0 },
    concurrency: { maxConcurrent: 2, queueLimit: 2 },
    clock,
  });
}

describe('OverloadProtection', () => {
  it('builds its layers from options on its own clock and exposes them', () => {
    const clock = new VirtualClock();
    const door = preset(clock);
    expect(door.breaker?.state).toBe('closed');
    expect(door.shedder?.capacity).toBe(8);
    expect(door.limiter).toBeInstanceOf(TokenBucket);
    expect(door.concurrency?.limit).toBe(2);
    expect(door.pipeline.stages.map((stage) => stage.name)).toEqual(['breaker', 'shedder', 'token-bucket', 'concurrency']);
    expect(door.capacity).toBe(20); // the limiter's burst: the largest cost one request may have
    clock.advanceSync(1_000);
    expect((door.limiter as TokenBucket).tokens).toBe(20);
  });

  it('refuses at the cheapest layer and names it: queue-full, then shed, then circuit-open', async () => {
    const clock = new VirtualClock();
    const door = preset(clock);
    const held: Permit[] = [];
    for (let i = 0; i < 2; i++) held.push(await door.acquire(1));
    const queued = [door.acquire(1), door.acquire(1)];
    queued.forEach((p) => {
      p.catch(() => {});
    });
    await clock.advance(0);
    // 4 in the system: low work is now shed (its share is 4 of 8) before it takes a token
    const tokensBefore = (door.limiter as TokenBucket).tokens;
    const low = await door.acquire(1).catch((e: unknown) => e);
    expect(isShedError(low)).toBe(true);
    expect((door.limiter as TokenBucket).tokens).toBe(tokensBefore);
    // high work passes the shedder and the limiter, then finds the concurrency queue full:
    // its token is refunded as the pipeline unwinds
    const high = await door.acquire(1, { priority: 1 }).catch((e: unknown) => e);
    expect(isQueueFullError(high)).toBe(true);
    expect((high as { gate: string }).gate).toBe('concurrency');
    expect((door.limiter as TokenBucket).tokens).toBe(tokensBefore);
    door.breaker?.isolate();
    const open = door.tryAcquire(1, { priority: 1 });
    expect(open).toMatchObject({ granted: false, reason: 'circuit-open', gate: 'breaker' });
    expect(isCircuitOpenError(await door.acquire(1).catch((e: unknown) => e))).toBe(true);
    for (const permit of held) permit.release({ ok: true });
    const late = await clock.settle(Promise.all(queued));
    for (const permit of late) permit.release({ ok: true });
    expect(door.stats()).toMatchObject({ admitted: 4, waiting: 0 });
    expect(door.shedder?.inFlight).toBe(0);
  });

  it('sends failures back to the breaker: it trips after three and fails fast', async () => {
    const clock = new VirtualClock();
    const door = preset(clock);
    let calls = 0;
    const failing = async () => {
      calls++;
      throw new Error('backend down');
    };
    for (let i = 0; i < 3; i++) await expect(door.run(failing)).rejects.toThrow('backend down');
    expect(door.breaker?.state).toBe('open');
    const error = await door.run(failing).catch((e: unknown) => e);
    expect(isCircuitOpenError(error)).toBe(true);
    expect((error as { retryAfterMs: number }).retryAfterMs).toBe(1_000);
    expect(calls).toBe(3);
  });

  it('sends durations back to an adaptive concurrency limit', async () => {
    const clock = new VirtualClock();
    const door = overloadProtection({
      concurrency: {
        maxConcurrent: 8,
        adaptive: { algorithm: 'aimd', timeoutMs: 50, windowMs: 100, minSamples: 1, minLimit: 1, slowStart: false },
      },
      clock,
    });
    // every call takes 80 ms, over the 50 ms the limit tolerates: each window backs it off
    for (let round = 0; round < 10; round++) {
      await clock.settle(Promise.all(Array.from({ length: 4 }, () => door.run(() => sleep(clock, 80)))));
    }
    expect(door.concurrency?.limit).toBeLessThan(8);
  });

  it('reconciles the limiter to the actual cost: refunds the unused part, debits the extra', async () => {
    const clock = new VirtualClock();
    const limiter = new TokenBucket({ ratePerSecond: 1, burst: 100, clock });
    const door = new OverloadProtection({ limiter, concurrency: { maxConcurrent: 4 }, clock });
    await door.run(() => ({ usedTokens: 10 }), { cost: 50, actualCost: (r) => r.usedTokens });
    expect(limiter.tokens).toBe(90);
    await door.run(() => ({ usedTokens: 70 }), { cost: 50, actualCost: (r) => r.usedTokens });
    expect(limiter.tokens).toBe(20);
    await door.run(() => 'no reader', { cost: 5 });
    expect(limiter.tokens).toBe(15);
    // a reader that throws or returns nonsense leaves the estimate standing
    await door.run(() => 1, {
      cost: 5,
      actualCost: () => {
        throw new Error('no usage');
      },
    });
    await door.run(() => 1, { cost: 5, actualCost: () => -3 });
    expect(limiter.tokens).toBe(5);
    // the concurrency layer counted requests, not tokens
    expect(door.concurrency?.inFlight).toBe(0);
    expect(door.concurrency?.stats().admitted).toBe(5);
  });

  it('refuses a cost above the limiter capacity at once, and bad run options', async () => {
    const clock = new VirtualClock();
    const door = preset(clock);
    expect(() => door.tryAcquire(21)).toThrow(TooLargeError);
    await expect(door.run(() => 1, { cost: 21 })).rejects.toBeInstanceOf(TooLargeError);
    await expect(door.run(() => 1, { cost: 1.5 })).rejects.toThrow(/cost/);
    await expect(door.run(() => 1, { actualCost: 3 as never })).rejects.toThrow(/actualCost/);
    await expect(door.run(5 as never)).rejects.toThrow(/fn/);
    expect(door.stats().admitted).toBe(0);
  });

  it('a limiter that cannot refund is used as it is', async () => {
    const clock = new VirtualClock();
    const plain = new TokenBucket({ ratePerSecond: 1, burst: 3, clock });
    const gate = { ...plainGate(plain) };
    const door = new OverloadProtection({ limiter: gate, clock });
    expect(door.pipeline.stages[0]).toBe(gate);
    await door.run(() => 1);
    expect(plain.tokens).toBe(2);
  });

  it('close() closes every layer and rejects waiters in any of them', async () => {
    const clock = new VirtualClock();
    const door = preset(clock);
    const held = [await door.acquire(), await door.acquire()];
    const waiting = door.acquire();
    waiting.catch(() => {});
    door.close();
    await expect(waiting).rejects.toBeInstanceOf(ClosedError);
    expect(door.breaker?.isClosed && door.shedder?.isClosed && door.concurrency?.isClosed).toBe(true);
    for (const permit of held) permit.release({ ok: true });
    expect(clock.pendingTimers).toBe(0);
  });
});

/** A gate view of a limiter without its refund/debit methods. */
function plainGate(limiter: TokenBucket) {
  return {
    name: 'plain',
    get capacity() {
      return limiter.capacity;
    },
    get pressure() {
      return limiter.pressure;
    },
    tryAcquire: limiter.tryAcquire.bind(limiter),
    acquire: limiter.acquire.bind(limiter),
    run: limiter.run.bind(limiter),
    stats: limiter.stats.bind(limiter),
    close: limiter.close.bind(limiter),
    onAdmit: limiter.onAdmit.bind(limiter),
    onRefuse: limiter.onRefuse.bind(limiter),
  };
}
