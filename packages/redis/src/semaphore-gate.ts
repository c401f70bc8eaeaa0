import { randomUUID } from 'node:crypto';
import {
  GateBase,
  KEEP_ALIVE,
  StoreUnavailableError,
  checkCount,
  checkName,
  checkNumber,
  checkOptions,
  optionKeys,
  type Clock,
  type Permit,
  type Refusal,
  type TimerHandle,
  type TryAcquireOptions,
} from '@sluice/core';
import { STORE_DOWN, type StoreGuard } from './guard.js';

/** @internal One answer of the semaphore's acquire script. */
export interface SemaphoreDecision {
  readonly admitted: boolean;
  /** Refused: ms until the earliest live lease expires (or until the ticket ahead moves). */
  readonly waitMs: number;
  /** Units held after the decision. */
  readonly used: number;
  /** Fair mode: tickets ahead of the caller's in the line (0: at the front); -1 without a ticket. */
  readonly ahead: number;
}

/** @internal A permit the semaphore handed to a gate; `close` stops its renewal. */
export interface HeldPermit extends Permit {
  /** Stops the lease's renewal (the lease then lapses `leaseMs` after its last renewal). */
  stopRenewal(): void;
}

/** @internal What a {@link RedisSemaphoreGate} needs from its `RedisSemaphore`. */
export interface SemaphoreBackend {
  /** The semaphore's name. */
  readonly name: string;
  /** Units per key. */
  readonly maxConcurrent: number;
  /** Longest nap after the refusal `decision` (shorter at the front of the fair line), ms. */
  pollMs(decision: SemaphoreDecision): number;
  /** The failure policy. */
  readonly guard: StoreGuard;
  /** Asks Redis for `count` units of `key` under lease `id`, waiting in line as `ticket` (fair mode). */
  take(key: string, count: number, id: string, ticket: string | undefined): Promise<SemaphoreDecision>;
  /** A permit for units Redis granted; `onReleased` runs once when it is released. */
  grant(key: string, count: number, id: string, onReleased: () => void): HeldPermit;
  /** Gives back a lease nobody took (best effort, never rejects). */
  drop(key: string, count: number, id: string): Promise<void>;
  /** A permit from the failure policy while Redis is down (`undefined`: refused). */
  fallback(key: string, count: number, onReleased: () => void): HeldPermit | undefined;
  /** Takes the ticket of `key` out of the line (best effort), when this gate no longer waits. */
  leaveLine(key: string, ticket: string): void;
  /** The gate closed: forget it. */
  forget(key: string, gate: RedisSemaphoreGate): void;
}

/** Options of a {@link RedisSemaphoreGate} (through `RedisSemaphore.gate(key, options)`). */
export interface RedisSemaphoreGateOptions {
  /** Name in refusals, errors and metrics; default `<semaphore>:<key>`. */
  readonly name?: string;
  /**
   * Most units that may wait in this process at once, as `ConcurrencyLimiter`'s `queueLimit`;
   * default 1,024. `0`: `acquire` never waits (a full semaphore rejects with `LimitExceededError`).
   */
  readonly queueLimit?: number;
}

/** Default of {@link RedisSemaphoreGateOptions.queueLimit} (as `ConcurrencyLimiter`'s). */
export const DEFAULT_SEMAPHORE_QUEUE_LIMIT = 1_024;

/**
 * One key of a {@link RedisSemaphore} as a sluice `Gate`: the distributed counterpart of a
 * `ConcurrencyLimiter` (bulkhead), to put in a `pipeline`, `overloadProtection` or a stream's
 * `throttle`.
 *
 * This process's waiters queue locally (priorities with aging, FIFO, `queueLimit`, `maxWaitMs`,
 * abort — as in every gate, with the same errors: `QueueFullError`, `WaitTimeoutError`,
 * `LimitExceededError` with `queueLimit: 0`, `ClosedError`); the head asks Redis for its units,
 * one call in flight at a time, napping between polls at the server's hint capped by
 * `maxPollMs`, woken at once by a release in this process. A permit is a lease in Redis
 * (renewed while held); releasing it — with any outcome, `NOT_RUN` included — frees its units
 * exactly once.
 *
 * `tryAcquire` is synchronous, so it only grants units this process already holds (almost
 * never: units are handed to waiters as they arrive); {@link RedisSemaphoreGate.tryAcquireNow}
 * is the authoritative now-or-never (one round trip) and returns a `Refusal` (`exhausted`,
 * `retryAfterMs` = the time until the earliest lease expires) when no unit is free.
 *
 * `close()` rejects this gate's waiters and stops the renewal of the permits it handed out
 * (they lapse `leaseMs` later unless released; a release after close still frees them).
 */
