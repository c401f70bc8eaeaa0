import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ClosedError,
  InvalidArgumentError,
  LimitExceededError,
  TooLargeError,
  WaitTimeoutError,
  isStoreUnavailableError,
} from '@sluice/core';
import { RedisStore, type RedisScriptClient, type StoreCallError } from '@sluice/redis';
import { RedisSemaphore, type RedisSemaphoreOptions, type SemaphorePermit } from '@sluice/redis';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/semaphore-holder.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
let server: RedisServer;
let client: Redis;
let store: RedisStore;
let names = 0;
/** A fresh semaphore name per test, so tests never share keys. */
const fresh = (label: string) => `sem-${label}-${++names}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const holders = (name: string, key = 'k') => `sluice:{${name}:${key}}:holders`;
const counts = (name: string, key = 'k') => `sluice:{${name}:${key}}:counts`;
/** Server time, ms (what the leases are scored by). */
const serverNow = async (redis: Redis = client) => {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Number(us) / 1000;
};
/** Polls `condition` every 10 ms for up to `ms`; returns whether it came true. */
async function until(condition: () => boolean | Promise<boolean>, ms = 2_000): Promise<boolean> {
  const end = performance.now() + ms;
  for (;;) {
    if (await condition()) return true;
    if (performance.now() > end) return false;
    await sleep(10);
  }
}

function semaphore(options: Partial<RedisSemaphoreOptions> & { name: string; limit: number }): RedisSemaphore {
  return new RedisSemaphore({ store, leaseMs: 5_000, onStoreError: 'fail-closed', ...options });
}

beforeAll(async () => {
  server = await startRedis();
  client = new Redis(server.port, '127.0.0.1');
  store = new RedisStore({ client, timeoutMs: 2_000 });
}, 30_000);

afterAll(async () => {
  client?.disconnect();
  await server?.stop();
});

describe('RedisSemaphore against a real redis-server', () => {
  it('grants up to the limit, refuses beyond it, frees on release; release is idempotent', async () => {
    const name = fresh('basic');
    const sem = semaphore({ name, limit: 2 });
    const a = await sem.tryAcquire('k');
    const b = await sem.tryAcquire('k');
    expect(a).toMatchObject({ granted: true, decidedBy: 'redis', key: 'k', count: 1, lost: false });
    expect(b?.leaseId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b?.leaseId).not.toBe(a?.leaseId);
    expect(await sem.tryAcquire('k')).toBeUndefined();
    // another key has its own limit
    expect(await sem.tryAcquire('other')).toBeDefined();
    // state: a ZSET of lease ids scored by expiry and a HASH of counts, both under one hash tag
    expect(await client.zcard(holders(name))).toBe(2);
    expect(await client.hget(counts(name), a?.leaseId as string)).toBe('1');
    const expiry = Number(await client.zscore(holders(name), a?.leaseId as string));
    const now = await serverNow();
    expect(expiry - now).toBeGreaterThan(4_000);
    expect(expiry - now).toBeLessThanOrEqual(5_000);
    const ttl = await client.pttl(holders(name));
    expect(ttl).toBeGreaterThan(5_000);
    expect(ttl).toBeLessThanOrEqual(6_000);
    expect(Math.abs((await client.pttl(counts(name))) - ttl)).toBeLessThan(50);
    expect(sem.held).toBe(3);
    a?.release();
    a?.release();
    a?.release();
    // release is one script call, not awaited by the caller
    await until(async () => (await client.zcard(holders(name))) === 1);
    // the repeated releases freed one unit, not three: b still holds its unit
    const c = await sem.tryAcquire('k');
    expect(c).toBeDefined();
    expect(await sem.tryAcquire('k')).toBeUndefined();
    expect(await client.zrange(holders(name), '0', '-1')).toEqual(expect.arrayContaining([b?.leaseId, c?.leaseId]));
    b?.release();
    c?.release();
    await until(async () => (await client.exists(holders(name), counts(name))) === 0);
    // the last release removes both keys
    expect(await client.exists(holders(name), counts(name))).toBe(0);
    await sem.close();
  });

  it('weighted permits: counts add up to the limit, count 0 probes without holding', async () => {
    const name = fresh('weighted');
    const sem = semaphore({ name, limit: 5 });
    const three = await sem.acquire('k', 3);
    expect(await sem.tryAcquire('k', 3)).toBeUndefined();
    const two = await sem.tryAcquire('k', 2);
    expect(two).toMatchObject({ count: 2 });
    expect(await client.hvals(counts(name))).toEqual(expect.arrayContaining(['3', '2']));
    // full: a probe is refused; nothing is written by refusals
    expect(await sem.tryAcquire('k', 0)).toBeUndefined();
    expect(await client.zcard(holders(name))).toBe(2);
    three.release();
    expect(await sem.acquire('k', 3, { maxWaitMs: 1_000 })).toMatchObject({ count: 3 });
    two?.release();
    const probe = await sem.tryAcquire('k', 0);
    expect(probe).toMatchObject({ granted: true, count: 0, leaseId: undefined });
    expect(await client.zcard(holders(name))).toBe(1);
    await expect(sem.tryAcquire('k', 6)).rejects.toBeInstanceOf(TooLargeError);
    await expect(sem.acquire('k', 6)).rejects.toBeInstanceOf(TooLargeError);
    await expect(sem.acquire('k', 1.5)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(sem.tryAcquire('k', -1)).rejects.toBeInstanceOf(InvalidArgumentError);
    await sem.close();
  });

  it('property: 20 concurrent callers on two instances never exceed the limit (weighted too)', async () => {
    for (const weighted of [false, true]) {
      const name = fresh(weighted ? 'swarm-weighted' : 'swarm');
      const limit = weighted ? 5 : 4;
      const otherClient = new Redis(server.port, '127.0.0.1');
      const instances = [
        semaphore({ name, limit }),
        new RedisSemaphore({
          store: new RedisStore({ client: otherClient, timeoutMs: 2_000 }),
          name,
          limit,
          leaseMs: 5_000,
          onStoreError: 'fail-closed',
        }),
      ];
      let inFlight = 0;
      let maxInFlight = 0;
      let rounds = 0;
      await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const sem = instances[i % 2] as RedisSemaphore;
          for (let round = 0; round < 4; round++) {
            const count = weighted ? 1 + ((i + round) % 3) : 1;
            const permit = await sem.acquire('k', count, { maxWaitMs: 15_000 });
            inFlight += count;
            if (inFlight > maxInFlight) maxInFlight = inFlight;
            expect(inFlight).toBeLessThanOrEqual(limit);
            await sleep(Math.random() * 4);
            inFlight -= count;
            permit.release();
            rounds++;
          }
        }),
      );
      expect(rounds).toBe(80);
      expect(maxInFlight).toBeLessThanOrEqual(limit);
      // the limit was used, not just respected
      expect(maxInFlight).toBeGreaterThanOrEqual(limit - 1);
      await Promise.all(instances.map((sem) => sem.close()));
      otherClient.disconnect();
    }
  }, 30_000);

  it('property: 3 processes × 4 workers never hold more than the limit at once (shared counter)', async () => {
    const name = fresh('procs');
    const limit = 3;
    const outputs = await Promise.all(
      Array.from({ length: 3 }, () =>
        run(process.execPath, ['--import', 'tsx', fixture, 'hammer', String(server.port), name, String(limit), '1000', '3'], { cwd: root }),
      ),
    );
    const results = outputs.map((o) => JSON.parse(o.stdout.trim().split('\n').pop() as string) as { maxInFlight: number; rounds: number });
    expect(Math.max(...results.map((r) => r.maxInFlight))).toBe(limit);
    expect(results.every((r) => r.rounds > 0)).toBe(true);
    expect(await client.get(`test:{${name}}:in-flight`)).toBe('0');
    expect(await client.exists(holders(name, 'shared'))).toBe(0);
  }, 30_000);

  it('a holder that never releases loses its units after leaseMs, and not before', async () => {
    const name = fresh('abandoned');
    const leaseMs = 300;
    const crashed = semaphore({ name, limit: 2, leaseMs, renew: false });
    const other = semaphore({ name, limit: 2 });
    const permit = await crashed.acquire('k', 2);
    const expiry = Number(await client.zscore(holders(name), permit.leaseId as string));
    const left = expiry - (await serverNow());
    const started = performance.now();
    expect(left).toBeGreaterThan(leaseMs - 100);
    expect(left).toBeLessThanOrEqual(leaseMs);
    expect(await other.tryAcquire('k')).toBeUndefined();
    await sleep(leaseMs / 2);
    expect(await other.tryAcquire('k')).toBeUndefined();
    const granted = await other.acquire('k', 2, { maxWaitMs: 3_000 });
    const waited = performance.now() - started;
    expect(granted.decidedBy).toBe('redis');
    expect(waited).toBeGreaterThanOrEqual(left - 10);
    expect(waited).toBeLessThan(left + 500);
    // the abandoned lease was cleaned up: only the new holder is left
    expect(await client.zrange(holders(name), '0', '-1')).toEqual([granted.leaseId]);
    expect(await client.hkeys(counts(name))).toEqual([granted.leaseId]);
    granted.release();
    await crashed.close();
    await other.close();
  });

  it('a SIGKILLed process keeps its units while alive (renewal) and loses them leaseMs after its last renewal', async () => {
    const name = fresh('crash');
    const leaseMs = 600;
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, 'hold', String(server.port), name, '2', String(leaseMs), '2'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const leaseId = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const match = /held (\S+)/.exec(out);
          if (match !== null) resolve(match[1] as string);
        });
        child.once('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      const sem = semaphore({ name, limit: 2 });
      // alive for more than a lease: its renewals keep the units
      await sleep(leaseMs + 300);
      expect(await sem.tryAcquire('shared')).toBeUndefined();
      child.kill('SIGKILL');
      await new Promise((resolve) =>
        child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve),
      );
      const killed = performance.now();
      const left = Number(await client.zscore(holders(name, 'shared'), leaseId)) - (await serverNow());
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(leaseMs);
      expect(await sem.tryAcquire('shared')).toBeUndefined();
      const permit = await sem.acquire('shared', 2, { maxWaitMs: 5_000 });
      const waited = performance.now() - killed;
      expect(waited).toBeGreaterThanOrEqual(left - 10);
      expect(waited).toBeLessThan(left + 500);
      permit.release();
      await sem.close();
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);

  it('renewal keeps a long holder past leaseMs; release stops it (no renewal, no lost lease afterwards)', async () => {
    const name = fresh('renew');
    const leaseMs = 300;
    const sem = semaphore({ name, limit: 1, leaseMs });
    const other = semaphore({ name, limit: 1 });
    const lost: SemaphorePermit[] = [];
    sem.onLeaseLost((permit) => lost.push(permit));
    const permit = await sem.acquire('k');
    const firstExpiry = Number(await client.zscore(holders(name), permit.leaseId as string));
    const started = performance.now();
    while (performance.now() - started < 3 * leaseMs) {
      expect(await other.tryAcquire('k')).toBeUndefined();
      await sleep(50);
    }
    const laterExpiry = Number(await client.zscore(holders(name), permit.leaseId as string));
    expect(laterExpiry - firstExpiry).toBeGreaterThan(leaseMs);
    expect(permit.lost).toBe(false);
    permit.release();
    const next = await other.acquire('k', 1, { maxWaitMs: 1_000 });
    next.release();
    await sleep(leaseMs);
    expect(lost).toEqual([]);
    expect(sem.held).toBe(0);
    expect(await client.exists(holders(name))).toBe(0);
    await sem.close();
    await other.close();
  });

  it('a lost lease is reported: data gone, or the event loop stalled past leaseMs', async () => {
    const name = fresh('lost');
    const leaseMs = 150;
    const sem = semaphore({ name, limit: 1, leaseMs });
    const other = semaphore({ name, limit: 1 });
    const lost: SemaphorePermit[] = [];
    sem.onLeaseLost((permit) => lost.push(permit));
    // the data went away (a failover that lost writes, a FLUSHALL)
    const first = await sem.acquire('k');
    await client.del(holders(name), counts(name));
    expect(await until(() => lost.length === 1, 1_000)).toBe(true);
    expect(lost[0]).toBe(first);
    expect(first.lost).toBe(true);
    expect(sem.held).toBe(0);
    first.release();
    // the holder froze (a long GC, a blocked loop) past its lease: another process took the unit
    const second = await sem.acquire('k');
    const frozen = performance.now();
    while (performance.now() - frozen < leaseMs + 150) {
      // busy: no timer of this process can run
    }
    const taken = await other.tryAcquire('k');
    expect(taken).toBeDefined();
    expect(await until(() => lost.length === 2, 1_000)).toBe(true);
    expect(lost[1]).toBe(second);
    expect(second.lost).toBe(true);
    // releasing the lost permit does not free the unit the other holder has now
    second.release();
    await sleep(20);
    expect(await client.zrange(holders(name), '0', '-1')).toEqual([taken?.leaseId]);
    taken?.release();
    await sem.close();
    await other.close();
  });

  it('waiters of one process are served FIFO, woken by a local release; tryAcquire does not jump the queue', async () => {
    const name = fresh('fifo');
    // polls at most once a second: a local release must wake the head at once
    const sem = semaphore({ name, limit: 1, maxPollMs: 1_000 });
    const holder = await sem.acquire('k');
    const order: number[] = [];
    const waiters = [0, 1, 2].map((i) =>
      sem.acquire('k').then((permit) => {
        order.push(i);
        return permit;
      }),
    );
    await sleep(30);
    expect(sem.waiting).toBe(3);
    expect(await sem.tryAcquire('k')).toBeUndefined();
    const released = performance.now();
    holder.release();
    const permits = [];
    for (const waiter of waiters) {
      const permit = await waiter;
      permits.push(permit);
      permit.release();
    }
    expect(performance.now() - released).toBeLessThan(800);
    expect(order).toEqual([0, 1, 2]);
    expect(sem.waiting).toBe(0);
    await until(async () => (await client.exists(holders(name))) === 0);
    expect(await client.exists(holders(name))).toBe(0);
    await sem.close();
  });

  it('a waiter in another instance gets a released unit within the poll cap', async () => {
    const name = fresh('cross');
    const a = semaphore({ name, limit: 1 });
    const b = semaphore({ name, limit: 1, maxPollMs: 50 });
    const held = await a.acquire('k');
    const waiting = b.acquire('k', 1, { maxWaitMs: 3_000 });
    await sleep(100);
    const released = performance.now();
    held.release();
    const permit = await waiting;
    expect(performance.now() - released).toBeLessThan(400);
    permit.release();
    await a.close();
    await b.close();
  });

  it('maxWaitMs: WaitTimeoutError after the wait (0: at once), and nothing left in Redis', async () => {
    const name = fresh('timeout');
    const sem = semaphore({ name, limit: 2 });
    const holder = await sem.acquire('k', 2);
    const started = performance.now();
    const error = await sem.acquire('k', 1, { maxWaitMs: 150 }).catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).maxWaitMs).toBe(150);
    expect(waited).toBeGreaterThanOrEqual(140);
    expect(waited).toBeLessThan(800);
    const now = performance.now();
    await expect(sem.acquire('k', 1, { maxWaitMs: 0 })).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(performance.now() - now).toBeLessThan(300);
    expect(sem.waiting).toBe(0);
    expect(await client.zrange(holders(name), '0', '-1')).toEqual([holder.leaseId]);
    expect(await client.hlen(counts(name))).toBe(1);
    // with room, maxWaitMs 0 passes
    holder.release();
    (await sem.acquire('k', 2, { maxWaitMs: 0 })).release();
    await sem.close();
  });

  it('abort rejects with the reason and leaves no trace in Redis, even when the abort races an admission', async () => {
    const name = fresh('abort');
    const sem = semaphore({ name, limit: 1 });
    const holder = await sem.acquire('k');
    const controller = new AbortController();
    const waiting = sem.acquire('k', 1, { signal: controller.signal }).catch((e: unknown) => e);
    await sleep(120);
    controller.abort(new Error('caller left'));
    expect(((await waiting) as Error).message).toBe('caller left');
    expect(sem.waiting).toBe(0);
    expect(await client.zcard(holders(name))).toBe(1);
    expect(await client.hlen(counts(name))).toBe(1);
    // already aborted: rejected at once, no call
    await expect(sem.acquire('k', 1, { signal: AbortSignal.abort(new Error('too late')) })).rejects.toThrow('too late');
    holder.release();
    await until(async () => (await client.exists(holders(name))) === 0);
    expect(await client.exists(holders(name), counts(name))).toBe(0);
    await sem.close();

    // answers arrive 80 ms late: the script admits, the caller aborts before hearing it, and the
    // admitted lease is given back
    const late: RedisScriptClient = {
      evalsha: async (sha, numkeys, ...rest) => {
        const reply: unknown = await client.evalsha(sha, numkeys, ...rest);
        await sleep(80);
        return reply;
      },
      eval: async (source, numkeys, ...rest) => {
        const reply: unknown = await client.eval(source, numkeys, ...rest);
        await sleep(80);
        return reply;
      },
    };
    const slowName = fresh('abort-race');
    const slow = new RedisSemaphore({
      store: new RedisStore({ client: late, timeoutMs: 2_000 }),
      name: slowName,
      limit: 1,
      leaseMs: 5_000,
      onStoreError: 'fail-closed',
    });
    const racing = new AbortController();
    const raced = slow.acquire('k', 1, { signal: racing.signal }).catch((e: unknown) => e);
    await sleep(30);
    expect(await client.zcard(holders(slowName))).toBe(1);
    racing.abort(new Error('gone'));
    expect(((await raced) as Error).message).toBe('gone');
    await slow.close();
    expect(await client.exists(holders(slowName), counts(slowName))).toBe(0);
  });

  it('close(): waiters get ClosedError, renewals stop, later calls throw; a release after close still frees', async () => {
    const name = fresh('close');
    const leaseMs = 300;
    const sem = semaphore({ name, limit: 2, leaseMs });
    const kept = await sem.acquire('k');
    const freed = await sem.acquire('k');
    const waiting = sem.acquire('k').catch((e: unknown) => e);
    await sleep(20);
    await sem.close();
    expect(await waiting).toBeInstanceOf(ClosedError);
    await expect(sem.acquire('k')).rejects.toBeInstanceOf(ClosedError);
    await expect(sem.tryAcquire('k')).rejects.toBeInstanceOf(ClosedError);
    freed.release();
    await until(async () => (await client.zcard(holders(name))) === 1);
    expect(await client.zrange(holders(name), '0', '-1')).toEqual([kept.leaseId]);
    // no renewal any more: the kept lease lapses, and another instance gets both units
    const expiry = Number(await client.zscore(holders(name), kept.leaseId as string));
    await sleep(leaseMs + 100);
    expect(Number(await client.zscore(holders(name), kept.leaseId as string))).toBe(expiry);
    expect(expiry).toBeLessThan(await serverNow());
    const other = semaphore({ name, limit: 2 });
    (await other.tryAcquire('k', 2))?.release();
    expect(await client.zscore(holders(name), kept.leaseId as string)).toBeNull();
    await sem.close();
    await other.close();
  });

  it('refuses bad options at construction', () => {
    const base = { store, leaseMs: 1_000, limit: 2, onStoreError: 'fail-closed' } as const;
    expect(() => new RedisSemaphore({ ...base, limit: 0 })).toThrow(/limit/);
    expect(() => new RedisSemaphore({ ...base, limit: 1.5 })).toThrow(InvalidArgumentError);
    expect(() => new RedisSemaphore({ ...base, leaseMs: 0 })).toThrow(/leaseMs/);
    expect(() => new RedisSemaphore({ ...base, leaseMs: Number.NaN })).toThrow(/leaseMs/);
    expect(() => new RedisSemaphore({ ...base, leaseMs: Infinity })).toThrow(/leaseMs/);
    expect(() => new RedisSemaphore({ ...base, maxPollMs: 0 })).toThrow(/maxPollMs/);
    expect(() => new RedisSemaphore({ ...base, renew: 'yes' as never })).toThrow(/renew/);
    expect(() => new RedisSemaphore({ ...base, name: '' })).toThrow(/name/);
    expect(() => new RedisSemaphore({ ...base, store: {} as never })).toThrow(/store/);
    expect(() => new RedisSemaphore({ ...base, onStoreError: 'maybe' as never })).toThrow(/onStoreError/);
    expect(() => new RedisSemaphore({ ...base, onStoreError: 'insurance' })).toThrow(/expectedInstances/);
    expect(() => new RedisSemaphore(undefined as never)).toThrow(InvalidArgumentError);
    const sem = new RedisSemaphore({ ...base, onStoreError: 'insurance', expectedInstances: 3 });
    expect(sem.insuranceLimit).toBe(1);
    expect(sem.name).toBe('semaphore');
    void sem.close();
  });

  it('bad keys and options are refused per call', async () => {
    const sem = semaphore({ name: fresh('bad-call'), limit: 2 });
    await expect(sem.acquire('')).rejects.toThrow(/key/);
    await expect(sem.tryAcquire(42 as never)).rejects.toThrow(/key/);
    await expect(sem.acquire('k', 1, { maxWaitMs: -1 })).rejects.toThrow(/maxWaitMs/);
    await sem.close();
  });

  it('SCRIPT FLUSH mid-run: acquire, renewal and release recover by EVAL', async () => {
    const name = fresh('flush');
    const leaseMs = 300;
    const sem = semaphore({ name, limit: 1, leaseMs });
    const other = semaphore({ name, limit: 1 });
    const recovered: string[] = [];
    const off = store.onNoScript((script) => recovered.push(script));
    const permit = await sem.acquire('k');
    const firstExpiry = Number(await client.zscore(holders(name), permit.leaseId as string));
    expect(await client.script('FLUSH')).toBe('OK');
    // a renewal ran (by EVAL) and pushed the expiry
    await sleep(leaseMs / 3 + 100);
    expect(Number(await client.zscore(holders(name), permit.leaseId as string))).toBeGreaterThan(firstExpiry);
    expect(await client.script('FLUSH')).toBe('OK');
    permit.release();
    await until(async () => (await client.exists(holders(name))) === 0);
    expect(await client.script('FLUSH')).toBe('OK');
    const next = await other.acquire('k', 1, { maxWaitMs: 1_000 });
    expect(next.decidedBy).toBe('redis');
    next.release();
    expect(recovered).toEqual(expect.arrayContaining(['semaphore-renew', 'semaphore-release', 'semaphore-acquire']));
    off();
    await sem.close();
    await other.close();
  });
});

describe('RedisSemaphore with Redis killed mid-run, then restarted', () => {
  for (const policy of ['fail-closed', 'fail-open', 'insurance'] as const) {
    it(`${policy}: behaves as declared while down, old permits release safely, hands back`, async () => {
      const own = await startRedis();
      const ownClient = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
      ownClient.on('error', () => {});
      const ownStore = new RedisStore({ client: ownClient, timeoutMs: 150 });
      const sem = new RedisSemaphore({
        store: ownStore,
        name: fresh(policy),
        limit: 8,
        leaseMs: 600,
        onStoreError: policy,
        expectedInstances: 4,
        probeIntervalMs: 50,
      });
      const modes: string[] = [];
      const failures: StoreCallError[] = [];
      const lost: SemaphorePermit[] = [];
      sem.onModeChange((mode) => modes.push(mode));
      sem.onStoreFailure((error) => failures.push(error));
      sem.onLeaseLost((permit) => lost.push(permit));
      try {
        const before = await sem.acquire('k');
        const acrossRestart = await sem.acquire('k');
        expect(before.decidedBy).toBe('redis');
        await own.kill();
        // a permit Redis granted: its release call fails, is reported, and rejects nothing
        before.release();
        expect(await until(() => modes.length === 1, 2_000)).toBe(true);
        expect(modes).toEqual(['fallback']);
        expect(failures.length).toBeGreaterThanOrEqual(1);
        if (policy === 'fail-closed') {
          const tried = await sem.tryAcquire('k').catch((e: unknown) => e);
          expect(isStoreUnavailableError(tried)).toBe(true);
          const acquired = await sem.acquire('k').catch((e: unknown) => e);
          expect(isStoreUnavailableError(acquired)).toBe(true);
        } else if (policy === 'fail-open') {
          const permits = [];
          for (let i = 0; i < 12; i++) permits.push(await sem.tryAcquire('k'));
          expect(permits.every((p) => p?.decidedBy === 'fail-open')).toBe(true);
          expect((await sem.acquire('k', 8)).decidedBy).toBe('fail-open');
          for (const p of permits) p?.release();
        } else {
          // the local limiter holds floor(8 / 4) = 2 slots
          const permits = [await sem.tryAcquire('k'), await sem.tryAcquire('k'), await sem.tryAcquire('k')];
          expect(permits.map((p) => p?.decidedBy)).toEqual(['insurance', 'insurance', undefined]);
          await expect(sem.acquire('k', 1, { maxWaitMs: 50 })).rejects.toBeInstanceOf(WaitTimeoutError);
          await expect(sem.acquire('k', 3)).rejects.toBeInstanceOf(LimitExceededError);
          const waiting = sem.acquire('k', 1, { maxWaitMs: 2_000 });
          permits[0]?.release();
          expect((await waiting).decidedBy).toBe('insurance');
          permits[1]?.release();
        }
        await own.restart();
        expect(await until(() => !sem.storeDown, 3_000)).toBe(true);
        expect(modes).toEqual(['fallback', 'redis']);
        // the restarted Redis is empty: the lease held across the restart is reported lost
        expect(await until(() => lost.length === 1, 2_000)).toBe(true);
        expect(lost[0]).toBe(acrossRestart);
        acrossRestart.release();
        const after = await sem.acquire('k', 8, { maxWaitMs: 1_000 });
        expect(after.decidedBy).toBe('redis');
        after.release();
      } finally {
        await sem.close();
        ownClient.disconnect();
        await own.stop();
      }
    }, 30_000);
  }
});
