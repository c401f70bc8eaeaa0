import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RedisSemaphore, RedisStore } from '@sluice/redis';
import { sharedRedis } from './fixtures/shared-redis.ts';

// Fair ordering across processes: waiters hold tickets in a line in Redis, a freed unit goes to
// the oldest live ticket. What broke without it: "whoever polls first after a release wins", and
// in a 3-process run one process got 93 permits and another 489, with WaitTimeoutErrors.
const run = promisify(execFile);
const fixture = fileURLToPath(new URL('./fixtures/semaphore-holder.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../', import.meta.url));
const redis = sharedRedis();
let names = 0;
const fresh = (label: string) => `fair-${label}-${++names}`;

interface HammerResult {
  readonly maxInFlight: number;
  readonly rounds: number;
  readonly timeouts: number;
}

/** Runs `processes` child processes hammering one key; returns each one's result. */
async function hammer(
  name: string,
  limit: number,
  processes: number,
  fairness: 'fair' | 'unfair',
  api: 'acquire' | 'gate',
): Promise<HammerResult[]> {
  const port = String(redis().options.port);
  const outputs = await Promise.all(
    Array.from({ length: processes }, () =>
      run(process.execPath, ['--import', 'tsx', fixture, 'hammer', port, name, String(limit), '2000', String(processes), fairness, api], {
        cwd: root,
      }),
    ),
  );
  return outputs.map((o) => JSON.parse(o.stdout.trim().split('\n').pop() as string) as HammerResult);
}

describe('RedisSemaphore fair ordering across processes', () => {
  for (const api of ['acquire', 'gate'] as const) {
    it(`3 processes × 4 workers (${api}): grants spread evenly (max ≤ 1.3 × min), nobody times out, never above the limit`, async () => {
      const name = fresh(api);
      const results = await hammer(name, 2, 3, 'fair', api);
      const rounds = results.map((r) => r.rounds);
      expect(Math.min(...rounds)).toBeGreaterThan(20);
      expect(Math.max(...rounds)).toBeLessThanOrEqual(1.3 * Math.min(...rounds));
      expect(results.map((r) => r.timeouts)).toEqual([0, 0, 0]);
      expect(Math.max(...results.map((r) => r.maxInFlight))).toBeLessThanOrEqual(2);
      // every ticket left the line with its last waiter
      expect(await redis().exists(`sluice:{${name}:shared}:line`)).toBe(0);
    }, 30_000);
  }

  it('a ticket of a process that stopped polling blocks the line for ticketTtlMs at most', async () => {
    const name = fresh('dead');
    const store = new RedisStore({ client: redis(), timeoutMs: 2_000 });
    const sem = new RedisSemaphore({
      store,
      name,
      maxConcurrent: 1,
      leaseMs: 5_000,
      maxPollMs: 10,
      ticketTtlMs: 300,
      onStoreError: 'fail-closed',
    });
    // a dead process's ticket at the front of the line, its last poll just now
    const [seconds, micros] = await redis().time();
    const now = Number(seconds) * 1000 + Number(micros) / 1000;
    await redis().zadd(`sluice:{${name}:k}:line`, now - 1, 'dead-ticket');
    await redis().zadd(`sluice:{${name}:k}:line-expiry`, now + 300, 'dead-ticket');
    // a now-or-never call is refused while the line is not empty, though the unit is free
    const refused = await sem.gate('k').tryAcquireNow(1);
    expect(refused).toMatchObject({ granted: false, reason: 'exhausted' });
    const started = performance.now();
    const permit = await sem.gate('k').acquire(1, { maxWaitMs: 3_000 });
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(200);
    expect(waited).toBeLessThan(1_500);
    permit.release();
    expect(await redis().zcard(`sluice:{${name}:k}:line`)).toBe(0);
    await sem.close();
  });

  it('fair: false keeps the old behaviour (no line in Redis)', async () => {
    const name = fresh('unfair');
    const sem = new RedisSemaphore({
      store: new RedisStore({ client: redis() }),
      name,
      maxConcurrent: 1,
      leaseMs: 5_000,
      fair: false,
      onStoreError: 'fail-closed',
    });
    expect(sem.fair).toBe(false);
    const held = await sem.acquire('k');
    const waiting = sem.acquire('k');
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(await redis().exists(`sluice:{${name}:k}:line`)).toBe(0);
    held.release();
    (await waiting).release();
    await sem.close();
  });
});
