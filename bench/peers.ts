/**
 * The one place bench files import peer libraries from.
 *
 * Peers are devDependencies of `@sluice/bench` only (exact pins in `bench/package.json`), so they
 * resolve from `bench/node_modules`; a bench file under `packages/<name>/bench/` cannot import
 * them by name and imports this module instead (`../../../bench/peers.ts`). Add a re-export here
 * when a bench file starts comparing against another peer.
 */
import { createRequire } from 'node:module';
import Denque from 'denque';

export { Denque };
export { PriorityQueue as PQueuePriorityQueue } from 'p-queue';
export { TokenBucket as LimiterTokenBucket, RateLimiter as LimiterRateLimiter } from 'limiter';
export { RateLimiterMemory } from 'rate-limiter-flexible';
export { default as Bottleneck } from 'bottleneck';

// ---- circuit breakers (packages/breaker/bench) ----
export {
  ConsecutiveBreaker as CockatielConsecutiveBreaker,
  circuitBreaker as cockatielCircuitBreaker,
  handleAll as cockatielHandleAll,
} from 'cockatiel';

/** The part of opossum's `CircuitBreaker` the breaker bench uses (opossum ships no types). */
export interface OpossumBreaker<T> {
  fire(): Promise<T>;
  shutdown(): void;
}

/** opossum's `CircuitBreaker` constructor: `new Opossum(action, options)`. */
export type OpossumConstructor = new <T>(action: () => Promise<T>, options?: Readonly<Record<string, unknown>>) => OpossumBreaker<T>;

/** opossum (CommonJS, untyped), loaded through `require` with the minimal type above. */
export const Opossum = createRequire(import.meta.url)('opossum') as OpossumConstructor;
export { default as pLimit } from 'p-limit';
export { default as PQueue } from 'p-queue';
export { Sema } from 'async-sema';
export { bulkhead as cockatielBulkhead } from 'cockatiel';
export { wrap as cockatielWrap } from 'cockatiel';
export { getSemaphore as henrygdSemaphore } from '@henrygd/semaphore';

// ---- cockatiel 4 (a new major), installed beside 3.2.1 under the alias `cockatiel4` ----
export {
  ConsecutiveBreaker as Cockatiel4ConsecutiveBreaker,
  bulkhead as cockatiel4Bulkhead,
  circuitBreaker as cockatiel4CircuitBreaker,
  handleAll as cockatiel4HandleAll,
  wrap as cockatiel4Wrap,
} from 'cockatiel4';

// ---- virtual time for timer-based peers (packages/llm/bench): fakes setTimeout and Date ----
export { default as FakeTimers } from '@sinonjs/fake-timers';
