import { consecutiveFailures } from '@sluice/breaker';
import { overloadProtection, type OverloadProtection } from '@sluice/overload';

const door: OverloadProtection = overloadProtection({
  breaker: { trip: consecutiveFailures(5), halfOpenAfterMs: 5_000 },
  shedder: { capacity: 4 },
  limiter: { ratePerSecond: 50, burst: 100 },
  concurrency: { maxConcurrent: 2, queueLimit: 1 },
});
const result: Promise<{ id: number }> = door.run(async () => ({ id: 1 }), { cost: 10 });
void result;
