import { randomUUID } from 'node:crypto';
import {
  checkOptions,
  checkOutcome,
  ClosedError,
  Emitter,
  InvalidArgumentError,
  KEEP_ALIVE,
  LimitExceededError,
  optionKeys,
  StoreUnavailableError,
  WaitTimeoutError,
  checkAcquireOptions,
  checkCount,
  checkName,
  checkNumber,
  type Disposer,
  type Outcome,
  type Permit,
  type TimerHandle,
  type WaitOptions,
} from '@sluice/core';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { STORE_DOWN, StoreGuard, type StoreFailurePolicy, type StoreGuardOptions, type StoreMode } from './guard.js';
import { SEMAPHORE_ACQUIRE, SEMAPHORE_LEAVE_LINE, SEMAPHORE_RELEASE, SEMAPHORE_RENEW } from './scripts.js';
import type { RedisStore, StoreCallError } from './store.js';
import {
  RedisSemaphoreGate,
  checkSemaphoreGateOptions,
  type HeldPermit,
  type RedisSemaphoreGateOptions,
  type SemaphoreBackend,
  type SemaphoreDecision,
} from './semaphore-gate.js';

/** Default of {@link RedisSemaphoreOptions.maxPollMs}. */
export const DEFAULT_SEMAPHORE_POLL_MS = 50;

/**
 * How long the semaphore's keys outlive their latest lease, ms: a renewal arriving just after
 * the expiry still finds the keys (and reports the lease lost instead of finding nothing).
 */
const KEY_SLACK_MS = 1_000;

/** Who granted a {@link SemaphorePermit}. */
export type SemaphoreDecidedBy = 'redis' | 'insurance' | 'fail-open';

/**
 * A permit of a {@link RedisSemaphore}: `count` units of `key`, held until `release()` (one
 * script call; a second release does nothing) or until the lease lapses (a crashed process, or
 * renewal off and `leaseMs` passed).
 */
export interface SemaphorePermit extends Permit {
  /** The semaphore key the units belong to. */
  readonly key: string;
  /** Units held. */
  readonly count: number;
  /** Redis, or the failure policy while Redis was down. */
  readonly decidedBy: SemaphoreDecidedBy;
  /** The lease's id in Redis (random per permit); `undefined` unless Redis granted units (count ≥ 1). */
  readonly leaseId: string | undefined;
  /**
   * True once a renewal found the lease gone (expired, or the Redis data lost): the units may be
   * held by someone else now. Reported once through {@link RedisSemaphore.onLeaseLost}.
   */
  readonly lost: boolean;
}

/** Options of a {@link RedisSemaphore}. */
export interface RedisSemaphoreOptions extends StoreGuardOptions {
  /** The store (client, prefix, per-call timeout). */
  readonly store: RedisStore;
  /**
   * The semaphore's name: part of every key (`prefix:{name:key}:holders` and `…:counts`) and of
   * errors. Every process using the same Redis, name and key shares one limit. Default `'semaphore'`.
   */
  readonly name?: string;
  /**
   * Most units held at once per key, across every process: an integer ≥ 1 (the name of
   * `ConcurrencyLimiter`'s option). Required (or its deprecated alias `limit`).
   */
  readonly maxConcurrent?: number;
  /**
   * Most units held at once per key.
   *
   * @deprecated Use `maxConcurrent` (the name `ConcurrencyLimiter` uses); `limit` still works.
   */
  readonly limit?: number;
  /**
   * Lifetime of a lease in ms (a number ≥ 1): a holder that stops renewing (crashed, frozen,
   * partitioned) loses its units this long after its last renewal, and they go back to the pool.
   * Choose it well above the store's `timeoutMs` and the longest event-loop stall you expect,
   * since a renewal is attempted every `leaseMs / 3`.
   */
  readonly leaseMs: number;
  /**
   * Renew held leases every `leaseMs / 3` (an unref'd timer per permit) until released; default
   * `true`. With `false` every permit lapses `leaseMs` after it was granted, released or not.
   */
  readonly renew?: boolean;
  /**
   * Longest pause between two polls of a waiting `acquire`, in ms (a number ≥ 1); default 50.
   * A refused call returns the time until the earliest lease expires; the head waiter sleeps the
   * smaller of that and this, so a release by another process is seen within about this long
   * (a release by this process wakes the waiter at once).
   */
  readonly maxPollMs?: number;
  /**
   * Serve waiters across processes in arrival order; default `true`. Each process whose callers
   * wait for a key holds one ticket in a line kept in Redis (a ZSET next to the holders); a
   * freed unit goes to the oldest live ticket, so no process starves however its polls are
   * timed, and a now-or-never call (`tryAcquire`, a gate's `tryAcquireNow`) is refused while
   * anyone waits (the in-memory rule: waiters go first). A ticket is refreshed by each poll and
   * expires `ticketTtlMs` after the last one, so a crashed or frozen process blocks the line for
   * at most that long. With `false`, whoever polls first after a release wins (one fewer ZSET
   * per call, and a freed unit is taken within one poll by any waiter, but a process can starve:
   * in a 3-process run one got 93 permits and another 489).
   *
   * The default is `true` because sluice's waiting is fair everywhere else (FIFO within a
   * priority), and an unfair distributed semaphore turns into timeouts for the unlucky process.
   */
  readonly fair?: boolean;
  /**
   * Fair mode: how long a waiting process's ticket outlives its last poll, in ms (a number ≥ 1);
   * default `max(1_000, 20 × maxPollMs)`. A process that stops polling (crashed, partitioned,
   * its event loop stalled) blocks the line this long at most; a process stalled longer loses
   * its place and joins again at the back.
   */
  readonly ticketTtlMs?: number;
}

