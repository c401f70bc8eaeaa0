import { describe, expect, it } from 'vitest';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { CircuitOpenError, isGate, pipeline } from '@sluice/core';
import { RedisStore, SharedCircuitBreaker } from '@sluice/redis';
import { describeRemoteGateContract } from '@sluice/testing/contract';
import { countingClock } from './fixtures/counting-clock.ts';
import { sharedRedis } from './fixtures/shared-redis.ts';

// The gate contract against a real redis-server: a SharedCircuitBreaker as a Gate, half-open
// (its budget is the single trial), as the in-memory CircuitBreaker runs it half-open.
const redis = sharedRedis();
let names = 0;

function breaker(name: string, clock = countingClock()): SharedCircuitBreaker {
  return new SharedCircuitBreaker({
    store: new RedisStore({ client: redis(), clock }),
    name,
    failureThreshold: 2,
    windowMs: 10_000,
    halfOpenAfterMs: 50,
    onStoreError: 'fail-closed',
  });
}

describeRemoteGateContract('SharedCircuitBreaker.gate()', {
  create: () => {
    const clock = countingClock();
    const name = `contract-breaker-${++names}`;
    // open and due for its trial: written before any call of the gate (same connection, in order)
    void redis().hset(`sluice:{${name}:circuit}:state`, 's', 'open', 'until', '1', 'gen', '1');
    const gate = breaker(name, clock).gate();
    return { gate, initial: 1, queueLimit: 0, refillMs: 0, refusalReason: 'circuit-open', pendingTimers: clock.pending };
  },
  invalid: {
    'halfOpenAfterMs 0': () =>
      new SharedCircuitBreaker({
        store: new RedisStore({ client: redis() }),
        failureThreshold: 1,
        windowMs: 1_000,
        halfOpenAfterMs: 0,
        onStoreError: 'fail-closed',
      }),
    'openMs NaN (deprecated alias)': () =>
      new SharedCircuitBreaker({
        store: new RedisStore({ client: redis() }),
        failureThreshold: 1,
        windowMs: 1_000,
        openMs: Number.NaN,
        onStoreError: 'fail-closed',
      }),
  },
});

describe('SharedCircuitBreaker.gate() among gates', () => {
  it('failures released through the gate open the circuit for every instance; the trial closes it', async () => {
    const name = `breaker-gate-${++names}`;
    const a = breaker(name);
    const b = breaker(name);
    const opened: string[] = [];
    b.onOpen((previous) => opened.push(previous));
    const gate = a.gate();
    expect(isGate(gate)).toBe(true);
    for (let i = 0; i < 2; i++) (await gate.acquire()).release({ ok: false, error: new Error('down') });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const refusal = await b.gate().tryAcquireNow();
    expect(refusal).toMatchObject({ granted: false, reason: 'circuit-open', gate: name });
    if (!refusal.granted) expect(refusal.retryAfterMs).toBeGreaterThan(0);
    expect(opened).toEqual(['closed']);
    await expect(b.gate().acquire()).rejects.toBeInstanceOf(CircuitOpenError);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const trial = await b.gate().acquire();
    await expect(a.gate().acquire()).rejects.toBeInstanceOf(CircuitOpenError); // the trial is held
    trial.release({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const door = pipeline(a.gate(), new ConcurrencyLimiter({ maxConcurrent: 1 }));
    await expect(door.run(async () => 'served')).resolves.toBe('served');
    expect(b.state).toBe('closed');
    a.close();
    b.close();
  });

  it('openMs still works as a deprecated alias of halfOpenAfterMs; both differing is refused', () => {
    const store = new RedisStore({ client: redis() });
    const old = new SharedCircuitBreaker({ store, failureThreshold: 1, windowMs: 1_000, openMs: 500, onStoreError: 'fail-closed' });
    expect(old.halfOpenAfterMs).toBe(500);
    expect(old.openMs).toBe(500);
    expect(
      () =>
        new SharedCircuitBreaker({
          store,
          failureThreshold: 1,
          windowMs: 1_000,
          openMs: 500,
          halfOpenAfterMs: 400,
          onStoreError: 'fail-closed',
        }),
    ).toThrow(/openMs/);
  });
});
