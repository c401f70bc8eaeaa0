import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, TooLargeError, WaitTimeoutError, isStoreUnavailableError } from '@sluice/core';
import { gcraAdmit, gcraParameters, gcraWaitMs, slidingWindowEstimate, slidingWindowWaitMs } from '@sluice/rate-limit';
import { GCRA_TAKE, GCRA_TAKE_MANY, RedisRateLimiter, RedisStore, SLIDING_TAKE, fromNodeRedis, type StoreCallError } from '@sluice/redis';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

const run = promisify(execFile);
let server: RedisServer;
let client: Redis;
let store: RedisStore;
let names = 0;
/** A fresh limiter name per test, so tests never share keys. */
const fresh = (label: string) => `${label}-${++names}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startRedis(['--enable-debug-command', 'yes']);
  client = new Redis(server.port, '127.0.0.1');
  store = new RedisStore({ client, timeoutMs: 2_000 });
}, 30_000);

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

describe('RedisRateLimiter.gcra against a real redis-server', () => {
  it('passes the burst, then refuses with the wait, and a refused call never debits', async () => {
    const name = fresh('burst');
    const limiter = RedisRateLimiter.gcra({ store, name, ratePerSecond: 10, burst: 5, onStoreError: 'fail-closed' });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await limiter.take('k'));
    expect(results.map((r) => r.granted)).toEqual([true, true, true, true, true]);
    expect(results.map((r) => r.remaining)).toEqual([4, 3, 2, 1, 0]);
    const refused = await limiter.take('k');
    expect(refused).toMatchObject({ granted: false, decidedBy: 'redis' });
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(100);
    // a hundred refusals later, the wait has only shrunk with time: nothing was debited
    for (let i = 0; i < 100; i++) expect((await limiter.take('k')).granted).toBe(false);
    const after = await limiter.take('k');
    expect(after.retryAfterMs).toBeLessThanOrEqual(refused.retryAfterMs as number);
    await sleep((after.retryAfterMs as number) + 5);
    expect((await limiter.take('k')).granted).toBe(true);
    limiter.close();
  });

  it('keys are hash-tagged per limiter key and expire once the bucket is full again', async () => {
    const name = fresh('keys');
    const limiter = RedisRateLimiter.gcra({ store, name, ratePerSecond: 10, burst: 10, onStoreError: 'fail-closed' });
    await limiter.take('user:42', 4);
    const key = `sluice:{${name}:user:42}:tat`;
    // 4 units at 10/s refill in 400 ms: the key lives that long
    const ttl = await client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(400);
    // the hash tag is the whole `{limiter:key}` part (cluster.test.ts runs the scripts on a real cluster)
    expect(key).toMatch(/^sluice:\{[^{}]+\}:tat$/);
    await sleep(ttl + 20);
    expect(await client.exists(key)).toBe(0);
    // a take of 0 probes without writing
    await limiter.take('idle', 0);
    expect(server.cli('EXISTS', `sluice:{${name}:idle}:tat`)).toBe('0');
    limiter.close();
  });

  it('the script makes the same decisions as the in-memory arithmetic (property, fixed instants)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 8 }),
        fc.array(
          fc.record({ dt: fc.integer({ min: 0, max: 300 }), cost: fc.integer({ min: 0, max: 8 }), accept: fc.constantFrom(0, 50, -1) }),
          { minLength: 1, maxLength: 25 },
        ),
        async (rate, burst, steps) => {
          const key = `sluice:{${fresh('maths')}:k}:tat`;
          const { emissionMs, toleranceMs } = gcraParameters(rate, burst);
          let tat = -Infinity;
          let now = 1_700_000_000_000;
          for (const { dt, cost: raw, accept } of steps) {
            now += dt;
            const cost = Math.min(raw, burst);
            const reply = (await store.run(GCRA_TAKE, [key], [emissionMs, toleranceMs, cost, accept, now])) as [
              number,
              string,
              number,
              string,
            ];
            const wait = gcraWaitMs(tat, now, cost, emissionMs, toleranceMs);
            const admittedNow = gcraAdmit(tat, now, cost, emissionMs, toleranceMs);
            const expectedAdmit = wait === 0 || accept === -1 || wait <= accept;
            expect(reply[0] === 1).toBe(expectedAdmit);
            expect(Number(reply[1])).toBeCloseTo(wait, 6);
            if (expectedAdmit && cost > 0) tat = Number.isNaN(admittedNow) ? Math.max(tat, now) + cost * emissionMs : admittedNow;
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('acquire reserves a place in time: waiters pass in arrival order at the rate, with one call each', async () => {
    const name = fresh('reserve');
    const limiter = RedisRateLimiter.gcra({ store, name, ratePerSecond: 50, burst: 1, onStoreError: 'fail-closed' });
    const started = performance.now();
    const order: number[] = [];
    const times: number[] = [];
    await Promise.all(
      [0, 1, 2, 3].map((i) =>
        limiter.acquire('k').then(() => {
          order.push(i);
          times.push(performance.now() - started);
        }),
      ),
    );
    expect(order).toEqual([0, 1, 2, 3]);
    // 1 at once, then one every 20 ms
    expect(times[3]).toBeGreaterThanOrEqual(55);
    expect(times[3]).toBeLessThan(2_000);
    limiter.close();
  });

  it('maxWaitMs refuses at once without debiting; an aborted reservation is given back', async () => {
    const name = fresh('wait');
    const limiter = RedisRateLimiter.gcra({ store, name, ratePerSecond: 10, burst: 1, onStoreError: 'fail-closed' });
    await limiter.acquire('k');
    const refusal = await limiter.acquire('k', 1, { maxWaitMs: 10 }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(WaitTimeoutError);
    expect((refusal as WaitTimeoutError).retryAfterMs).toBeGreaterThan(10);
    const controller = new AbortController();
    const reserved = limiter.acquire('k', 1, { signal: controller.signal }).catch((error: unknown) => error);
    await sleep(5);
    const before = Number(server.cli('GET', `sluice:{${name}:k}:tat`));
    controller.abort(new Error('caller left'));
    expect(((await reserved) as Error).message).toBe('caller left');
    await sleep(5);
    const after = Number(server.cli('GET', `sluice:{${name}:k}:tat`));
    expect(before - after).toBeCloseTo(100, 3);
    limiter.close();
  });

  it('refuses bad input at the boundary', async () => {
    expect(() => RedisRateLimiter.gcra({ store, ratePerSecond: 0, burst: 1, onStoreError: 'fail-closed' })).toThrow(/ratePerSecond/);
    expect(() => RedisRateLimiter.gcra({ store, ratePerSecond: 1, burst: 1.5, onStoreError: 'fail-closed' })).toThrow(/burst/);
    expect(() => RedisRateLimiter.gcra({ store, ratePerSecond: 1, burst: 1, onStoreError: 'maybe' as never })).toThrow(/onStoreError/);
    expect(() => RedisRateLimiter.gcra({ store, ratePerSecond: 1, burst: 1, onStoreError: 'insurance' })).toThrow(/expectedInstances/);
    expect(() => RedisRateLimiter.gcra({ store: {} as never, ratePerSecond: 1, burst: 1, onStoreError: 'fail-open' })).toThrow(/store/);
    expect(() => new RedisStore({ client: {} as never })).toThrow(InvalidArgumentError);
    expect(() => new RedisStore({ client, prefix: 'a{b}' })).toThrow(/prefix/);
    const limiter = RedisRateLimiter.gcra({ store, name: fresh('bad'), ratePerSecond: 1, burst: 3, onStoreError: 'fail-closed' });
    await expect(limiter.take('k', 4)).rejects.toBeInstanceOf(TooLargeError);
    await expect(limiter.take('k', 0.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(limiter.take('', 1)).rejects.toThrow(/key/);
    limiter.close();
    await expect(limiter.take('k')).rejects.toThrow(/closed/);
  });

  it('admits at most burst + rate × t in any window across 4 processes sharing one key', async () => {
    const [rate, burst] = [200, 20];
    const { times, refused } = await hammer(fresh('procs'), rate, burst, 1_500);
    expect(refused.every((n) => n > 0)).toBe(true);
    expect(worstExcess(times, rate, burst)).toBeLessThanOrEqual(1e-6);
    // and the limit was used, not just respected: close to burst + rate × span
    const span = ((times.at(-1) as number) - (times[0] as number)) / 1000;
    expect(times.length).toBeGreaterThan(0.9 * (burst + rate * span));
  }, 30_000);
});

/** Runs 4 hammer processes on one key; returns every admission's server time, sorted. */
async function hammer(
  name: string,
  rate: number,
  burst: number,
  durationMs: number,
  lease?: number,
): Promise<{ times: number[]; refused: number[] }> {
  const file = fileURLToPath(new URL('./fixtures/hammer.ts', import.meta.url));
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const args = [
    String(server.port),
    String(rate),
    String(burst),
    String(durationMs),
    name,
    ...(lease === undefined ? [] : [String(lease)]),
  ];
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () => run(process.execPath, ['--import', 'tsx', file, ...args], { cwd: root })),
  );
  const runs = outputs.map((o) => JSON.parse(o.stdout.trim().split('\n').pop() as string) as { admitted: number[]; refused: number });
  return { times: runs.flatMap((r) => r.admitted).sort((a, b) => a - b), refused: runs.map((r) => r.refused) };
}

/** The largest excess of admissions over burst + rate × t, over every window of the sorted times. */
function worstExcess(times: readonly number[], rate: number, burst: number): number {
  let worst = -Infinity;
  for (let i = 0; i < times.length; i++) {
    for (let j = i; j < times.length; j++) {
      const excess = j - i + 1 - (burst + (rate * ((times[j] as number) - (times[i] as number))) / 1000);
      if (excess > worst) worst = excess;
    }
  }
  return worst;
}

describe('coalescing: concurrent takes share one script call', () => {
  it('50 concurrent takes cost one round trip and are decided in arrival order', async () => {
    let calls = 0;
    const counting = new RedisStore({
      client: Object.assign(
        {
          evalsha: (...args: Parameters<Redis['evalsha']>) => (calls++, client.evalsha(...args)),
          eval: (...args: Parameters<Redis['eval']>) => (calls++, client.eval(...args)),
        },
        { isCluster: false },
      ) as never,
    });
    const limiter = RedisRateLimiter.gcra({
      store: counting,
      name: fresh('coalesce'),
      ratePerSecond: 0.001,
      burst: 20,
      onStoreError: 'fail-closed',
    });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => limiter.take(i % 2 === 0 ? 'even' : 'odd')));
    expect(calls).toBeLessThanOrEqual(2); // one EVALSHA (plus one EVAL the first time the script is seen)
    // per key, the first 20 in arrival order pass
    expect(results.filter((r, i) => i % 2 === 0 && r.granted)).toHaveLength(20);
    expect(results.map((r) => r.granted)).toEqual(Array.from({ length: 50 }, (_, i) => i < 40));
    expect(new Set(results.map((r) => r.serverTimeMs)).size).toBe(1);
    const alone = RedisRateLimiter.gcra({
      store: counting,
      name: fresh('alone'),
      ratePerSecond: 0.001,
      burst: 20,
      onStoreError: 'fail-closed',
      coalesce: false,
    });
    calls = 0;
    await Promise.all(Array.from({ length: 10 }, () => alone.take('k')));
    expect(calls).toBe(10);
    limiter.close();
    alone.close();
  });

  it('a batch decides exactly as the same requests sent one by one (property, fixed instants)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 6 }),
        fc.array(
          fc.record({ key: fc.integer({ min: 0, max: 2 }), cost: fc.integer({ min: 0, max: 6 }), accept: fc.constantFrom(0, 100, -1) }),
          { minLength: 2, maxLength: 30 },
        ),
        async (rate, burst, requests) => {
          const { emissionMs, toleranceMs } = gcraParameters(rate, burst);
          const name = fresh('many');
          const now = 1_700_000_000_000;
          const keysOf = (prefix: string) => [0, 1, 2].map((k) => `sluice:{${prefix}:${k}}:tat`);
          const one = keysOf(`${name}-one`);
          const many = keysOf(`${name}-many`);
          const expected: [number, number, number][] = [];
          for (const r of requests) {
            const cost = Math.min(r.cost, burst);
            const reply = (await store.run(GCRA_TAKE, [one[r.key] as string], [emissionMs, toleranceMs, cost, r.accept, now])) as [
              number,
              string,
              number,
            ];
            expected.push([reply[0], Number(reply[1]), reply[2]]);
          }
          const used = [...new Set(requests.map((r) => r.key))];
          const args: (string | number)[] = [emissionMs, toleranceMs, requests.length];
          for (const r of requests) args.push(used.indexOf(r.key) + 1, Math.min(r.cost, burst), r.accept);
          args.push(now);
          const reply = (await store.run(
            GCRA_TAKE_MANY,
            used.map((k) => many[k] as string),
            args,
          )) as (string | number)[];
          const actual = requests.map((_, i) => [reply[3 * i], Number(reply[3 * i + 1]), reply[3 * i + 2]]);
          expect(actual).toEqual(expected);
          for (const k of used) expect(Number(await client.get(many[k] as string))).toBe(Number(await client.get(one[k] as string)));
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe('lease batching (hot keys)', () => {
  it('spends a batch locally: one round trip per batch, nothing lost, unspent units go back on close', async () => {
    let calls = 0;
    const counting = new RedisStore({
      client: {
        evalsha: (...args: Parameters<Redis['evalsha']>) => (calls++, client.evalsha(...args)),
        eval: (...args: Parameters<Redis['eval']>) => (calls++, client.eval(...args)),
      } as never,
    });
    const name = fresh('lease');
    const limiter = RedisRateLimiter.gcra({
      store: counting,
      name,
      ratePerSecond: 1,
      burst: 1_000,
      onStoreError: 'fail-closed',
      lease: { units: 50 },
    });
    const results = [];
    for (let i = 0; i < 990; i++) results.push(await limiter.take('hot'));
    expect(results.every((r) => r.granted)).toBe(true);
    expect(calls).toBeLessThanOrEqual(21);
    expect(results.filter((r) => r.decidedBy === 'lease').length).toBeGreaterThan(940);
    expect(limiter.leasedUnits).toBe(10);
    // 1,000 debited in Redis; the 10 unspent go back on close, where another process can take them
    await limiter.close();
    const other = RedisRateLimiter.gcra({ store, name, ratePerSecond: 1, burst: 1_000, onStoreError: 'fail-closed' });
    expect((await other.take('hot', 10)).granted).toBe(true);
    expect((await other.take('hot', 2)).granted).toBe(false);
    other.close();
  });

  it('a lease older than maxAgeMs goes back before the next take; bad lease options throw', async () => {
    const name = fresh('lease-age');
    const limiter = RedisRateLimiter.gcra({
      store,
      name,
      ratePerSecond: 0.001,
      burst: 10,
      onStoreError: 'fail-closed',
      lease: { units: 10, maxAgeMs: 30 },
    });
    expect((await limiter.take('k')).granted).toBe(true);
    expect(limiter.leasedUnits).toBe(9);
    await sleep(50);
    // the 9 went back first, and this take leased what the bucket holds (9: one unit was spent)
    expect((await limiter.take('k')).granted).toBe(true);
    expect(limiter.leasedUnits).toBe(8);
    await limiter.close();
    expect(() => RedisRateLimiter.gcra({ store, ratePerSecond: 1, burst: 5, onStoreError: 'fail-closed', lease: { units: 6 } })).toThrow(
      /lease.units/,
    );
    expect(() =>
      RedisRateLimiter.gcra({ store, ratePerSecond: 1, burst: 5, onStoreError: 'fail-closed', lease: { units: 2, maxAgeMs: 0 } }),
    ).toThrow(/maxAgeMs/);
  });

  it('across 4 processes, admissions stay within burst + rate × t + 4 × lease.units in any window', async () => {
    const [rate, burst, lease] = [200, 20, 10];
    const { times } = await hammer(fresh('lease-procs'), rate, burst, 1_500, lease);
    const excess = worstExcess(times, rate, burst);
    expect(excess).toBeLessThanOrEqual(4 * lease);
    const span = ((times.at(-1) as number) - (times[0] as number)) / 1000;
    expect(times.length).toBeLessThanOrEqual(burst + rate * span + 4 * lease);
    expect(times.length).toBeGreaterThan(0.8 * (burst + rate * span));
  }, 30_000);
});

describe('RedisRateLimiter.slidingWindow', () => {
  it('the script makes the same decisions as the in-memory arithmetic (property, fixed instants)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 10, max: 1_000 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 600 }), cost: fc.integer({ min: 0, max: 20 }) }), {
          minLength: 1,
          maxLength: 25,
        }),
        async (limit, windowMs, steps) => {
          const key = `sluice:{${fresh('sw')}:k}:sw`;
          let now = 1_700_000_000_000 + fc.sample(fc.integer({ min: 0, max: 999 }), 1)[0]!;
          let ws = Number.NaN;
          let previous = 0;
          let current = 0;
          for (const { dt, cost: raw } of steps) {
            now += dt;
            const cost = Math.min(raw, limit);
            const start = Math.floor(now / windowMs) * windowMs;
            if (Number.isNaN(ws) || start - ws >= 2 * windowMs) [ws, previous, current] = [start, 0, 0];
            else if (start - ws >= windowMs) [ws, previous, current] = [start, current, 0];
            const wait = slidingWindowWaitMs(previous, current, ws, now, windowMs, limit, cost);
            const reply = (await store.run(SLIDING_TAKE, [key], [limit, windowMs, cost, now])) as [number, string, number, string];
            const estimate = slidingWindowEstimate(previous, current, ws, now, windowMs);
            expect(reply[0] === 1).toBe(wait === 0);
            expect(Number(reply[1])).toBeCloseTo(wait, 6);
            if (wait === 0) current += cost;
            expect(reply[2]).toBe(Math.max(0, Math.floor(limit - estimate - (wait === 0 ? cost : 0) + 1e-9)));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('limits per window and waits with the server hint', async () => {
    const limiter = RedisRateLimiter.slidingWindow({ store, name: fresh('window'), limit: 3, windowMs: 100, onStoreError: 'fail-closed' });
    for (let i = 0; i < 3; i++) expect((await limiter.take('k')).granted).toBe(true);
    const refused = await limiter.take('k');
    expect(refused.granted).toBe(false);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    const started = performance.now();
    await limiter.acquire('k');
    expect(performance.now() - started).toBeGreaterThanOrEqual((refused.retryAfterMs as number) - 20);
    limiter.close();
  });
});

describe('faults', () => {
  it('SCRIPT FLUSH mid-run: NOSCRIPT is recovered by EVAL and nothing is lost', async () => {
    const name = fresh('flush');
    const limiter = RedisRateLimiter.gcra({ store, name, ratePerSecond: 1, burst: 10, onStoreError: 'fail-closed' });
    const recovered: string[] = [];
    const off = store.onNoScript((script) => recovered.push(script));
    let granted = 0;
    for (let i = 0; i < 5; i++) if ((await limiter.take('k')).granted) granted++;
    expect(server.cli('SCRIPT', 'FLUSH')).toBe('OK');
    for (let i = 0; i < 10; i++) if ((await limiter.take('k')).granted) granted++;
    expect(recovered).toEqual(['gcra-take']);
    // the burst is 10 and the rate 1/s: exactly 10 of 15 passed, across the flush
    expect(granted).toBe(10);
    off();
    limiter.close();
  });

  it('a slow Redis (DEBUG SLEEP) hits the per-call timeout and the policy decides', async () => {
    const slowStore = new RedisStore({ client, timeoutMs: 100 });
    const limiter = RedisRateLimiter.gcra({
      store: slowStore,
      name: fresh('slow'),
      ratePerSecond: 10,
      burst: 5,
      onStoreError: 'fail-open',
      probeIntervalMs: 50,
    });
    const failures: StoreCallError[] = [];
    limiter.onStoreFailure((error) => failures.push(error));
    const sleeper = new Redis(server.port, '127.0.0.1');
    const sleeping = sleeper.call('DEBUG', 'SLEEP', '0.4');
    await sleep(20);
    const started = performance.now();
    const result = await limiter.take('k');
    const took = performance.now() - started;
    expect(result).toMatchObject({ granted: true, decidedBy: 'fail-open' });
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(1_000);
    expect(failures[0]?.timedOut).toBe(true);
    await sleeping;
    sleeper.disconnect();
    await sleep(200);
    expect(limiter.storeDown).toBe(false);
    expect((await limiter.take('k')).decidedBy).toBe('redis');
    limiter.close();
  });

  it('node-redis style clients adapt through fromNodeRedis', async () => {
    const calls: string[] = [];
    const adapted = fromNodeRedis({
      evalSha: (sha, { keys, arguments: args }) => (calls.push('evalSha'), client.evalsha(sha, keys.length, ...keys, ...args)),
      eval: (source, { keys, arguments: args }) => (calls.push('eval'), client.eval(source, keys.length, ...keys, ...args)),
    });
    const limiter = RedisRateLimiter.gcra({
      store: new RedisStore({ client: adapted }),
      name: fresh('node-redis'),
      ratePerSecond: 1,
      burst: 2,
      onStoreError: 'fail-closed',
    });
    expect((await limiter.take('k')).granted).toBe(true);
    expect(calls[0]).toBe('evalSha');
    limiter.close();
  });
});

describe('Redis killed mid-run, then restarted', () => {
  for (const policy of ['fail-closed', 'fail-open', 'insurance'] as const) {
    it(`${policy}: behaves as declared while down, and hands back when Redis answers`, async () => {
      const own = await startRedis();
      const ownClient = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
      ownClient.on('error', () => {});
      const ownStore = new RedisStore({ client: ownClient, timeoutMs: 150 });
      const limiter = RedisRateLimiter.gcra({
        store: ownStore,
        name: fresh(policy),
        ratePerSecond: 1,
        burst: 8,
        onStoreError: policy,
        expectedInstances: 4,
        probeIntervalMs: 50,
      });
      const modes: string[] = [];
      limiter.onModeChange((mode) => modes.push(mode));
      try {
        expect((await limiter.take('k')).decidedBy).toBe('redis');
        await own.kill();
        const whileDown = [];
        for (let i = 0; i < 4; i++) whileDown.push(await limiter.take('k'));
        expect(modes).toEqual(['fallback']);
        if (policy === 'fail-closed') {
          expect(whileDown.every((r) => !r.granted && r.decidedBy === 'fail-closed')).toBe(true);
          const error = await limiter.acquire('k').catch((e: unknown) => e);
          expect(isStoreUnavailableError(error)).toBe(true);
        } else if (policy === 'fail-open') {
          expect(whileDown.every((r) => r.granted && r.decidedBy === 'fail-open')).toBe(true);
        } else {
          // the local limiter holds 8 / 4 = 2 units
          expect(whileDown.map((r) => r.granted)).toEqual([true, true, false, false]);
          expect(whileDown.every((r) => r.decidedBy === 'insurance')).toBe(true);
        }
        await own.restart();
        for (let i = 0; i < 100 && limiter.storeDown; i++) await sleep(20);
        expect(limiter.storeDown).toBe(false);
        expect(modes).toEqual(['fallback', 'redis']);
        expect((await limiter.take('k')).decidedBy).toBe('redis');
      } finally {
        limiter.close();
        ownClient.disconnect();
        await own.stop();
      }
    }, 30_000);
  }
});
