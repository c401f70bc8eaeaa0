import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitOpenError, ClosedError, InvalidArgumentError, StoreUnavailableError } from '@sluice/core';
import {
  RedisStore,
  SharedCircuitBreaker,
  type SharedBreakerState,
  type SharedCircuitBreakerOptions,
  type StoreCallError,
} from '@sluice/redis';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

let server: RedisServer;
/** One connection per simulated instance: A, B, C. */
let clients: Redis[];
let stores: RedisStore[];
let names = 0;
/** A fresh breaker name per test, so tests never share keys. */
const fresh = (label: string) => `${label}-${++names}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const opened: SharedCircuitBreaker[] = [];

type Extra = Omit<Partial<SharedCircuitBreakerOptions>, 'store'>;

/** Instance `i` (0 = A, 1 = B, 2 = C) of the breaker `name`, on its own connection. */
function instance(i: number, name: string, extra: Extra = {}): SharedCircuitBreaker {
  const breaker = new SharedCircuitBreaker({
    store: stores[i] as RedisStore,
    name,
    failureThreshold: 3,
    windowMs: 5_000,
    openMs: 1_000,
    halfOpenTrialMs: 5_000,
    onStoreError: 'fail-closed',
    ...extra,
  });
  opened.push(breaker);
  return breaker;
}

class Boom extends Error {}
class NotFound extends Error {}
const boom = (): never => {
  throw new Boom('boom');
};
const ok = async () => 'ok';

/** Runs `fn`, returning the error it rejects with (or a marker when it resolves). */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return 'resolved';
}

/** A promise with its resolvers. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: unknown) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

const keyOf = (name: string, field: string) => `sluice:{${name}:circuit}:${field}`;

beforeAll(async () => {
  server = await startRedis();
  clients = [0, 1, 2].map(() => new Redis(server.port, '127.0.0.1'));
  stores = clients.map((client) => new RedisStore({ client, timeoutMs: 2_000 }));
}, 30_000);

afterAll(async () => {
  for (const breaker of opened) breaker.close();
  for (const client of clients ?? []) client.disconnect();
  await server?.stop();
});

describe('SharedCircuitBreaker across instances (real redis-server)', () => {
  it('failures recorded through A open the circuit for B on B’s next call', async () => {
    const name = fresh('trip');
    const a = instance(0, name);
    const b = instance(1, name);
    const seenByB: SharedBreakerState[] = [];
    b.onStateChange((state) => seenByB.push(state));
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    expect(await b.run(ok)).toBe('ok'); // 2 of 3: still closed, and a success resets nothing
    expect(server.cli('ZCARD', keyOf(name, 'failures'))).toBe('2');
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom); // the third failure trips
    expect(a.state).toBe('open');
    expect(b.state).toBe('closed'); // B has not asked yet: its getter is the last state it saw
    let called = false;
    const error = await failure(b.run(() => (called = true)));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(called).toBe(false);
    const retry = (error as CircuitOpenError).retryAfterMs as number;
    expect(retry).toBeGreaterThan(500);
    expect(retry).toBeLessThanOrEqual(1_000);
    expect(b.state).toBe('open');
    expect(seenByB).toEqual(['open']);
    // the window was emptied on opening; the keys share one hash tag (one cluster slot)
    expect(server.cli('EXISTS', keyOf(name, 'failures'))).toBe('0');
    expect(server.cli('HGET', keyOf(name, 'state'), 's')).toBe('open');
    expect(server.cli('CLUSTER', 'KEYSLOT', keyOf(name, 'state'))).toBe(server.cli('CLUSTER', 'KEYSLOT', keyOf(name, 'trial')));
  });

  it('the window slides: failures older than windowMs no longer count', async () => {
    const name = fresh('window');
    const a = instance(0, name, { failureThreshold: 2, windowMs: 300 });
    const b = instance(1, name, { failureThreshold: 2, windowMs: 300 });
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await sleep(450);
    await expect(b.run(boom)).rejects.toBeInstanceOf(Boom); // the first one left the window
    expect(b.state).toBe('closed');
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom); // two within 300 ms: open
    expect(a.state).toBe('open');
    await expect(b.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('after openMs exactly one of nine concurrent callers over three instances gets the trial; its success closes for all', async () => {
    const name = fresh('trial');
    const options: Extra = { failureThreshold: 1, openMs: 300 };
    const breakers = [instance(0, name, options), instance(1, name, options), instance(2, name, options)];
    await expect((breakers[0] as SharedCircuitBreaker).run(boom)).rejects.toBeInstanceOf(Boom);
    await sleep(400);
    const gate = deferred<string>();
    let invoked = 0;
    let settled = 0;
    const runs = breakers.flatMap((breaker) =>
      [0, 1, 2].map(() =>
        breaker
          .run(() => {
            invoked++;
            return gate.promise;
          })
          .then(
            (value) => ({ value }),
            (error: unknown) => ({ error }),
          )
          .finally(() => settled++),
      ),
    );
    await until(() => settled === 8);
    expect(invoked).toBe(1);
    expect(server.cli('EXISTS', keyOf(name, 'trial'))).toBe('1');
    gate.resolve('trial passed');
    const outcomes = await Promise.all(runs);
    const refused = outcomes.filter((o) => 'error' in o);
    expect(outcomes.filter((o) => 'value' in o)).toEqual([{ value: 'trial passed' }]);
    expect(refused).toHaveLength(8);
    for (const o of refused) {
      const error = (o as { error: unknown }).error;
      expect(error).toBeInstanceOf(CircuitOpenError);
      // the others wait at most until the trial claim expires
      expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(0);
      expect((error as CircuitOpenError).retryAfterMs).toBeLessThanOrEqual(5_000);
    }
    expect(breakers.map((b) => b.state)).toContain('half-open');
    // closed for everyone: every instance's next call passes
    for (const breaker of breakers) expect(await breaker.run(ok)).toBe('ok');
    expect(breakers.map((b) => b.state)).toEqual(['closed', 'closed', 'closed']);
    expect(server.cli('EXISTS', keyOf(name, 'trial'))).toBe('0');
    expect(server.cli('HGET', keyOf(name, 'state'), 's')).toBe('');
  });

  it('a failed trial opens the circuit again for everyone, for a fresh openMs', async () => {
    const name = fresh('reopen');
    const options: Extra = { failureThreshold: 1, openMs: 400 };
    const a = instance(0, name, options);
    const b = instance(1, name, options);
    const seenByA: string[] = [];
    a.onStateChange((state, previous) => seenByA.push(`${previous}->${state}`));
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await sleep(500);
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom); // A is the trial, and it fails
    expect(a.state).toBe('open');
    const error = await failure(b.run(ok));
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBeGreaterThan(200); // a fresh open period
    expect(seenByA).toEqual(['closed->open', 'open->half-open', 'half-open->open']); // A held the trial
    await sleep(500);
    expect(await b.run(ok)).toBe('ok'); // B's trial passes: closed
    expect(await a.run(ok)).toBe('ok');
    expect(seenByA).toEqual(['closed->open', 'open->half-open', 'half-open->open', 'open->closed']);
  });

  it('a trial holder that never reports loses the claim after halfOpenTrialMs; another instance gets it, and the late report is ignored', async () => {
    const name = fresh('crash');
    const options: Extra = { failureThreshold: 1, openMs: 200, halfOpenTrialMs: 500 };
    const a = instance(0, name, options);
    const b = instance(1, name, options);
    const c = instance(2, name, options);
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await sleep(300);
    const hung = deferred<string>();
    let aStarted = false;
    const aRun = failure(
      a.run(() => {
        aStarted = true;
        return hung.promise; // "crashed": never reports while the claim lives
      }),
    );
    await until(() => aStarted);
    expect(a.state).toBe('half-open');
    const refused = await failure(b.run(ok));
    expect(refused).toBeInstanceOf(CircuitOpenError);
    const retry = (refused as CircuitOpenError).retryAfterMs as number;
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(500);
    expect(b.state).toBe('half-open');
    await sleep(retry + 100);
    expect(server.cli('EXISTS', keyOf(name, 'trial'))).toBe('0');
    expect(await b.run(async () => 'b trial')).toBe('b trial'); // B claimed the trial and closed it
    expect(b.state).toBe('closed');
    // A's call finally fails: its claim is gone, so the outcome is stale and changes nothing
    hung.reject(new Boom('late'));
    expect(await aRun).toBeInstanceOf(Boom);
    expect(a.state).toBe('closed');
    expect(await c.run(ok)).toBe('ok');
    expect(server.cli('HGET', keyOf(name, 'state'), 's')).toBe('');
  });

  it('an outcome of a call admitted before a transition is ignored (as in the in-memory breaker)', async () => {
    const name = fresh('stale');
    const options: Extra = { failureThreshold: 1, openMs: 200 };
    const a = instance(0, name, options);
    const b = instance(1, name, options);
    const slow = deferred<string>();
    let started = false;
    const aRun = failure(
      a.run(() => {
        started = true;
        return slow.promise;
      }),
    );
    await until(() => started);
    await expect(b.run(boom)).rejects.toBeInstanceOf(Boom); // trips
    await sleep(300);
    expect(await b.run(ok)).toBe('ok'); // trial: closed again
    slow.reject(new Boom('from before the trip'));
    expect(await aRun).toBeInstanceOf(Boom);
    // threshold 1: had it counted, the circuit would be open now
    expect(await b.run(ok)).toBe('ok');
    expect(server.cli('EXISTS', keyOf(name, 'failures'))).toBe('0');
  });

  it('isFailure keeps errors out of the count, and an ignored error of a trial counts as its success', async () => {
    const name = fresh('filter');
    const options: Extra = { failureThreshold: 2, openMs: 200, isFailure: (error) => !(error instanceof NotFound) };
    const a = instance(0, name, options);
    const b = instance(1, name, options);
    for (let i = 0; i < 5; i++) {
      await expect(a.run(() => Promise.reject(new NotFound()))).rejects.toBeInstanceOf(NotFound);
    }
    expect(server.cli('EXISTS', keyOf(name, 'failures'))).toBe('0');
    expect(await b.run(ok)).toBe('ok');
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await expect(b.run(boom)).rejects.toBeInstanceOf(Boom);
    await expect(a.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    await sleep(300);
    await expect(b.run(() => Promise.reject(new NotFound()))).rejects.toBeInstanceOf(NotFound); // the trial
    expect(b.state).toBe('closed');
    expect(await a.run(ok)).toBe('ok');
    // an isFailure that throws counts the call as a failure
    const strict = instance(0, fresh('filter-throws'), {
      failureThreshold: 1,
      isFailure: () => {
        throw new Error('bad filter');
      },
    });
    await expect(strict.run(boom)).rejects.toBeInstanceOf(Boom);
    expect(strict.state).toBe('open');
  });

  it('every key expires when idle', async () => {
    const name = fresh('idle');
    // retainMs = max(windowMs, openMs, halfOpenTrialMs) = 400
    const options: Extra = { failureThreshold: 3, windowMs: 300, openMs: 300, halfOpenTrialMs: 400 };
    const a = instance(0, name, options);
    const keysNow = () => server.cli('KEYS', `sluice:{${name}:circuit}:*`);
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    const windowTtl = Number(server.cli('PTTL', keyOf(name, 'failures')));
    expect(windowTtl).toBeGreaterThan(0);
    expect(windowTtl).toBeLessThanOrEqual(300);
    expect(server.cli('EXISTS', keyOf(name, 'state'))).toBe('0'); // closed is no state at all
    await sleep(400);
    expect(keysNow()).toBe('');
    // open: kept openMs + retainMs, so an open circuit nobody calls forgets itself
    for (let i = 0; i < 3; i++) await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    expect(a.state).toBe('open');
    const openTtl = Number(server.cli('PTTL', keyOf(name, 'state')));
    expect(openTtl).toBeGreaterThan(200);
    expect(openTtl).toBeLessThanOrEqual(700);
    await sleep(openTtl + 100);
    expect(keysNow()).toBe('');
    expect(await a.run(ok)).toBe('ok');
    // after a trial closes it: only the generation stays, for retainMs
    for (let i = 0; i < 3; i++) await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await sleep(400);
    expect(await a.run(ok)).toBe('ok');
    expect(a.state).toBe('closed');
    expect(keysNow()).toBe(keyOf(name, 'state'));
    const closedTtl = Number(server.cli('PTTL', keyOf(name, 'state')));
    expect(closedTtl).toBeGreaterThan(0);
    expect(closedTtl).toBeLessThanOrEqual(400);
    await sleep(closedTtl + 100);
    expect(keysNow()).toBe('');
  });

  it('refuses bad options at construction and bad calls at run; close() stops it', async () => {
    const store = stores[0] as RedisStore;
    const base = { store, failureThreshold: 3, windowMs: 1_000, openMs: 1_000, onStoreError: 'fail-closed' } as const;
    expect(() => new SharedCircuitBreaker({ ...base, failureThreshold: 0 })).toThrow(InvalidArgumentError);
    expect(() => new SharedCircuitBreaker({ ...base, failureThreshold: 1.5 })).toThrow(/failureThreshold/);
    expect(() => new SharedCircuitBreaker({ ...base, windowMs: 0 })).toThrow(/windowMs/);
    expect(() => new SharedCircuitBreaker({ ...base, windowMs: Infinity })).toThrow(/windowMs/);
    expect(() => new SharedCircuitBreaker({ ...base, openMs: Number.NaN })).toThrow(/openMs/);
    expect(() => new SharedCircuitBreaker({ ...base, halfOpenTrialMs: 0 })).toThrow(/halfOpenTrialMs/);
    expect(() => new SharedCircuitBreaker({ ...base, name: '' })).toThrow(/name/);
    expect(() => new SharedCircuitBreaker({ ...base, isFailure: 'yes' as never })).toThrow(/isFailure/);
    expect(() => new SharedCircuitBreaker({ ...base, onStoreError: undefined as never })).toThrow(/onStoreError/);
    expect(() => new SharedCircuitBreaker({ ...base, store: undefined as never })).toThrow(/store/);
    const breaker = new SharedCircuitBreaker({ ...base, name: fresh('closed') });
    expect(breaker.name).toMatch(/^closed-/);
    expect(breaker.halfOpenTrialMs).toBe(10_000);
    await expect(breaker.run('nope' as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    breaker.close();
    breaker.close();
    await expect(breaker.run(ok)).rejects.toBeInstanceOf(ClosedError);
  });
});

describe('SharedCircuitBreaker faults', () => {
  it('SCRIPT FLUSH mid-run: NOSCRIPT is recovered by EVAL and the count survives', async () => {
    const name = fresh('flush');
    const a = instance(0, name);
    const store = stores[0] as RedisStore;
    const recovered: string[] = [];
    const off = store.onNoScript((script) => recovered.push(script));
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom);
    expect(server.cli('SCRIPT', 'FLUSH')).toBe('OK');
    await expect(a.run(boom)).rejects.toBeInstanceOf(Boom); // 3 of 3 across the flush
    expect(a.state).toBe('open');
    await expect(a.run(ok)).rejects.toBeInstanceOf(CircuitOpenError);
    expect(recovered).toEqual(['breaker-acquire', 'breaker-record']);
    off();
  });

  describe('Redis killed mid-call, then restarted', () => {
    for (const policy of ['fail-closed', 'fail-open', 'insurance'] as const) {
      it(`${policy}: the call in flight keeps its own outcome, the policy decides while down, and Redis takes over again`, async () => {
        const own = await startRedis();
        const ownClient = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
        ownClient.on('error', () => {});
        const ownStore = new RedisStore({ client: ownClient, timeoutMs: 150 });
        const breaker = new SharedCircuitBreaker({
          store: ownStore,
          name: fresh(policy),
          failureThreshold: 4,
          windowMs: 10_000,
          openMs: 5_000,
          onStoreError: policy,
          expectedInstances: 2,
          probeIntervalMs: 50,
        });
        const modes: string[] = [];
        const failures: StoreCallError[] = [];
        breaker.onModeChange((mode) => modes.push(mode));
        breaker.onStoreFailure((error) => failures.push(error));
        try {
          expect(await breaker.run(ok)).toBe('ok');
          // Redis dies while the call runs: recording its failure fails, the caller still gets
          // its own error (not a store error), and the failure is reported
          const error = await failure(
            breaker.run(async () => {
              await own.kill();
              throw new Boom('dependency failed too');
            }),
          );
          expect(error).toBeInstanceOf(Boom);
          expect(failures[0]?.script).toBe('breaker-record');
          expect(modes).toEqual(['fallback']);
          expect(breaker.storeDown).toBe(true);
          let calls = 0;
          const counted = () => {
            calls++;
            throw new Boom('down');
          };
          if (policy === 'fail-closed') {
            const refused = await failure(breaker.run(ok));
            expect(refused).toBeInstanceOf(StoreUnavailableError);
            expect((refused as StoreUnavailableError).retryAfterMs).toBe(50);
            await expect(breaker.run(counted)).rejects.toBeInstanceOf(StoreUnavailableError);
            expect(calls).toBe(0);
          } else if (policy === 'fail-open') {
            for (let i = 0; i < 6; i++) await expect(breaker.run(counted)).rejects.toBeInstanceOf(Boom);
            expect(calls).toBe(6); // unprotected: nothing trips
            expect(await breaker.run(ok)).toBe('ok');
          } else {
            // the local breaker opens after ceil(4 / 2) = 2 failures within the window
            for (let i = 0; i < 2; i++) await expect(breaker.run(counted)).rejects.toBeInstanceOf(Boom);
            const refused = await failure(breaker.run(counted));
            expect(refused).toBeInstanceOf(CircuitOpenError);
            expect((refused as CircuitOpenError).gate).toMatch(/\(insurance\)$/);
            expect(calls).toBe(2);
          }
          await own.restart();
          await until(() => !breaker.storeDown, 5_000);
          expect(modes).toEqual(['fallback', 'redis']);
          // the restarted Redis is empty (and has no scripts): closed, decided by Redis again
          expect(await breaker.run(ok)).toBe('ok');
          await expect(breaker.run(boom)).rejects.toBeInstanceOf(Boom);
          expect(own.cli('ZCARD', `sluice:{${breaker.name}:circuit}:failures`)).toBe('1');
          expect(breaker.state).toBe('closed');
        } finally {
          breaker.close();
          ownClient.disconnect();
          await own.stop();
        }
      }, 30_000);
    }
  });
});