export class RedisSemaphoreGate extends GateBase {
  /** Largest count one request can take: the semaphore's `maxConcurrent`. */
  readonly capacity: number;
  /** The semaphore key. */
  readonly key: string;
  /** A permit granted by Redis (or the failure policy) for the head, about to be handed out. */
  private arriving: HeldPermit | undefined = undefined;
  /** How many units `arriving` holds (0: a probe's answer). */
  private arrivingCount = -1;
  private inFlight = false;
  private napTimer: TimerHandle | undefined = undefined;
  /** A release landed while a call was in flight: poll again at once. */
  private woken = false;
  private readonly held = new Set<HeldPermit>();
  private lastHintMs: number | undefined = undefined;
  /** This gate's place in the cross-process line (fair mode), while it has waiters. */
  private ticket: string | undefined = undefined;

  /**
   * Use `RedisSemaphore.gate(key)`.
   * @throws InvalidArgumentError for a bad option.
   * @hidden
   */
  constructor(
    private readonly backend: SemaphoreBackend,
    key: string,
    clock: Clock,
    options: RedisSemaphoreGateOptions = {},
    private readonly fair = false,
  ) {
    const name = checkName('RedisSemaphoreGate', options.name, `${backend.name}:${key}`);
    const queueLimit = checkNumber(name, 'queueLimit', options.queueLimit ?? DEFAULT_SEMAPHORE_QUEUE_LIMIT, { min: 0, integer: true });
    super({ name, clock, queueLimit });
    this.capacity = backend.maxConcurrent;
    this.key = key;
  }

  /** Permits this gate handed out and not released yet. */
  get heldPermits(): number {
    return this.held.size;
  }

  /**
   * The authoritative now-or-never: one round trip to Redis. Resolves with a permit, or a
   * refusal (`exhausted`, `retryAfterMs` until the earliest lease expires; `closed` after
   * `close()`). Never overtakes this process's waiters, nor (fair mode) other processes'.
   * Counted in `stats()` like `tryAcquire`.
   *
   * @throws InvalidArgumentError / TooLargeError as `tryAcquire`.
   */
  async tryAcquireNow(count = 1, options?: TryAcquireOptions): Promise<Permit | Refusal> {
    checkCount(count, this.capacity, this.name);
    if (this.isClosed || this.waiterCount > 0) return this.tryAcquire(count, options);
    const id = randomUUID();
    const decision = await this.backend.guard.attempt(() => this.backend.take(this.key, count, id, undefined)).catch(() => undefined);
    if (decision === STORE_DOWN) {
      const permit = this.backend.guard.policy === 'fail-closed' ? undefined : this.fallback(count);
      if (permit === undefined) this.lastHintMs = this.backend.guard.probeIntervalMs;
      else this.offer(permit, count);
    } else if (decision?.admitted === true) {
      const permit = this.backend.grant(this.key, count, id, () => this.held.delete(permit));
      this.offer(permit, count);
    } else if (decision !== undefined) {
      this.lastHintMs = decision.waitMs;
    }
    const result = this.tryAcquire(count, options);
    this.lastHintMs = undefined;
    // waiters arrived during the call: the units go to the head (or back to Redis)
    if (this.arriving !== undefined) this.serve();
    return result;
  }

  protected tryTake(count: number): boolean {
    if (this.arriving === undefined || this.arrivingCount !== count) return false;
    return true;
  }

  protected override permitFor(count: number): Permit {
    const permit = this.arriving as HeldPermit;
    void count;
    this.arriving = undefined;
    this.arrivingCount = -1;
    this.held.add(permit);
    return permit;
  }

  protected availableUnits(): number {
    return this.arriving === undefined ? 0 : this.arrivingCount;
  }

  protected override retryAfterRefusalMs(): number | undefined {
    return this.lastHintMs;
  }

  protected override serve(): void {
    super.serve();
    this.handOff();
    this.pump();
  }

  protected override closeCore(): void {
    if (this.napTimer !== undefined) this.clock.clearTimer(this.napTimer);
    this.napTimer = undefined;
    this.handOff();
    for (const permit of this.held) permit.stopRenewal();
    this.held.clear();
    this.leaveLine();
    this.backend.forget(this.key, this);
  }

