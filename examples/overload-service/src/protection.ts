import { consecutiveFailures } from '@sluice/breaker';
import { overloadProtection, type OverloadProtection } from '@sluice/overload';
import { KeyedLimiter, TokenBucket } from '@sluice/rate-limit';

/** A client's quota: requests per second it may have admitted, and a burst above that rate. */
export interface Quota {
  readonly ratePerSecond: number;
  readonly burst: number;
}

/** The numbers of the protection stack; see {@link protectionFor}. */
export interface ProtectionSettings {
  /** Quota of every client not in `paidClients`. */
  readonly standardQuota: Quota;
  /** Quota of the clients in `paidClients`. */
  readonly paidQuota: Quota;
  /** Clients on the paid plan (in a real service: looked up from the API key). */
  readonly paidClients: readonly string[];
  /** Backend failures in a row that open the circuit. */
  readonly breakerFailures: number;
  /** How long the circuit stays open before a trial call, ms. */
  readonly breakerOpenMs: number;
  /** Requests in flight at once: the backend's workers. */
  readonly maxConcurrent: number;
}

/**
 * The settings for a backend of `workers` workers. The quotas are per client, sized so that the
 * demo's clients at normal and high priority add up to what the backend can do (scraper, web and
 * mobile at 20/s each, the paying partner at 40/s: 100/s; batch, at low priority, gets what is
 * left): no client can take more than its share, however fast it sends.
 */
export function protectionFor(workers: number): ProtectionSettings {
  return {
    standardQuota: { ratePerSecond: 20, burst: 10 },
    paidQuota: { ratePerSecond: 40, burst: 20 },
    paidClients: ['partner'],
    breakerFailures: 5,
    breakerOpenMs: 1_000,
    maxConcurrent: workers,
  };
}

/** Request priorities, from the `x-priority` header: paying users first, batch work last. */
export const PRIORITIES: Readonly<Record<string, number>> = { high: 1, normal: 0, low: -1 };

/** What sits in front of the backend in protected mode. */
export interface Protection {
  /** One token bucket per client (the `x-client-id` header), in a map bounded by `maxKeys`. */
  readonly perClient: KeyedLimiter<TokenBucket>;
  /** Breaker → shedder → concurrency, in one gate. */
  readonly door: OverloadProtection;
  close(): void;
}

/**
 * The protection stack:
 *
 * 1. **Per-client rate limit** (`KeyedLimiter` of `TokenBucket`s, one per `x-client-id`): no
 *    client gets more than its plan's quota however fast it sends; over it, 429. A request a
 *    later layer refuses gets its token back (`refund`), so a quota is spent only on work that ran.
 * 2. **Circuit breaker**: `breakerFailures` backend failures in a row open it for
 *    `breakerOpenMs`; meanwhile requests are refused at once instead of waiting on a backend
 *    that is down.
 * 3. **Load shedder** with priority levels over the backend's slots (10 workers): batch (`low`)
 *    is admitted while at most 7 of them are taken, normal traffic up to 9, `high` (the paying
 *    partner) all 10 — so the last free slots go to the most important work, and batch is shed
 *    first.
 * 4. **Concurrency limit** = the backend's workers, with no queue: the backend never queues, so
 *    admitted work takes its service time and no more. At this overload a queue would only add
 *    latency: a worker that frees is taken by the next arrival within a fraction of a millisecond.
 *
 * Every refusal carries `retryAfterMs`, which the service turns into `Retry-After`.
 */
export function createProtection(settings: ProtectionSettings): Protection {
  const paid = new Set(settings.paidClients);
  const perClient = new KeyedLimiter({
    name: 'per-client',
    maxKeys: 10_000,
    create: (client) => {
      const quota = paid.has(client) ? settings.paidQuota : settings.standardQuota;
      return new TokenBucket({ name: `per-client[${client}]`, ...quota, queueLimit: 0 });
    },
  });
  const slots = settings.maxConcurrent;
  const door = overloadProtection({
    name: 'front-door',
    breaker: { trip: consecutiveFailures(settings.breakerFailures), halfOpenAfterMs: settings.breakerOpenMs },
    shedder: {
      capacity: slots,
      shedThreshold: 0.7,
      levels: [
        { name: 'high', priority: 1, admitUpTo: 1 },
        { name: 'normal', priority: 0, admitUpTo: 0.9 },
        { name: 'low', priority: -1, admitUpTo: 0.7 },
      ],
    },
    concurrency: { maxConcurrent: slots, queueLimit: 0 },
  });
  return {
    perClient,
    door,
    close() {
      door.close();
      perClient.close();
    },
  };
}