type Decision = SemaphoreDecision;

/** A caller of `acquire` waiting its turn (FIFO per key, in this process). */
interface Waiter {
  readonly count: number;
  readonly signal: AbortSignal | undefined;
  readonly maxWaitMs: number;
  /** `store.clock` time when the wait ends. */
  readonly deadline: number;
  readonly resolve: (permit: SemaphorePermit) => void;
  readonly reject: (error: unknown) => void;
  settled: boolean;
  timer: TimerHandle | undefined;
  onAbort: (() => void) | undefined;
  /** The last refusal's hint, for the timeout error. */
  lastHintMs: number | undefined;
}

/** The waiters of one key and its poller (only the head polls Redis). */
interface KeyQueue {
  readonly waiters: Waiter[];
  /** True while the poller runs. */
  pumping: boolean;
  /** The poller's run, for `close()` to await (may be stale once `pumping` is false). */
  pump: Promise<void> | undefined;
  /** Ends the poller's current nap early, when it naps. */
  wake: (() => void) | undefined;
  /**
   * Counts this process's releases of the key: a release whose answer arrives while the poller's
   * refused call is still on its way back (no nap to end yet) makes it poll again at once.
   */
  releases: number;
  /** Fair mode: this queue's ticket in the line, while it waits. */
  ticket: string | undefined;
}

/** A permit granted by Redis, with its lease and renewal timer. */
class LeasePermit implements SemaphorePermit, HeldPermit {
  readonly granted = true as const;
  readonly decidedBy = 'redis' as const;
  lost = false;
  released = false;
  timer: TimerHandle | undefined = undefined;
  constructor(
    readonly key: string,
    readonly count: number,
    readonly leaseId: string,
    private readonly onRelease: (permit: LeasePermit) => void,
    private readonly gate: string,
    private readonly clock: RedisStore['clock'],
    private readonly onReleased: (() => void) | undefined,
  ) {}
  release(outcome?: Outcome): void {
    checkOutcome(this.gate, outcome);
    if (this.released) return;
    this.released = true;
    this.onReleased?.();
    this.onRelease(this);
  }
  /** Stops the renewal timer (the lease lapses `leaseMs` after its last renewal). */
  stopRenewal(): void {
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }
}

/** A permit that is not a Redis lease; its outcome is checked (a bad one throws) before `release` runs. */
function plainPermit(
  gate: string,
  key: string,
  count: number,
  decidedBy: SemaphoreDecidedBy,
  release: (outcome?: Outcome) => void,
): SemaphorePermit & HeldPermit {
  return Object.freeze({
    granted: true as const,
    key,
    count,
    decidedBy,
    leaseId: undefined,
    lost: false,
    release(outcome?: Outcome): void {
      checkOutcome(gate, outcome);
      release(outcome);
    },
    stopRenewal: NOTHING,
  });
}

/** Calls `fn` the first time only. */
function once(fn: (outcome?: Outcome) => void): (outcome?: Outcome) => void {
  let done = false;
  return (outcome) => {
    if (done) return;
    done = true;
    fn(outcome);
  };
}

const NOTHING = (): void => {};
const NO_OPTIONS: WaitOptions = Object.freeze({});

function parse(reply: unknown): Decision {
  const r = reply as [number, string, number, string, number | undefined];
  return { admitted: r[0] === 1, waitMs: Number(r[1]), used: Number(r[2]), ahead: Number(r[4] ?? -1) };
}

