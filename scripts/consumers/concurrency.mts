import { ConcurrencyLimiter, concurrencyLimiter } from '@sluice/concurrency';

const limiter: ConcurrencyLimiter = concurrencyLimiter({ maxConcurrent: 2, queueLimit: 10 });
const result: Promise<number> = limiter.run(async () => 42);
const other = new ConcurrencyLimiter({ maxConcurrent: 1 });
const _inFlight: number = other.inFlight;
void result, _inFlight;
