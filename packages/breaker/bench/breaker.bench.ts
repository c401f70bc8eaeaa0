/**
 * The circuit breaker's success path against the peers: one op = `await x(fn)` with
 * `fn = async () => 1` on a closed breaker, the floor a bare `await fn()`.
 *
 * Target: sluice `run(fn)` with `consecutiveFailures` or `countWindow` adds ≤ 100 ns to the
 * floor (no permit, no timer, no clock read); cockatiel adds ~300–440 ns, opossum arms a 10 s
 * timer per call by default.
 */
import { CircuitBreaker, consecutiveFailures, countWindow, timeWindow } from '@sluice/breaker';
import { suite } from '../../../bench/harness.ts';
import {
  Cockatiel4ConsecutiveBreaker,
  CockatielConsecutiveBreaker,
  Opossum,
  cockatiel4CircuitBreaker,
  cockatiel4HandleAll,
  cockatielCircuitBreaker,
  cockatielHandleAll,
} from '../../../bench/peers.ts';

/** The work every case runs. */
const work = async (): Promise<number> => 1;

/** Fails the bench instead of measuring something that does not run `fn`. */
async function check(name: string, call: () => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const value = await call();
    if (value !== 1) throw new Error(`breaker bench: ${name} did not return the value of fn (${String(value)})`);
  }
}

suite('breaker', (s) => {
  s.group(
    'success path: await run(fn)',
    {
      note:
        'One op = `await x(fn)` with `fn = async () => 1` on a closed breaker; the measuring loop awaits the promise each ' +
        'case body returns. Floor: a bare `await fn()`. Reference: `fn().then(onValue, onError)` with two shared handlers that ' +
        'reset a failure counter, the least any wrapper that observes the outcome can cost. sluice: `breaker.run(fn)` (the closed fast path: no permit, no ' +
        'timer; consecutive and count window read no clock, the time window reads it once per call, `slowCallMs` twice). ' +
        'cockatiel (3.2.1 and 4.0.0): ' +
        '`circuitBreaker(handleAll, { halfOpenAfter: 10_000, breaker: new ConsecutiveBreaker(5) }).execute(fn)`. opossum: ' +
        '`new CircuitBreaker(fn, options).fire()`, default options (a 10 s timeout timer per call, rolling stats) and ' +
        '`{ timeout: false }`.',
      added: true,
    },
    async (g) => {
      const consecutive = new CircuitBreaker({ trip: consecutiveFailures(5), halfOpenAfterMs: 10_000 });
      const counted = new CircuitBreaker({ trip: countWindow({ size: 100, failureRate: 0.5, minimumCalls: 20 }), halfOpenAfterMs: 10_000 });
      const timed = new CircuitBreaker({
        trip: timeWindow({ windowMs: 10_000, failureRate: 0.5, minimumCalls: 20 }),
        halfOpenAfterMs: 10_000,
      });
      const slow = new CircuitBreaker({ trip: consecutiveFailures(5), halfOpenAfterMs: 10_000, slowCallMs: 1_000 });
      const cockatiel = cockatielCircuitBreaker(cockatielHandleAll, { halfOpenAfter: 10_000, breaker: new CockatielConsecutiveBreaker(5) });
      const cockatiel4 = cockatiel4CircuitBreaker(cockatiel4HandleAll, {
        halfOpenAfter: 10_000,
        breaker: new Cockatiel4ConsecutiveBreaker(5),
      });
      const opossum = new Opossum(work, {});
      const opossumNoTimeout = new Opossum(work, { timeout: false });
      await check('consecutive', () => consecutive.run(work));
      await check('countWindow', () => counted.run(work));
      await check('timeWindow', () => timed.run(work));
      await check('slowCallMs', () => slow.run(work));
      await check('cockatiel', () => cockatiel.execute(work));
      await check('cockatiel 4', () => cockatiel4.execute(work));
      await check('opossum', () => opossum.fire());
      await check('opossum timeout false', () => opossumNoTimeout.fire());

      g.floor('bare await fn()', () => work());
      let _failures = 0;
      const onValue = (value: number): number => {
        _failures = 0;
        return value;
      };
      const onError = (error: unknown): never => {
        _failures++;
        throw error;
      };
      g.time('reference: fn().then(onValue, onError)', () => work().then(onValue, onError));
      g.time('sluice run(fn), consecutiveFailures(5)', () => consecutive.run(work));
      g.time('sluice run(fn), countWindow(size 100)', () => counted.run(work));
      g.time('sluice run(fn), timeWindow(10 s)', () => timed.run(work));
      g.time('sluice run(fn), consecutiveFailures(5) + slowCallMs', () => slow.run(work));
      g.time('cockatiel execute(fn), ConsecutiveBreaker(5)', () => cockatiel.execute(work));
      g.time('cockatiel 4 execute(fn), ConsecutiveBreaker(5)', () => cockatiel4.execute(work));
      g.time('opossum fire(), default options', () => opossum.fire());
      g.time('opossum fire(), { timeout: false }', () => opossumNoTimeout.fire());
      g.teardown(() => {
        opossum.shutdown();
        opossumNoTimeout.shutdown();
        for (const breaker of [consecutive, counted, timed, slow]) breaker.close();
      });
    },
  );
});