const REDIS_SEMAPHORE_KEYS = optionKeys<RedisSemaphoreOptions>()({
  store: true,
  name: true,
  maxConcurrent: true,
  limit: true,
  leaseMs: true,
  renew: true,
  maxPollMs: true,
  fair: true,
  ticketTtlMs: true,
  onStoreError: true,
  expectedInstances: true,
  probeIntervalMs: true,
});

/**
 * A counting semaphore shared by every process that uses the same Redis and name: at most
 * `maxConcurrent` units held at once per key (`acquire('db:primary', 2)`), with leases that expire, so a
 * crashed holder's units come back after `leaseMs` instead of leaking forever.
 *
 * Each key is a ZSET of lease ids scored by their expiry (Redis's clock, `TIME`) and a HASH of
 * their counts, both hash-tagged (Redis Cluster safe); admission, renewal and release are one Lua
 * script each. A held permit renews its lease every `leaseMs / 3`; a renewal that finds the lease
 * gone marks the permit `lost` and emits {@link RedisSemaphore.onLeaseLost}.
 *
 * A full semaphore makes `acquire` wait: waiters of one process queue FIFO per key and only the
 * head polls Redis, at the server's hint capped by `maxPollMs` (default 50 ms); a release in this
 * process wakes it at once. Between processes the waiters are served in arrival order (`fair`,
 * the default): each waiting process holds a ticket in a line in Redis and a freed unit goes to
 * the oldest live ticket; with `fair: false` whoever polls first after a release wins.
 *
 * The failure policy is explicit and required (`onStoreError`): `fail-closed` rejects with a
 * `StoreUnavailableError`, `fail-open` grants a permit whose release does nothing, `insurance`
 * grants from a local `ConcurrencyLimiter` of `floor(limit / expectedInstances)` (at least 1)
 * slots per key until Redis answers again (probed every `probeIntervalMs`). Permits Redis granted
 * before an outage still release safely: a release that fails is reported through
 * {@link RedisSemaphore.onStoreFailure}, retried when Redis answers again, and the lease lapses
 * by itself otherwise.
 *
 * @example
 * ```ts
 * const db = new RedisSemaphore({ store, name: 'db', maxConcurrent: 20, leaseMs: 30_000, onStoreError: 'insurance', expectedInstances: 4 });
 * const permit = await db.acquire('primary', 1, { maxWaitMs: 2_000 });
 * try {
 *   await runQuery();
 * } finally {
 *   permit.release();
 * }
 * ```
 */
export class RedisSemaphore {
  /** The semaphore's name (in keys and errors). */
  readonly name: string;
  /** The store. */
  readonly store: RedisStore;
  /** The failure policy. */
  readonly policy: StoreFailurePolicy;
  /** Most units held at once per key, across every process. */
  readonly maxConcurrent: number;
  /** Lifetime of a lease without renewal, ms. */
  readonly leaseMs: number;
  /** Whether held leases are renewed every `leaseMs / 3`. */
  readonly renews: boolean;
  /** Longest pause between two polls of a waiting `acquire`, ms. */
  readonly maxPollMs: number;
  /** Whether waiters are served in arrival order across processes (see {@link RedisSemaphoreOptions.fair}). */
  readonly fair: boolean;
  /** Fair mode: how long a ticket outlives its last poll, ms. */
  readonly ticketTtlMs: number;
  /** Slots per key of the local insurance limiter: `floor(limit / expectedInstances)`, at least 1. */
  readonly insuranceLimit: number;
  private readonly guard: StoreGuard;
  private readonly queues = new Map<string, KeyQueue>();
  /** Redis permits not released yet (their renewal timers). */
  private readonly leases = new Set<LeasePermit>();
  /** Releases that could not reach Redis: lease id → key, retried when Redis answers again. */
  private readonly pendingReleases = new Map<string, string>();
  /** Insurance limiters by key, while Redis is down. */
  private readonly locals = new Map<string, ConcurrencyLimiter>();
  /** Insurance limiters of an earlier outage that still had waiters when Redis came back. */
  private readonly retired = new Set<ConcurrencyLimiter>();
  private readonly lostEvents = new Emitter<SemaphorePermit, void>();
  /** Gates handed out by {@link RedisSemaphore.gate}, by key. */
  private readonly gates = new Map<string, Set<RedisSemaphoreGate>>();
  private backendOf: SemaphoreBackend | undefined = undefined;
  private closed = false;

