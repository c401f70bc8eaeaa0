import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NOT_RUN, TooLargeError, WaitTimeoutError } from '@sluice/core';
import { bucketTokens, bucketWaitMs } from '@sluice/rate-limit';
import { LLM_TAKE, RedisLlmLimiter, RedisStore } from '@sluice/redis';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

let server: RedisServer;
let clients: Redis[];
let store: RedisStore;
let names = 0;
const fresh = (label: string) => `${label}-${++names}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  server = await startRedis();
  clients = [0, 1, 2].map(() => new Redis(server.port, '127.0.0.1'));
  store = new RedisStore({ client: clients[0] as Redis, timeoutMs: 2_000 });
}, 30_000);

afterAll(async () => {
  for (const client of clients ?? []) client.disconnect();
  await server?.stop();
});

/** Levels stored in the limiter's hash, by field. */
function levels(name: string, key = 'default'): Record<string, number> {
  const flat = server.cli('HGETALL', `sluice:{${name}:${key}}:llm`).split('\n');
  const out: Record<string, number> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = Number(flat[i + 1]);
  return out;
}

describe('RedisLlmLimiter against a real redis-server', () => {
  it('admits atomically across dimensions: a request that does not fit one dimension takes nothing from the others', async () => {
    const name = fresh('atomic');
    const quota = new RedisLlmLimiter({ store, name, requestsPerMinute: 100, tokensPerMinute: 1_000, onStoreError: 'fail-closed' });
    const first = await quota.tryAcquire({ inputTokens: 600, maxOutputTokens: 300 });
    expect(first.granted).toBe(true);
    const before = levels(name);
    expect(before.rpm).toBeCloseTo(99, 1);
    expect(before.tpm).toBeCloseTo(100, 0);
    const refused = await quota.tryAcquire({ inputTokens: 200, maxOutputTokens: 100 });
    expect(refused.granted).toBe(false);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(10_000);
    // the refusal wrote nothing: rpm untouched
    expect(levels(name).rpm).toBeCloseTo(before.rpm as number, 1);
    await expect(quota.tryAcquire({ inputTokens: 900, maxOutputTokens: 200 })).rejects.toBeInstanceOf(TooLargeError);
    quota.close();
  });

  it('release reconciles every dimension to the usage; NOT_RUN gives everything back; no usage keeps it', async () => {
    const name = fresh('reconcile');
    const quota = new RedisLlmLimiter({
      store,
      name,
      requestsPerDay: 10,
      inputTokensPerMinute: 10_000,
      outputTokensPerMinute: 10_000,
      onStoreError: 'fail-closed',
    });
    const started = performance.now();
    // tokens refilled since the first reservation (10,000 a minute), plus a token of slack
    const refilled = () => ((performance.now() - started) * 10_000) / 60_000 + 1;
    const permit = await quota.acquire({ inputTokens: 1_000, maxOutputTokens: 2_000 });
    permit.release({ ok: true, usage: { inputTokens: 1_200, outputTokens: 300 } });
    await sleep(20);
    let now = levels(name);
    // input: 200 more than reserved debited; output: 1,700 of 2,000 refunded (less what refilled meanwhile)
    expect(10_000 - (now.itpm as number)).toBeGreaterThan(1_200 - refilled());
    expect(10_000 - (now.itpm as number)).toBeLessThanOrEqual(1_200);
    expect(10_000 - (now.otpm as number)).toBeGreaterThan(300 - refilled());
    expect(10_000 - (now.otpm as number)).toBeLessThanOrEqual(300);
    expect(now.rpd).toBeCloseTo(9, 2);
    const unused = await quota.acquire({ inputTokens: 500, maxOutputTokens: 500 });
    unused.release(NOT_RUN);
    unused.release(NOT_RUN);
    const kept = await quota.acquire({ inputTokens: 100, maxOutputTokens: 100 });
    kept.release();
    await sleep(20);
    now = levels(name);
    expect(now.rpd).toBeCloseTo(8, 2);
    expect(10_000 - (now.otpm as number)).toBeGreaterThan(400 - refilled());
    expect(10_000 - (now.otpm as number)).toBeLessThanOrEqual(400);
    quota.close();
  });

  it('the script follows the in-memory bucket arithmetic in every dimension (property, fixed instants)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            dt: fc.integer({ min: 0, max: 5_000 }),
            input: fc.integer({ min: 0, max: 600 }),
            output: fc.integer({ min: 0, max: 400 }),
          }),
          { minLength: 1, maxLength: 15 },
        ),
        async (steps) => {
          const key = `sluice:{${fresh('llm-maths')}:k}:llm`;
          const caps = [60, 1_000];
          const rates = caps.map((c) => c / 60_000);
          let lv = [...caps];
          let at = 1_700_000_000_000;
          let now = at;
          for (const { dt, input, output } of steps) {
            now += dt;
            lv = lv.map((l, i) => bucketTokens(l, at, now, rates[i] as number, caps[i] as number));
            at = now;
            const costs = [1, input + output];
            const wait = Math.max(...costs.map((c, i) => bucketWaitMs(lv[i] as number, c, rates[i] as number)));
            const args = [2, 'rpm', caps[0], rates[0], costs[0], 'tpm', caps[1], rates[1], costs[1], 0, now] as (string | number)[];
            const reply = (await store.run(LLM_TAKE, [key], args)) as [number, string, string];
            expect(reply[0] === 1).toBe(wait === 0);
            expect(Number(reply[1])).toBeCloseTo(wait, 3);
            if (wait === 0) lv = lv.map((l, i) => l - (costs[i] as number));
          }
        },
      ),
      { numRuns: 40 },
    );
  });

  it('three instances on separate connections never exceed capacity + rate × t in tokens', async () => {
    const name = fresh('shared');
    const tpm = 60_000; // 1,000 tokens per second
    const instances = clients.map(
      (client) => new RedisLlmLimiter({ store: new RedisStore({ client }), name, tokensPerMinute: tpm, onStoreError: 'fail-closed' }),
    );
    const admitted: { at: number; tokens: number }[] = [];
    const end = performance.now() + 1_000;
    await Promise.all(
      instances.flatMap((quota) =>
        [0, 1, 2, 3].map(async () => {
          while (performance.now() < end) {
            const tokens = 50 + Math.floor(Math.random() * 200);
            const permit = await quota.tryAcquire({ inputTokens: tokens });
            if (permit.granted) admitted.push({ at: performance.now(), tokens });
          }
        }),
      ),
    );
    admitted.sort((a, b) => a.at - b.at);
    const total = admitted.reduce((sum, a) => sum + a.tokens, 0);
    const span = ((admitted.at(-1)?.at ?? 0) - (admitted[0]?.at ?? 0)) / 1000;
    // the whole run fits capacity + rate × span (+ one request of slack for the local timestamps)
    expect(total).toBeLessThanOrEqual(tpm + 1_000 * span + 250);
    expect(total).toBeGreaterThan(0.8 * (tpm + 1_000 * span) - 1_000);
    for (const quota of instances) quota.close();
  });

  it('acquire reserves a place in time and maxWaitMs refuses at once without writing', async () => {
    const name = fresh('reserve');
    const quota = new RedisLlmLimiter({ store, name, requestsPerMinute: 600, onStoreError: 'fail-closed' }); // 10 per second
    // drain until refused (how long the loop takes decides how much refilled meanwhile, so the
    // expected wait is read from the refusal, not assumed)
    let refusal: { granted: boolean; retryAfterMs?: number | undefined } = { granted: true };
    for (let i = 0; i < 2_000 && refusal.granted; i++) refusal = await quota.tryAcquire();
    expect(refusal.granted).toBe(false);
    const started = performance.now();
    await quota.acquire({}, { maxWaitMs: 1_000 });
    // the reservation came due no earlier than the refusal said (2 ms for rounding and the gap since)
    expect(performance.now() - started).toBeGreaterThanOrEqual((refusal.retryAfterMs as number) - 2);
    const rpm = levels(name).rpm as number;
    await expect(quota.acquire({}, { maxWaitMs: 10 })).rejects.toBeInstanceOf(WaitTimeoutError);
    expect(levels(name).rpm).toBeGreaterThanOrEqual(rpm);
    const controller = new AbortController();
    const aborted = quota.acquire({}, { signal: controller.signal }).catch((error: unknown) => error);
    await sleep(10);
    controller.abort(new Error('client left'));
    expect(((await aborted) as Error).message).toBe('client left');
    await sleep(10);
    // the aborted reservation went back: the level is where it was (plus refill)
    expect(levels(name).rpm).toBeGreaterThan(rpm - 0.5);
    quota.close();
  });

  it('insurance decides with a local limiter sized by expectedInstances while Redis is down', async () => {
    const own = await startRedis();
    const client = new Redis(own.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
    client.on('error', () => {});
    const quota = new RedisLlmLimiter({
      store: new RedisStore({ client, timeoutMs: 150 }),
      name: fresh('insured'),
      requestsPerMinute: 40,
      onStoreError: 'insurance',
      expectedInstances: 4,
      probeIntervalMs: 50,
    });
    try {
      expect((await quota.tryAcquire()).granted).toBe(true);
      await own.kill();
      const answers = [];
      for (let i = 0; i < 12; i++) answers.push((await quota.tryAcquire()).granted);
      // 40 / 4 = 10 requests a minute locally
      expect(answers.filter(Boolean)).toHaveLength(10);
      await own.restart();
      for (let i = 0; i < 100 && quota.storeDown; i++) await sleep(20);
      expect(quota.storeDown).toBe(false);
      expect((await quota.tryAcquire()).granted).toBe(true);
    } finally {
      quota.close();
      client.disconnect();
      await own.stop();
    }
  }, 30_000);

  it('observe: a provider 429 seen by one process pauses every process until its retry hint', async () => {
    const name = fresh('observe-429');
    const [a, b] = clients.slice(0, 2).map(
      (client) =>
        new RedisLlmLimiter({
          store: new RedisStore({ client: client as Redis }),
          name,
          tokensPerMinute: 100_000,
          onStoreError: 'fail-closed',
        }),
    ) as [RedisLlmLimiter, RedisLlmLimiter];
    const body = {
      error: { message: 'Rate limit reached for gpt-4o-mini on tokens per min (TPM)', type: 'tokens', code: 'rate_limit_exceeded' },
    };
    const seen = await a.observe(
      new Response(JSON.stringify(body), { status: 429, headers: { 'retry-after-ms': '300', 'content-type': 'application/json' } }),
      body,
    );
    expect(seen.triage).toMatchObject({ action: 'retry-after', retryAfterMs: 300 });
    const refused = await b.tryAcquire({ inputTokens: 10 });
    expect(refused.granted).toBe(false);
    expect((refused as { retryAfterMs: number }).retryAfterMs).toBeGreaterThan(200);
    const started = performance.now();
    await b.acquire({ inputTokens: 10 }, { maxWaitMs: 2_000 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    // a plain server error does not pause anyone
    await sleep(5);
    await a.observe(new Response('oops', { status: 500 }), 'oops');
    const after = await b.tryAcquire({ inputTokens: 10 });
    expect(after.granted, JSON.stringify(after)).toBe(true);
    a.close();
    b.close();
  });

  it('observe: rate-limit headers lower the shared levels (never raise them), minding headroom', async () => {
    const name = fresh('observe-headers');
    const quota = new RedisLlmLimiter({
      store,
      name,
      tokensPerMinute: 10_000,
      requestsPerMinute: 100,
      headroom: 0.1,
      onStoreError: 'fail-closed',
    });
    const headers = {
      'x-ratelimit-limit-tokens': '10000',
      'x-ratelimit-remaining-tokens': '3000',
      'x-ratelimit-reset-tokens': '42s',
      'x-ratelimit-limit-requests': '100',
      'x-ratelimit-remaining-requests': '100',
      'x-ratelimit-reset-requests': '600ms',
    };
    const seen = await quota.observe(new Headers(headers));
    expect(seen.corrected).toEqual(['tokens']);
    // 3,000 left at the provider, of which 1,000 (the headroom) the quota keeps unused
    expect(levels(name).tpm).toBeCloseTo(2_000, -1);
    expect((await quota.tryAcquire({ inputTokens: 2_500 })).granted).toBe(false);
    expect((await quota.tryAcquire({ inputTokens: 1_500 })).granted).toBe(true);
    // a later, higher report never raises the level
    const again = await quota.observe(new Headers({ ...headers, 'x-ratelimit-remaining-tokens': '9000' }));
    expect(again.corrected).toEqual([]);
    expect(levels(name).tpm).toBeLessThan(600);
    quota.close();
  });

  it('refuses bad options and requests at the boundary', async () => {
    expect(() => new RedisLlmLimiter({ store, onStoreError: 'fail-closed' })).toThrow(/at least one limit/);
    expect(() => new RedisLlmLimiter({ store, tokensPerMinute: -1, onStoreError: 'fail-closed' })).toThrow(/tokensPerMinute/);
    expect(() => new RedisLlmLimiter({ store, tokensPerMinute: 1, headroom: 1, onStoreError: 'fail-closed' })).toThrow(/headroom/);
    const quota = new RedisLlmLimiter({ store, name: fresh('bad'), tokensPerMinute: 100, onStoreError: 'fail-open' });
    await expect(quota.acquire({ inputTokens: 1.5 })).rejects.toThrow(/inputTokens/);
    await expect(quota.acquire({}, { key: '' })).rejects.toThrow(/key/);
    quota.close();
    await expect(quota.acquire()).rejects.toThrow(/closed/);
  });
});
