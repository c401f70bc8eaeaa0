import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
  process.env.REDIS_PORT = String(server.port);
}, 30_000);
afterAll(async () => {
  delete process.env.REDIS_PORT;
  await server?.stop();
});

describe('README', () => {
  it('the example runs against a real redis-server: five pass, the sixth waits half a second', async () => {
    const lines = await runReadmeBlock(import.meta.url, 0);
    expect(lines).toEqual(['ok, ok, ok, ok, ok, retry in 0.5 s']);
  });
});