  /** @throws InvalidArgumentError for a missing store, a bad name, limit, leaseMs, maxPollMs, renew or failure policy. */
  constructor(options: RedisSemaphoreOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('RedisSemaphore', 'options', 'an object', options);
    checkOptions('RedisSemaphore', options, REDIS_SEMAPHORE_KEYS);
    this.name = checkName('RedisSemaphore', options.name, 'semaphore');
    const store = (options as Partial<RedisSemaphoreOptions>).store;
    if (typeof store !== 'object' || store === null || typeof store.run !== 'function') {
      throw new InvalidArgumentError(this.name, 'store', 'a RedisStore', store);
    }
    this.store = store;
    if (options.maxConcurrent !== undefined && options.limit !== undefined && options.maxConcurrent !== options.limit) {
      throw new InvalidArgumentError(this.name, 'limit', `absent, or equal to maxConcurrent (${options.maxConcurrent})`, options.limit);
    }
    this.maxConcurrent =
      options.maxConcurrent === undefined && options.limit !== undefined
        ? checkNumber(this.name, 'limit', options.limit, { min: 1, integer: true })
        : checkNumber(this.name, 'maxConcurrent', options.maxConcurrent, { min: 1, integer: true });
    this.leaseMs = checkNumber(this.name, 'leaseMs', options.leaseMs, { min: 1 });
    this.maxPollMs = checkNumber(this.name, 'maxPollMs', options.maxPollMs ?? DEFAULT_SEMAPHORE_POLL_MS, { min: 1 });
    const renew = options.renew ?? true;
    if (typeof renew !== 'boolean') throw new InvalidArgumentError(this.name, 'renew', 'a boolean', renew);
    this.renews = renew;
    const fair = options.fair ?? true;
    if (typeof fair !== 'boolean') throw new InvalidArgumentError(this.name, 'fair', 'a boolean', fair);
    this.fair = fair;
    this.ticketTtlMs = checkNumber(this.name, 'ticketTtlMs', options.ticketTtlMs ?? Math.max(1_000, 20 * this.maxPollMs), { min: 1 });
    this.guard = new StoreGuard(this.name, store, options);
    this.policy = this.guard.policy;
    this.insuranceLimit = Math.max(1, Math.floor(this.maxConcurrent / this.guard.instances));
    this.guard.onModeChange((mode) => {
      if (mode === 'redis') this.handBack();
    });
  }

  /**
   * Most units held at once per key.
   *
   * @deprecated Use {@link RedisSemaphore.maxConcurrent}.
   */
  get limit(): number {
    return this.maxConcurrent;
  }

  /** True while decisions go to the failure policy because Redis did not answer. */
  get storeDown(): boolean {
    return this.guard.down;
  }

  /** Callers of `acquire` waiting in this process, over every key. */
  get waiting(): number {
    let waiting = 0;
    for (const queue of this.queues.values()) waiting += queue.waiters.length;
    return waiting;
  }

  /** Permits Redis granted to this instance and not released yet (lost ones excluded). */
  get held(): number {
    return this.leases.size;
  }

  /**
   * Takes `count` units of `key` now, or resolves `undefined` when they are not free: one script
   * call, never waits. Also `undefined`, without a call, while callers of this process wait for
   * the key (they go first), and under `insurance` when `count` exceeds the local slots.
   *
   * @param count - an integer from 0 to `limit`; default 1. 0 is a probe: granted when a unit is
   * free, holding nothing.
   * @throws InvalidArgumentError for a bad key or count; TooLargeError above the limit (it could
   * never pass); ClosedError after `close()`; StoreUnavailableError under `fail-closed` while
   * Redis does not answer.
   */
  async tryAcquire(key: string, count = 1): Promise<SemaphorePermit | undefined> {
    this.check(key, count);
    if ((this.queues.get(key)?.waiters.length ?? 0) > 0) return undefined;
    const id = randomUUID();
    const decision = await this.guard.attempt(() => this.take(key, count, id));
    if (decision === STORE_DOWN) return this.fallbackTry(key, count);
    if (!decision.admitted) return undefined;
    if (this.closed) {
      this.dropLease(key, count, id);
      throw new ClosedError(this.name);
    }
    return this.grant(key, count, id);
  }