  /** A release of this key in this process: units may be free now. */
  wake(): void {
    if (this.isClosed) return;
    if (this.inFlight) {
      this.woken = true;
      return;
    }
    if (this.napTimer !== undefined) {
      this.clock.clearTimer(this.napTimer);
      this.napTimer = undefined;
      this.pump();
    }
  }

  /** Holds `permit` (of `count` units) for the head waiter or the `tryAcquire` that follows. */
  private offer(permit: HeldPermit, count: number): void {
    this.arriving = permit;
    this.arrivingCount = count;
  }

  /** A permit nobody took (the head left, or changed, while its call was in flight) goes back. */
  private handOff(): void {
    const left = this.arriving;
    if (left === undefined) return;
    this.arriving = undefined;
    this.arrivingCount = -1;
    left.release();
  }

  private fallback(count: number): HeldPermit | undefined {
    const permit = this.backend.fallback(this.key, count, () => this.held.delete(permit as HeldPermit));
    return permit;
  }

  /** Asks Redis for the head waiter's units; one call in flight at a time. */
  private pump(): void {
    if (this.isClosed || this.inFlight || this.napTimer !== undefined) return;
    const head = this.queue.peek();
    if (head === undefined) {
      this.leaveLine();
      return;
    }
    const count = head.count;
    const id = randomUUID();
    if (this.fair && this.ticket === undefined) this.ticket = randomUUID();
    const ticket = this.ticket;
    this.inFlight = true;
    this.woken = false;
    this.backend.guard
      .attempt(() => this.backend.take(this.key, count, id, ticket))
      .then(
        (decision) => {
          this.inFlight = false;
          if (decision === STORE_DOWN) {
            this.onStoreDown(count);
            return;
          }
          if (decision.admitted) {
            // the ticket was consumed by the grant: the next waiter queues at the back of the line
            if (this.fair) this.ticket = undefined;
            const permit = this.backend.grant(this.key, count, id, () => this.held.delete(permit));
            if (this.isClosed) {
              permit.release();
              return;
            }
            this.offer(permit, count);
            this.serve();
            return;
          }
          if (this.isClosed) return;
          this.nap(this.woken ? 0 : Math.max(1, Math.min(decision.waitMs, this.backend.pollMs(decision))));
        },
        (error: unknown) => {
          this.inFlight = false;
          const current = this.queue.peek();
          if (current !== undefined && !this.isClosed) this.dropWaiter(current, 'exhausted', undefined, error);
          this.pump();
        },
      );
  }

  private onStoreDown(count: number): void {
    if (this.isClosed) return;
    const guard = this.backend.guard;
    if (guard.policy === 'fail-closed') {
      const head = this.queue.peek();
      const retryAfterMs = guard.probeIntervalMs;
      if (head !== undefined) {
        this.dropWaiter(head, 'exhausted', retryAfterMs, new StoreUnavailableError(this.name, 'the store did not answer', retryAfterMs));
      }
      this.pump();
      return;
    }
    const permit = this.fallback(count);
    if (permit === undefined) {
      // the insurance slots are full: a release of one wakes the gate, the probe interval bounds the nap
      this.nap(guard.probeIntervalMs);
      return;
    }
    this.offer(permit, count);
    this.serve();
  }

  /** Polls again after `ms` (keeping the process alive: a caller awaits), or when woken. */
  private nap(ms: number): void {
    if (ms <= 0) {
      this.pump();
      return;
    }
    this.napTimer = this.clock.setTimer(
      () => {
        this.napTimer = undefined;
        this.pump();
      },
      ms,
      KEEP_ALIVE,
    );
  }

  private leaveLine(): void {
    if (this.ticket === undefined) return;
    this.backend.leaveLine(this.key, this.ticket);
    this.ticket = undefined;
  }
}

const SEMAPHORE_GATE_KEYS = optionKeys<RedisSemaphoreGateOptions>()({ name: true, queueLimit: true });

/** @internal Checks `gate()` options before a gate is made. */
export function checkSemaphoreGateOptions(where: string, options: unknown): RedisSemaphoreGateOptions {
  if (options === undefined) return {};
  return checkOptions(where, options as RedisSemaphoreGateOptions, SEMAPHORE_GATE_KEYS);
}
