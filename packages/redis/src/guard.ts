import { Emitter, checkNumber, checkOneOf, type Disposer, type TimerHandle } from '@sluice/core';
import { PING } from './scripts.js';
import { StoreCallError, type RedisStore } from './store.js';

/** What a Redis-backed component does while its store cannot be reached (an error or a timeout). */
export type StoreFailurePolicy = 'fail-closed' | 'fail-open' | 'insurance';

/** Where decisions come from: Redis, or the failure policy while Redis does not answer. */
export type StoreMode = 'redis' | 'fallback';

/** Options of the failure policy every Redis-backed component takes. */
export interface StoreGuardOptions {
  /**
   * Required: what happens while Redis cannot be reached. `fail-closed` refuses (a
   * `StoreUnavailableError`), `fail-open` admits everything, `insurance` hands every decision to a
   * local in-memory component sized `limit / expectedInstances` until Redis answers again.
   */
  readonly onStoreError: StoreFailurePolicy;
  /** Processes sharing the limit, for sizing the insurance component; required with `insurance`. */
  readonly expectedInstances?: number;
  /**
   * While the store is down, how often it is probed (one tiny script), in ms; default 500. The
   * first probe that answers hands decisions back to Redis.
   */
  readonly probeIntervalMs?: number;
}

/**
 * The local components the `insurance` policy decides with, one per key, made on first use and
 * closed (and forgotten) when Redis answers again or the owner closes — so a hand-back starts
 * from Redis's state, not from what the insurance counted meanwhile.
 */
export class InsuranceLocals<L extends { close(): void }> {
  private readonly locals = new Map<string, L>();

  /** @param make - builds the local component of one key. */
  constructor(
    guard: StoreGuard,
    private readonly make: (key: string) => L,
  ) {
    guard.onModeChange((mode) => {
      if (mode === 'redis') this.clear();
    });
  }

  /** The local component of `key`, made on first use. */
  get(key: string): L {
    let local = this.locals.get(key);
    if (local === undefined) {
      local = this.make(key);
      this.locals.set(key, local);
    }
    return local;
  }

  /** Closes and forgets every local component. */
  clear(): void {
    for (const local of this.locals.values()) local.close();
    this.locals.clear();
  }
}

/** Returned by {@link StoreGuard.attempt} instead of a value while the store is down. */
export const STORE_DOWN: unique symbol = Symbol('sluice.storeDown');

/**
 * The failure policy of a Redis-backed component: runs store calls while Redis answers; after
 * the first failure (error or timeout) it reports the store down — the owner then decides by its
 * policy, without a call per request — and probes every `probeIntervalMs` until Redis answers,
 * then hands back (`onModeChange('redis')`).
 */
export class StoreGuard {
  /** The policy. */
  readonly policy: StoreFailurePolicy;
  /** Processes sharing the limit (1 unless given). */
  readonly instances: number;
  /** Probe period while down, ms. */
  readonly probeIntervalMs: number;
  private isDown = false;
  private closed = false;
  private probeTimer: TimerHandle | undefined;
  private readonly failures = new Emitter<StoreCallError, void>();
  private readonly modes = new Emitter<StoreMode, void>();

  /** @throws InvalidArgumentError for a missing or unknown policy, or bad numbers. */
  constructor(
    where: string,
    private readonly store: RedisStore,
    options: StoreGuardOptions,
  ) {
    this.policy = checkOneOf(where, 'onStoreError', options.onStoreError, ['fail-closed', 'fail-open', 'insurance']);
    this.instances =
      this.policy === 'insurance'
        ? checkNumber(where, 'expectedInstances', options.expectedInstances, { min: 1, integer: true })
        : checkNumber(where, 'expectedInstances', options.expectedInstances ?? 1, { min: 1, integer: true });
    this.probeIntervalMs = checkNumber(where, 'probeIntervalMs', options.probeIntervalMs ?? 500, { min: 1 });
  }

  /** True while decisions go to the failure policy. */
  get down(): boolean {
    return this.isDown;
  }

  /**
   * Runs `call` unless the store is down. A `StoreCallError` marks it down (and is reported);
   * then, and while down, resolves to {@link STORE_DOWN}. Other errors propagate.
   */
  async attempt<T>(call: () => Promise<T>): Promise<T | typeof STORE_DOWN> {
    if (this.isDown) return STORE_DOWN;
    try {
      return await call();
    } catch (error) {
      if (!(error instanceof StoreCallError)) throw error;
      this.failed(error);
      return STORE_DOWN;
    }
  }

  /** Subscribes to store failures (each failed call or probe); returns an unsubscriber. */
  onStoreFailure(listener: (error: StoreCallError) => void): Disposer {
    return this.failures.on(listener);
  }

  /** Subscribes to hand-overs between Redis and the policy; returns an unsubscriber. */
  onModeChange(listener: (mode: StoreMode) => void): Disposer {
    return this.modes.on(listener);
  }

  /** Stops probing. Idempotent. */
  close(): void {
    this.closed = true;
    if (this.probeTimer !== undefined) this.store.clock.clearTimer(this.probeTimer);
    this.probeTimer = undefined;
  }

  private failed(error: StoreCallError): void {
    this.failures.emit(error, undefined);
    if (this.isDown || this.closed) return;
    this.isDown = true;
    this.modes.emit('fallback', undefined);
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    this.probeTimer = this.store.clock.setTimer(() => {
      this.probeTimer = undefined;
      this.store.run(PING, [], []).then(
        () => {
          if (this.closed) return;
          this.isDown = false;
          this.modes.emit('redis', undefined);
        },
        (error: unknown) => {
          if (this.closed) return;
          if (error instanceof StoreCallError) this.failures.emit(error, undefined);
          this.scheduleProbe();
        },
      );
    }, this.probeIntervalMs);
  }
}