  /**
   * Takes `count` units of `key`, waiting until they are free. Waiters of this process are
   * served FIFO per key; only the first polls Redis (at the server's hint, at most every
   * `maxPollMs`). Rejects with the signal's reason when aborted, with a `WaitTimeoutError` after
   * `maxWaitMs` (0: now or never), with a `ClosedError` on `close()`; nothing of an abandoned
   * wait stays in Redis. Under the failure policy: a `StoreUnavailableError` (`fail-closed`), a
   * no-op permit (`fail-open`), or the local insurance limiter's permit (`insurance`; a
   * `LimitExceededError` when `count` exceeds its slots).
   *
   * @param count - an integer from 0 to `limit`; default 1.
   * @throws InvalidArgumentError for a bad key, count or option; TooLargeError above the limit.
   */
  async acquire(key: string, count = 1, options: WaitOptions = NO_OPTIONS): Promise<SemaphorePermit> {
    this.check(key, count);
    checkAcquireOptions(this.name, options);
    const signal = options.signal;
    if (signal?.aborted === true) throw signal.reason;
    const maxWaitMs = options.maxWaitMs ?? Infinity;
    let queue = this.queues.get(key);
    if (maxWaitMs === 0 && queue !== undefined && queue.waiters.length > 0) throw new WaitTimeoutError(this.name, 0, undefined);
    if (queue === undefined) {
      queue = { waiters: [], pumping: false, pump: undefined, wake: undefined, releases: 0, ticket: undefined };
      this.queues.set(key, queue);
    }
    const owner = queue;
    return new Promise<SemaphorePermit>((resolve, reject) => {
      const waiter: Waiter = {
        count,
        signal,
        maxWaitMs,
        deadline: this.store.clock.now() + maxWaitMs,
        resolve,
        reject,
        settled: false,
        timer: undefined,
        onAbort: undefined,
        lastHintMs: undefined,
      };
      if (maxWaitMs !== Infinity && maxWaitMs > 0) {
        waiter.timer = this.store.clock.setTimer(() => {
          waiter.timer = undefined;
          this.leave(owner, waiter);
          reject(new WaitTimeoutError(this.name, maxWaitMs, waiter.lastHintMs));
        }, maxWaitMs);
      }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.leave(owner, waiter);
          reject(signal.reason);
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      owner.waiters.push(waiter);
      if (!owner.pumping) owner.pump = this.pump(key, owner);
    });
  }

  /**
   * One key of this semaphore as a sluice `Gate` (see {@link RedisSemaphoreGate}), the
   * distributed counterpart of a `ConcurrencyLimiter`: `tryAcquire`/`tryAcquireNow` return a
   * `Refusal` instead of `undefined`, `acquire` rejects with the core error classes, and it goes
   * into `pipeline`, `overloadProtection` and the stream `throttle`s. Each call makes a new gate
   * (with its own local queue); they share the key's units with every other holder. The
   * semaphore keeps each gate (to wake it on local releases) until the gate or the semaphore is
   * closed: make one gate per key and reuse it, not one per request.
   *
   * @throws InvalidArgumentError for a bad key or option; ClosedError after `close()`.
   */
  gate(key: string, options?: RedisSemaphoreGateOptions): RedisSemaphoreGate {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    const checked = checkSemaphoreGateOptions(this.name, options);
    if (this.closed) throw new ClosedError(this.name);
    const gate = new RedisSemaphoreGate(this.backend(), key, this.store.clock, checked, this.fair);
    let gates = this.gates.get(key);
    if (gates === undefined) {
      gates = new Set();
      this.gates.set(key, gates);
    }
    gates.add(gate);
    return gate;
  }

  /** Subscribes to lost leases (a renewal found the permit's lease gone); returns an unsubscriber. */
  onLeaseLost(listener: (permit: SemaphorePermit) => void): Disposer {
    return this.lostEvents.on(listener);
  }

  /** Subscribes to store failures (each failed call: acquire, renewal, release, probe); returns an unsubscriber. */
  onStoreFailure(listener: (error: StoreCallError) => void): Disposer {
    return this.guard.onStoreFailure(listener);
  }

  /**
   * Subscribes to hand-overs: `'fallback'` when Redis stopped answering and the policy took over,
   * `'redis'` when it answered again; returns an unsubscriber.
   */
  onModeChange(listener: (mode: StoreMode) => void): Disposer {
    return this.guard.onModeChange(listener);
  }

