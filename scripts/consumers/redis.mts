import { Redis } from 'ioredis';
import { RedisRateLimiter, RedisStore, type RedisScriptClient, type TakeResult } from '@sluice/redis';

const client = new Redis(6379, '127.0.0.1', { lazyConnect: true });
const asClient: RedisScriptClient = client;
const store = new RedisStore({ client, timeoutMs: 100 });
const perUser: RedisRateLimiter = RedisRateLimiter.gcra({ store, name: 'api', ratePerSecond: 2, burst: 5, onStoreError: 'fail-closed' });
const answer: Promise<TakeResult> = perUser.take('user:42');
const _granted: Promise<boolean> = answer.then((a) => a.granted);
void asClient, _granted;
