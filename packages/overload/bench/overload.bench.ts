/**
 * The preset's cost per call on the uncontended path: one op = `await door.run(fn)` with
 * `fn = async () => 1`, every layer open (breaker closed, shedder below its threshold, limiter
 * full, concurrency free). Floor: a bare `await fn()`. Peer: cockatiel's `wrap(circuitBreaker,
 * bulkhead)`, the closest composition a peer offers (it has no shedder or rate limiter).
 */
import { consecutiveFailures } from '@sluice/breaker';
import { overloadProtection } from '@sluice/overload';
import { suite } from '../../../bench/harness.ts';
import {
  Cockatiel4ConsecutiveBreaker,
  CockatielConsecutiveBreaker,
  cockatiel4Bulkhead,
  cockatiel4CircuitBreaker,
  cockatiel4HandleAll,
  cockatiel4Wrap,
  cockatielBulkhead,
  cockatielCircuitBreaker,
  cockatielHandleAll,
  cockatielWrap,
} from '../../../bench/peers.ts';

const work = async (): Promise<number> => 1;

async function check(name: string, call: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const value = await call();
    if (value !== 1) throw new Error(`overload bench: ${name} did not return the value of fn (${String(value)})`);
  }
}

suite('overload', (s) => {
  s.group(
    'run(fn), every layer open',
    {
      note:
        'One op = `await x(fn)` with `fn = async () => 1`, sequentially (nothing contends). sluice: `overloadProtection` with ' +
        'breaker (`consecutiveFailures(5)`), shedder (capacity 1,000), token bucket (1e9/s) and concurrency (16), and with ' +
        'breaker + concurrency only. cockatiel (3.2.1 and 4.0.0): `wrap(circuitBreaker(handleAll, ConsecutiveBreaker(5)), ' +
        'bulkhead(16))`. ' +
        'Floor: a bare `await fn()`.',
      added: true,
    },
    async (g) => {
      const full = overloadProtection({
        breaker: { trip: consecutiveFailures(5), halfOpenAfterMs: 10_000 },
        shedder: { capacity: 1_000 },
        limiter: { ratePerSecond: 1e9, burst: 1e9 },
        concurrency: { maxConcurrent: 16, queueLimit: 1_000 },
      });
      const pair = overloadProtection({
        breaker: { trip: consecutiveFailures(5), halfOpenAfterMs: 10_000 },
        concurrency: { maxConcurrent: 16, queueLimit: 1_000 },
      });
      const cockatiel = cockatielWrap(
        cockatielCircuitBreaker(cockatielHandleAll, { halfOpenAfter: 10_000, breaker: new CockatielConsecutiveBreaker(5) }),
        cockatielBulkhead(16, 1_000),
      );
      await check('full', () => full.run(work));
      await check('pair', () => pair.run(work));
      const cockatiel4 = cockatiel4Wrap(
        cockatiel4CircuitBreaker(cockatiel4HandleAll, { halfOpenAfter: 10_000, breaker: new Cockatiel4ConsecutiveBreaker(5) }),
        cockatiel4Bulkhead(16, 1_000),
      );
      await check('cockatiel', () => cockatiel.execute(work));
      await check('cockatiel 4', () => cockatiel4.execute(work));
      g.floor('bare await fn()', () => work());
      g.time('sluice overloadProtection, 4 layers', () => full.run(work));
      g.time('sluice overloadProtection, breaker + concurrency', () => pair.run(work));
      g.time('cockatiel wrap(circuitBreaker, bulkhead)', () => cockatiel.execute(work));
      g.time('cockatiel 4 wrap(circuitBreaker, bulkhead)', () => cockatiel4.execute(work));
      g.teardown(() => {
        full.close();
        pair.close();
      });
    },
  );
});