  /**
   * Stops every timer (renewals, the probe, waits), rejects every waiter with a `ClosedError`,
   * and closes the insurance limiters. Held permits are not released: their leases lapse
   * `leaseMs` after their last renewal unless released (a release after close still frees them
   * in Redis). The promise resolves when the pollers' calls in flight are done (an admission
   * that raced the close is given back first). Idempotent.
   */
  close(): Promise<void> {
    const pumps: Promise<void>[] = [];
    if (!this.closed) {
      this.closed = true;
      for (const gates of [...this.gates.values()]) for (const gate of [...gates]) gate.close();
      this.gates.clear();
      this.guard.close();
      for (const lease of this.leases) this.stopRenewal(lease);
      const closed = new ClosedError(this.name);
      for (const queue of this.queues.values()) {
        for (const waiter of [...queue.waiters]) {
          this.leave(queue, waiter);
          waiter.reject(closed);
        }
        queue.wake?.();
      }
      for (const local of this.locals.values()) local.close();
      for (const local of this.retired) local.close();
      this.locals.clear();
      this.retired.clear();
      this.pendingReleases.clear();
    }
    for (const queue of this.queues.values()) if (queue.pumping && queue.pump !== undefined) pumps.push(queue.pump);
    return Promise.all(pumps).then(() => undefined);
  }

  // ---- Redis ----

  private keys(key: string): [string, string] {
    return [this.store.key(this.name, key, 'holders'), this.store.key(this.name, key, 'counts')];
  }

  /**
   * The nap after a refusal: `maxPollMs`, or a tenth of it (at least 1 ms) for the tickets near
   * the front of the fair line (fewer than `maxConcurrent` ahead) — the next freed units are
   * theirs, and a holder in another process cannot wake them, so they poll faster while the
   * rest of the line keeps the slow pace.
   */
  private pollMs(decision: Decision): number {
    return decision.ahead >= 0 && decision.ahead < this.maxConcurrent ? Math.max(1, Math.ceil(this.maxPollMs / 10)) : this.maxPollMs;
  }

  /** The line of `key` (fair mode): tickets by arrival, and by expiry. */
  private lineKeys(key: string): [string, string] {
    return [this.store.key(this.name, key, 'line'), this.store.key(this.name, key, 'line-expiry')];
  }

  /** Takes the ticket out of the line of `key` (fair mode; best effort: it expires anyway). */
  private leaveLine(key: string, ticket: string): void {
    void this.guard.attempt(() => this.store.run(SEMAPHORE_LEAVE_LINE, this.lineKeys(key), [ticket])).catch(() => {});
  }

  /**
   * One admission call. `ticket`: the caller's place in the line (fair mode, a waiter);
   * `undefined` for a now-or-never call, refused in fair mode while anyone waits.
   */
  private async take(key: string, count: number, id: string, ticket?: string): Promise<Decision> {
    const mode = this.fair ? (ticket ?? '-') : '';
    const reply = await this.store.run(
      SEMAPHORE_ACQUIRE,
      [...this.keys(key), ...this.lineKeys(key)],
      [this.maxConcurrent, count, this.leaseMs, id, KEY_SLACK_MS, '', mode, this.ticketTtlMs],
    );
    const decision = parse(reply);
    // -1: the units are free but a ticket ahead goes first; the front polls within maxPollMs / 10
    return decision.waitMs < 0 ? { ...decision, waitMs: this.pollMs({ ...decision, ahead: 0 }) } : decision;
  }

  /** A permit for units Redis just granted (count 0: nothing is held); `onReleased` runs on its release. */
  private grant(key: string, count: number, id: string, onReleased?: () => void): SemaphorePermit & HeldPermit {
    if (count === 0) return plainPermit(this.name, key, 0, 'redis', NOTHING);
    const permit = new LeasePermit(key, count, id, (p) => this.released(p), this.name, this.store.clock, onReleased);
    this.leases.add(permit);
    this.scheduleRenewal(permit);
    return permit;
  }

  private released(permit: LeasePermit): void {
    this.stopRenewal(permit);
    this.leases.delete(permit);
    // a lost lease is already gone from Redis, and its id is never reused
    if (!permit.lost) this.dropLease(permit.key, permit.count, permit.leaseId);
  }

  /**
   * Frees a lease in Redis, best effort: never rejects. A failed call is reported (the guard's
   * store-failure event) and retried once Redis answers again; the lease lapses by itself anyway.
   */
  private dropLease(key: string, count: number, id: string): Promise<void> {
    if (count === 0) return Promise.resolve();
    return this.guard
      .attempt(() => this.store.run(SEMAPHORE_RELEASE, this.keys(key), [id]))
      .then(
        (result) => {
          if (result === STORE_DOWN) {
            if (!this.closed) this.pendingReleases.set(id, key);
            return;
          }
          this.wakeGates(key);
          const queue = this.queues.get(key);
          if (queue === undefined) return;
          queue.releases++;
          queue.wake?.();
        },
        () => {},
      );
  }

