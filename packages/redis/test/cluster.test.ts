import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisLlmLimiter, RedisRateLimiter, RedisStore, hashSlot } from '@sluice/redis';
import { startRedisCluster, type RedisCluster } from '../../../test-support/redis.ts';

// Three masters on loopback (`--cluster-enabled yes`, joined by `redis-cli --cluster create`):
// every script touches keys of one hash slot, so none fails with CROSSSLOT, and each node that
// never saw a script answers NOSCRIPT once and is taught it by EVAL.
let cluster: RedisCluster;
let client: Cluster;
let store: RedisStore;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  client = new Cluster(cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })));
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve);
    client.once('error', reject);
  });
  store = new RedisStore({ client, timeoutMs: 2_000 });
}, 60_000);

afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
});

describe('on a 3-master Redis Cluster', () => {
  it('a multi-key script over keys of different slots fails with CROSSSLOT (the check is live)', async () => {
    const error = await client.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, 'a-key', 'another-key').catch((e: unknown) => e);
    expect(String(error)).toMatch(/CROSSSLOT/);
  });

  it('hashSlot agrees with the cluster, and coalesced takes over many slots are grouped by slot', async () => {
    for (const key of ['plain', store.key('a', 'user:1', 'tat'), 'x{}{y}', 'weird{}', '{only}', 'ü{ñ}']) {
      expect(hashSlot(key)).toBe(Number(cluster.nodes[0]?.cli('CLUSTER', 'KEYSLOT', key)));
    }
    const limiter = RedisRateLimiter.gcra({ store, name: 'cluster-coalesce', ratePerSecond: 1, burst: 2, onStoreError: 'fail-closed' });
    expect(store.cluster).toBe(true);
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => limiter.take(`user:${i % 20}`)));
    // 20 keys, 3 takes each, burst 2: the first two of each key pass
    expect(results.map((r) => r.granted)).toEqual(Array.from({ length: 60 }, (_, i) => i < 40));
    limiter.close();
  });

  it('every limiter script runs on keys spread over every node, without CROSSSLOT', async () => {
    const recovered: string[] = [];
    store.onNoScript((script) => recovered.push(script));
    const gcra = RedisRateLimiter.gcra({ store, name: 'cluster-gcra', ratePerSecond: 10, burst: 3, onStoreError: 'fail-closed' });
    const window = RedisRateLimiter.slidingWindow({
      store,
      name: 'cluster-window',
      limit: 2,
      windowMs: 60_000,
      onStoreError: 'fail-closed',
    });
    const leased = RedisRateLimiter.gcra({
      store,
      name: 'cluster-lease',
      ratePerSecond: 1,
      burst: 100,
      onStoreError: 'fail-closed',
      lease: { units: 10 },
    });
    const llm = new RedisLlmLimiter({
      store,
      name: 'cluster-llm',
      requestsPerMinute: 60,
      tokensPerMinute: 10_000,
      onStoreError: 'fail-closed',
    });
    const keys = Array.from({ length: 30 }, (_, i) => `user:${i}`);
    const owner = slotOwners();
    const owners = new Set(
      keys.map((k) => owner(Number(cluster.nodes[0]?.cli('CLUSTER', 'KEYSLOT', store.key('cluster-gcra', k, 'tat'))))),
    );
    expect(owners.size).toBe(3);
    for (const key of keys) {
      const takes = [];
      for (let i = 0; i < 4; i++) takes.push((await gcra.take(key)).granted);
      expect(takes).toEqual([true, true, true, false]);
      expect((await window.take(key)).granted).toBe(true);
      expect((await window.take(key)).granted).toBe(true);
      expect((await window.take(key)).granted).toBe(false);
      expect((await leased.take(key)).decidedBy).toBe('redis');
      expect((await leased.take(key)).decidedBy).toBe('lease');
      const permit = await llm.acquire({ inputTokens: 100, maxOutputTokens: 100 }, { key, maxWaitMs: 0 });
      permit.release({ ok: true, usage: { inputTokens: 90, outputTokens: 40 } });
    }
    await leased.close();
    // each script was taught to each node once, on its first NOSCRIPT there
    for (const script of ['gcra-take', 'sliding-take', 'gcra-lease', 'llm-take']) {
      expect(recovered.filter((s) => s === script).length).toBe(3);
    }
    gcra.close();
    window.close();
    llm.close();
  });
});

/** The id of the node serving each slot, from `CLUSTER NODES` (`<id> <addr> … <from>-<to> …`). */
function slotOwners(): (slot: number) => string {
  const ranges: { from: number; to: number; id: string }[] = [];
  for (const line of (cluster.nodes[0]?.cli('CLUSTER', 'NODES') ?? '').split('\n')) {
    const fields = line.split(' ');
    for (const range of fields.slice(8)) {
      const [from, to] = range.split('-').map(Number);
      if (from !== undefined && Number.isInteger(from)) ranges.push({ from, to: to ?? from, id: fields[0] as string });
    }
  }
  return (slot) => ranges.find((r) => slot >= r.from && slot <= r.to)?.id ?? 'none';
}
