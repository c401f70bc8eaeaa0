/**
 * The one place bench files import peer libraries from.
 *
 * Peers are devDependencies of `@sluice/bench` only (exact pins in `bench/package.json`), so they
 * resolve from `bench/node_modules`; a bench file under `packages/<name>/bench/` cannot import
 * them by name and imports this module instead (`../../../bench/peers.ts`). Add a re-export here
 * when a bench file starts comparing against another peer.
 */
import Denque from 'denque';

export { Denque };
export { PriorityQueue as PQueuePriorityQueue } from 'p-queue';
export { TokenBucket as LimiterTokenBucket, RateLimiter as LimiterRateLimiter } from 'limiter';
export { RateLimiterMemory } from 'rate-limiter-flexible';
export { default as Bottleneck } from 'bottleneck';