  private scheduleRenewal(permit: LeasePermit): void {
    if (!this.renews || this.closed) return;
    permit.timer = this.store.clock.setTimer(() => {
      permit.timer = undefined;
      void this.renew(permit);
    }, this.leaseMs / 3);
  }

  private stopRenewal(permit: LeasePermit): void {
    permit.stopRenewal();
  }

  /** A unit of `key` was freed in this process: its gates poll again. */
  private wakeGates(key: string): void {
    const gates = this.gates.get(key);
    if (gates !== undefined) for (const gate of gates) gate.wake();
  }

  /** What the gates of this semaphore use (made once). */
  private backend(): SemaphoreBackend {
    if (this.backendOf !== undefined) return this.backendOf;
    const backend: SemaphoreBackend = {
      name: this.name,
      maxConcurrent: this.maxConcurrent,
      pollMs: (decision) => this.pollMs(decision),
      guard: this.guard,
      take: (key, count, id, ticket) => this.take(key, count, id, ticket),
      grant: (key, count, id, onReleased) => this.grant(key, count, id, onReleased),
      drop: (key, count, id) => this.dropLease(key, count, id),
      fallback: (key, count, onReleased) => this.fallbackHeld(key, count, onReleased),
      leaveLine: (key, ticket) => this.leaveLine(key, ticket),
      forget: (key, gate) => {
        const gates = this.gates.get(key);
        gates?.delete(gate);
        if (gates?.size === 0) this.gates.delete(key);
      },
    };
    this.backendOf = backend;
    return backend;
  }

  /** A permit of the failure policy for a gate (no waiting: the gate waits itself); `undefined` when refused. */
  private fallbackHeld(key: string, count: number, onReleased: () => void): HeldPermit | undefined {
    if (this.closed || this.policy === 'fail-closed') return undefined;
    if (this.policy === 'fail-open') return plainPermit(this.name, key, count, 'fail-open', once(onReleased));
    if (count > this.insuranceLimit) return undefined;
    const result = this.local(key).tryAcquire(count);
    if (!result.granted) return undefined;
    return plainPermit(
      this.name,
      key,
      count,
      'insurance',
      once((outcome) => {
        result.release(outcome);
        onReleased();
        this.wakeGates(key);
      }),
    );
  }

  private async renew(permit: LeasePermit): Promise<void> {
    if (permit.released || permit.lost || this.closed) return;
    let renewed: unknown;
    try {
      renewed = await this.guard.attempt(() =>
        this.store.run(SEMAPHORE_RENEW, this.keys(permit.key), [this.leaseMs, permit.leaseId, KEY_SLACK_MS]),
      );
    } catch {
      renewed = STORE_DOWN;
    }
    if (permit.released || this.closed) return;
    // Redis down: keep trying every period; the lease may still be alive when it answers again
    if (renewed === STORE_DOWN || Number(renewed) === 1) {
      this.scheduleRenewal(permit);
      return;
    }
    permit.lost = true;
    this.leases.delete(permit);
    this.lostEvents.emit(permit, undefined);
  }

  /** Redis answers again: new decisions go to it; releases that failed are retried. */
  private handBack(): void {
    for (const [key, local] of this.locals) {
      this.locals.delete(key);
      // waiters of an insurance limiter are still served by its own releases
      if (local.stats().waiting === 0) local.close();
      else this.retired.add(local);
    }
    for (const local of this.retired) {
      if (local.stats().waiting === 0) {
        local.close();
        this.retired.delete(local);
      }
    }
    const pending = [...this.pendingReleases];
    this.pendingReleases.clear();
    for (const [id, key] of pending) void this.dropLease(key, 1, id);
  }

  // ---- waiting ----

  /** The poller of one key: serves its waiters in order, one Redis call at a time. */
  private async pump(key: string, queue: KeyQueue): Promise<void> {
    queue.pumping = true;
    try {
      for (;;) {
        const head = queue.waiters[0];
        if (head === undefined || this.closed) return;
        const id = randomUUID();
        const releases = queue.releases;
        if (this.fair) queue.ticket ??= randomUUID();
        const ticket = queue.ticket;
        let decision: Decision | typeof STORE_DOWN;
        try {
          decision = await this.guard.attempt(() => this.take(key, head.count, id, ticket));
        } catch (error) {
          if (!head.settled) {
            this.leave(queue, head);
            head.reject(error);
          }
          continue;
        }
        if (head.settled) {
          // aborted, timed out or closed while the call was in flight: give back what it got
          if (decision !== STORE_DOWN && decision.admitted) await this.dropLease(key, head.count, id);
          continue;
        }
        if (decision === STORE_DOWN) {
          this.leave(queue, head);
          const left = head.deadline - this.store.clock.now();
          this.fallbackAcquire(key, head.count, {
            signal: head.signal,
            maxWaitMs: head.maxWaitMs === Infinity ? Infinity : Math.max(0, left),
          }).then(head.resolve, head.reject);
          continue;
        }
        if (decision.admitted) {
          // the grant used up the ticket: the next waiter joins the line at the back
          if (ticket !== undefined && queue.ticket === ticket) queue.ticket = undefined;
          this.leave(queue, head);
          head.resolve(this.grant(key, head.count, id));
          continue;
        }
        head.lastHintMs = decision.waitMs;
        const left = head.deadline - this.store.clock.now();
        if (head.maxWaitMs === 0 || left <= 0) {
          this.leave(queue, head);
          head.reject(new WaitTimeoutError(this.name, head.maxWaitMs, decision.waitMs));
          continue;
        }
        // a local release landed during the call: units may be free now
        if (queue.releases !== releases) continue;
        await this.nap(queue, Math.max(1, Math.min(decision.waitMs, this.pollMs(decision), left)));
      }
    } finally {
      queue.pumping = false;
      if (queue.ticket !== undefined && queue.waiters.length === 0) {
        this.leaveLine(key, queue.ticket);
        queue.ticket = undefined;
      }
      if (queue.waiters.length === 0 && this.queues.get(key) === queue) this.queues.delete(key);
    }
  }

  /** Sleeps `ms` (keeping the process alive: a caller awaits), or until woken. */
  private nap(queue: KeyQueue, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.store.clock.clearTimer(timer);
        if (queue.wake === done) queue.wake = undefined;
        resolve();
      };
      const timer = this.store.clock.setTimer(done, ms, KEEP_ALIVE);
      queue.wake = done;
    });
  }

  /** Takes a waiter out of its queue and disarms it (the caller settles it). */
  private leave(queue: KeyQueue, waiter: Waiter): void {
    if (waiter.settled) return;
    waiter.settled = true;
    if (waiter.timer !== undefined) this.store.clock.clearTimer(waiter.timer);
    waiter.timer = undefined;
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
    const index = queue.waiters.indexOf(waiter);
    if (index >= 0) queue.waiters.splice(index, 1);
    // the head left while its poller napped: the next one polls now
    if (index === 0) queue.wake?.();
  }

  // ---- failure policy ----

  private local(key: string): ConcurrencyLimiter {
    let local = this.locals.get(key);
    if (local === undefined) {
      local = new ConcurrencyLimiter({ name: `${this.name} (insurance)`, maxConcurrent: this.insuranceLimit, clock: this.store.clock });
      this.locals.set(key, local);
    }
    return local;
  }

  private unavailable(): StoreUnavailableError {
    return new StoreUnavailableError(this.name, 'the store did not answer', this.guard.probeIntervalMs);
  }

  private fallbackTry(key: string, count: number): SemaphorePermit | undefined {
    if (this.policy === 'fail-open') return plainPermit(this.name, key, count, 'fail-open', NOTHING);
    if (this.policy === 'fail-closed') throw this.unavailable();
    if (count > this.insuranceLimit) return undefined;
    const result = this.local(key).tryAcquire(count);
    return result.granted ? plainPermit(this.name, key, count, 'insurance', (outcome) => result.release(outcome)) : undefined;
  }

  private fallbackAcquire(key: string, count: number, options: WaitOptions): Promise<SemaphorePermit> {
    if (this.closed) return Promise.reject(new ClosedError(this.name));
    if (this.policy === 'fail-open') return Promise.resolve(plainPermit(this.name, key, count, 'fail-open', NOTHING));
    if (this.policy === 'fail-closed') return Promise.reject(this.unavailable());
    if (count > this.insuranceLimit) return Promise.reject(new LimitExceededError(this.name, undefined));
    return this.local(key)
      .acquire(count, options)
      .then((permit) => plainPermit(this.name, key, count, 'insurance', (outcome) => permit.release(outcome)));
  }

  private check(key: string, count: number): void {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError(this.name, 'key', 'a non-empty string', key);
    checkCount(count, this.maxConcurrent, this.name);
    if (this.closed) throw new ClosedError(this.name);
  }
}
