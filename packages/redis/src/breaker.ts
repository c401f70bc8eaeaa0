import { randomUUID } from 'node:crypto';
import {
  checkOptions,
  CircuitOpenError,
  ClosedError,
  Emitter,
  InvalidArgumentError,
  optionKeys,
  StoreUnavailableError,
  checkFunction,
  checkName,
  checkNumber,
  EMPTY_PERMIT,
  type Disposer,
} from '@sluice/core';
import {
  CircuitBreaker,
  type BreakerState,
  type TripCounter,
  type TripReason,
  type TripSnapshot,
  type TripStrategy,
} from '@sluice/breaker';
import { STORE_DOWN, StoreGuard, type StoreFailurePolicy, type StoreGuardOptions, type StoreMode } from './guard.js';
import { BREAKER_ACQUIRE, BREAKER_RECORD } from './scripts.js';
import {
  SharedBreakerGate,
  checkBreakerGateOptions,
  type BreakerAdmission,
  type SharedBreakerBackend,
  type SharedBreakerGateOptions,
} from './breaker-gate.js';
import type { RedisStore, StoreCallError } from './store.js';

/**
 * The states of a {@link SharedCircuitBreaker}: those of `@sluice/breaker`'s `CircuitBreaker`
 * without `isolated` (there is no manual isolation across instances).
 *
 * - `closed`: every call passes; failures are counted in Redis.
 * - `open`: every call is refused with a `CircuitOpenError` until `halfOpenAfterMs` after opening.
 * - `half-open`: one instance holds the single trial call; every other call is refused.
 */
export type SharedBreakerState = Exclude<BreakerState, 'isolated'>;

/** Default of {@link SharedCircuitBreakerOptions.name}. */
export const DEFAULT_SHARED_BREAKER_NAME = 'breaker';

/** Default of {@link SharedCircuitBreakerOptions.halfOpenTrialMs}: 10 s. */
export const DEFAULT_HALF_OPEN_TRIAL_MS = 10_000;

/** Options of a {@link SharedCircuitBreaker}. */
export interface SharedCircuitBreakerOptions extends StoreGuardOptions {
  /** The store (client, prefix, per-call timeout). */
  readonly store: RedisStore;
  /**
   * The breaker's name: every instance using the same store prefix and name shares one circuit.
   * Part of every key (`prefix:{name:circuit}:…`) and of errors. Default `'breaker'`.
   */
  readonly name?: string;
  /**
   * Failures that open the circuit: it opens when `failureThreshold` failures (over every
   * instance) fall within the last `windowMs`. Required: an integer ≥ 1.
   */
  readonly failureThreshold: number;
  /**
   * Length of the sliding failure window, in ms (on Redis's clock): a failure older than this no
   * longer counts. Required: a finite number > 0.
   */
  readonly windowMs: number;
  /**
   * How long the circuit stays open before one call may try the dependency again, in ms (the
   * name of `CircuitBreaker`'s option). Required (or its deprecated alias `openMs`): a finite
   * number > 0 (it depends on how fast the dependency recovers).
   */
  readonly halfOpenAfterMs?: number;
  /**
   * How long the circuit stays open before a trial, ms.
   *
   * @deprecated Use `halfOpenAfterMs` (the name `CircuitBreaker` uses); `openMs` still works.
   */
  readonly openMs?: number;
  /**
   * How long a half-open trial claim lasts, in ms: the longest a trial call is expected to take.
   * A holder that has not reported by then (it crashed, or its call hangs) loses the claim and
   * the next caller of any instance becomes the trial; a late report of the lost trial is
   * ignored. An integer ≥ 1; default {@link DEFAULT_HALF_OPEN_TRIAL_MS} (10,000).
   */
  readonly halfOpenTrialMs?: number;
  /**
   * Whether an error thrown (or a rejection) by the protected call counts as a failure. Default:
   * every error does. Keep errors that say nothing about the dependency's health (a 404, a
   * validation error) out: `(error) => !(error instanceof NotFoundError)`. Must not throw; if it
   * does, the call counts as a failure.
   */
  readonly isFailure?: (error: unknown) => boolean;
  /**
   * With `onStoreError: 'insurance'`: instances sharing the circuit, so the local breaker opens
   * after `ceil(failureThreshold / expectedInstances)` failures in `windowMs` (each instance sees
   * about its share of the calls). An integer ≥ 1; default 1 (the full threshold locally).
   */
  readonly expectedInstances?: number;
}

// Replies of the acquire script: what the caller may do.
const ADMIT_CLOSED = 0;
const REFUSE_OPEN = 1;
const REFUSE_TRIAL_HELD = 2;
const ADMIT_TRIAL = 3;

// State codes in record replies.
const STATE_NAMES: readonly SharedBreakerState[] = ['closed', 'open', 'half-open'];

/** {@link failuresInWindow} tripped: `failures` failures fell within `windowMs`. */
interface WindowTripReason extends TripReason {
  readonly rule: 'failures-in-window';
  readonly failures: number;
  readonly threshold: number;
  readonly windowMs: number;
}

/**
 * The shared rule for the local insurance breaker: opens on `threshold` failures within the
 * last `windowMs` (failure times kept in a list of at most `threshold` entries).
 */
function failuresInWindow(threshold: number, windowMs: number): TripStrategy {
  return Object.freeze({
    rule: 'failures-in-window',
    create(): TripCounter {
      const times: number[] = [];
      const drop = (now: number): void => {
        while (times.length > 0 && (times[0] as number) <= now - windowMs) times.shift();
      };
      return {
        needsTime: true,
        record(failed: boolean, now: number): WindowTripReason | undefined {
          drop(now);
          if (!failed) return undefined;
          times.push(now);
          if (times.length < threshold) return undefined;
          const failures = times.length;
          times.length = 0;
          return { rule: 'failures-in-window', failures, threshold, windowMs };
        },
        reset(): void {
          times.length = 0;
        },
        snapshot(now: number): TripSnapshot {
          drop(now);
          return { calls: times.length, failures: times.length, failureRate: undefined };
        },
      };
    },
  });
}

/** A parsed acquire reply. */
interface Admission {
  readonly code: number;
  readonly gen: string;
  readonly retryAfterMs: number;
}

/** A parsed record reply. */
interface Recorded {
  readonly state: SharedBreakerState;
}

const everyErrorFails = (): boolean => true;

const SHARED_BREAKER_KEYS = optionKeys<SharedCircuitBreakerOptions>()({
  store: true,
  name: true,
  failureThreshold: true,
  windowMs: true,
  halfOpenAfterMs: true,
  openMs: true,
  halfOpenTrialMs: true,
  isFailure: true,
  expectedInstances: true,
  onStoreError: true,
  probeIntervalMs: true,
});

/**
 * A circuit breaker whose state lives in Redis, shared by every process that uses the same
 * store prefix and breaker name: when the dependency fails for one, it is open for all; one
 * trial call of one instance decides for all whether it is back.
 *
 * **Trip rule.** The circuit opens when `failureThreshold` failures — counted over every
 * instance — fall within the last `windowMs` (an exact sliding window on Redis's clock; a
 * success does not reset it, and costs no write). It stays open `halfOpenAfterMs`; the first call of any
 * instance after that claims the single half-open trial (a claim with expiry
 * `halfOpenTrialMs`); every other call is refused meanwhile. The trial succeeding closes the
 * circuit for everyone (and empties the window); failing opens it again for `halfOpenAfterMs`. A trial
 * holder that never reports loses the claim after `halfOpenTrialMs`, and a late report is ignored.
 * Outcomes of calls admitted before a transition (the circuit opened or closed meanwhile) are
 * ignored, as in the in-memory breaker.
 *
 * **Cost.** `run` makes one round trip before calling `fn` (the state, and the trial claim when
 * due) and one after it when there is something to record: a failure, or a trial's outcome. A
 * closed call that succeeds costs one round trip. Each is one Lua script over the circuit's
 * hash-tagged keys (`prefix:{name:circuit}:state`, `…:failures`, `…:trial`; one cluster slot),
 * on Redis's clock, and every key expires once idle. With `retainMs = max(windowMs, halfOpenAfterMs,
 * halfOpenTrialMs)`: the failure window expires `windowMs` after its last failure, the trial claim
 * after `halfOpenTrialMs`, an open state `retainMs` after it became due for its trial (or after
 * the last trial claim expired) — an open circuit nobody called for that long forgets it was open,
 * and the next call finds it closed, to be judged afresh by `failureThreshold` failures — and a
 * closed circuit's generation (the only thing a closed circuit without recent failures stores)
 * `retainMs` after the last transition or failure.
 *
 * **State.** The state lives only in Redis; `run` decides on the round trip. The {@link
 * SharedCircuitBreaker.state} getter is the last state this instance saw, and
 * {@link SharedCircuitBreaker.onStateChange} fires when a round trip shows a state different
 * from the last one seen (so an instance that is not called does not notice transitions).
 *
 * **Failure policy** (`onStoreError`, required). While Redis does not answer, `run` rejects
 * with a `StoreUnavailableError` (`fail-closed`), calls `fn` unprotected (`fail-open`), or
 * decides with a local in-memory `CircuitBreaker` with the same rule (`insurance`; threshold
 * `ceil(failureThreshold / expectedInstances)`), dropped when Redis answers again. A store
 * failure while recording an outcome never fails the caller: the outcome is lost and the error
 * reported to {@link SharedCircuitBreaker.onStoreFailure}.
 *
 * @example
 * ```ts
 * const breaker = new SharedCircuitBreaker({ store, name: 'payments', failureThreshold: 5, windowMs: 10_000, halfOpenAfterMs: 30_000, onStoreError: 'insurance', expectedInstances: 4 });
 * breaker.onStateChange((state) => log.warn(`payments circuit ${state}`));
 * const receipt = await breaker.run(() => payments.charge(order)); // CircuitOpenError while open
 * ```
 */
export class SharedCircuitBreaker {
  /** The breaker's name (in keys and errors). */
  readonly name: string;
  /** The store. */
  readonly store: RedisStore;
  /** The failure policy. */
  readonly policy: StoreFailurePolicy;
  /** Failures within `windowMs` that open the circuit. */
  readonly failureThreshold: number;
  /** Length of the failure window, ms. */
  readonly windowMs: number;
  /** Time the circuit stays open before a trial, ms. */
  readonly halfOpenAfterMs: number;
  /** Life of a half-open trial claim, ms. */
  readonly halfOpenTrialMs: number;
  private readonly isFailure: (error: unknown) => boolean;
  /** How long idle state is kept: `max(windowMs, halfOpenAfterMs, halfOpenTrialMs)`, ms. */
  private readonly retainMs: number;
  private readonly guard: StoreGuard;
  private readonly keys: readonly [string, string, string];
  private readonly instanceId = randomUUID();
  private calls = 0;
  private lastState: SharedBreakerState = 'closed';
  private readonly stateChanges = new Emitter<SharedBreakerState, SharedBreakerState>();
  private local: CircuitBreaker | undefined = undefined;
  private readonly gates = new Set<SharedBreakerGate>();
  private backendOf: SharedBreakerBackend | undefined = undefined;
  private closed = false;

  /**
   * @throws InvalidArgumentError for a missing store, a bad name, threshold, window, open time,
   *   trial time, `isFailure` or `expectedInstances`, or a missing or unknown `onStoreError`.
   */
  constructor(options: SharedCircuitBreakerOptions) {
    if (typeof options !== 'object' || options === null)
      throw new InvalidArgumentError('SharedCircuitBreaker', 'options', 'an object', options);
    checkOptions('SharedCircuitBreaker', options, SHARED_BREAKER_KEYS);
    this.name = checkName('SharedCircuitBreaker', options.name, DEFAULT_SHARED_BREAKER_NAME);
    const store = (options as Partial<SharedCircuitBreakerOptions>).store;
    if (typeof store !== 'object' || store === null || typeof store.run !== 'function') {
      throw new InvalidArgumentError(this.name, 'store', 'a RedisStore', store);
    }
    this.store = store;
    this.failureThreshold = checkNumber(this.name, 'failureThreshold', options.failureThreshold, { min: 1, integer: true });
    this.windowMs = checkNumber(this.name, 'windowMs', options.windowMs, { min: 0, exclusiveMin: true });
    if (options.halfOpenAfterMs !== undefined && options.openMs !== undefined && options.halfOpenAfterMs !== options.openMs) {
      throw new InvalidArgumentError(
        this.name,
        'openMs',
        `absent, or equal to halfOpenAfterMs (${options.halfOpenAfterMs})`,
        options.openMs,
      );
    }
    this.halfOpenAfterMs =
      options.halfOpenAfterMs === undefined && options.openMs !== undefined
        ? checkNumber(this.name, 'openMs', options.openMs, { min: 0, exclusiveMin: true })
        : checkNumber(this.name, 'halfOpenAfterMs', options.halfOpenAfterMs, { min: 0, exclusiveMin: true });
    this.halfOpenTrialMs = checkNumber(this.name, 'halfOpenTrialMs', options.halfOpenTrialMs ?? DEFAULT_HALF_OPEN_TRIAL_MS, {
      min: 1,
      integer: true,
    });
    this.retainMs = Math.max(this.windowMs, this.halfOpenAfterMs, this.halfOpenTrialMs);
    checkFunction(this.name, 'isFailure', options.isFailure, true);
    this.isFailure = options.isFailure ?? everyErrorFails;
    // A breaker's insurance needs no instance count to be safe: default 1 (the full threshold).
    this.guard = new StoreGuard(this.name, store, { ...options, expectedInstances: options.expectedInstances ?? 1 });
    this.policy = this.guard.policy;
    this.guard.onModeChange((mode) => {
      if (mode === 'redis') this.dropLocal();
    });
    this.keys = [
      store.key(this.name, 'circuit', 'state'),
      store.key(this.name, 'circuit', 'failures'),
      store.key(this.name, 'circuit', 'trial'),
    ];
  }

  /**
   * The last state this instance saw in Redis (initially `closed`): the circuit may have moved
   * since, in another instance. `run` never decides on it; it asks Redis.
   */
  get state(): SharedBreakerState {
    return this.lastState;
  }

  /**
   * Time the circuit stays open before a trial, ms.
   *
   * @deprecated Use {@link SharedCircuitBreaker.halfOpenAfterMs}.
   */
  get openMs(): number {
    return this.halfOpenAfterMs;
  }

  /** True while decisions go to the failure policy because Redis did not answer. */
  get storeDown(): boolean {
    return this.guard.down;
  }

  /**
   * The shared circuit as a sluice `Gate` (see {@link SharedBreakerGate}), for `pipeline`,
   * `overloadProtection` and the stream `throttle`s: one round trip per admission, a permit
   * that records its outcome on release, refusals with reason `circuit-open`. The breaker
   * keeps each gate until its own `close()` (which closes them): make one and reuse it.
   *
   * @throws InvalidArgumentError for a bad option; ClosedError after `close()`.
   */
  gate(options?: SharedBreakerGateOptions): SharedBreakerGate {
    const checked = checkBreakerGateOptions(this.name, options);
    if (this.closed) throw new ClosedError(this.name);
    const gate = new SharedBreakerGate(this.backend(), this.store.clock, checked);
    this.gates.add(gate);
    return gate;
  }

  /**
   * Runs `fn` if the shared circuit admits it, and records how it settled.
   *
   * One round trip first: closed admits; open rejects with a `CircuitOpenError` whose
   * `retryAfterMs` is the time until the trial (server clock); open for `halfOpenAfterMs` already, the
   * caller claims the single half-open trial, or — when another caller holds it — is rejected
   * with `retryAfterMs` = the time until that claim expires at the latest. Then `fn` runs; a
   * throw (or rejection) counts as a failure when `isFailure(error)` says so. A failure, or a
   * trial's outcome, is recorded in one more round trip before `run` settles (bounded by the
   * store's `timeoutMs`); a store failure then is reported to `onStoreFailure` and never changes
   * what `run` settles with. `run` resolves with `fn`'s value, or rejects with its error.
   *
   * While Redis does not answer, the failure policy decides (see the class).
   *
   * @throws (rejects with) `CircuitOpenError` while open or half-open without the trial;
   *   `StoreUnavailableError` under `fail-closed` while Redis is down; `ClosedError` after
   *   `close()`; `InvalidArgumentError` when `fn` is not a function.
   */
  async run<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError(this.name, 'fn', 'a function', fn);
    if (this.closed) throw new ClosedError(this.name);
    const member = `${this.instanceId}:${++this.calls}`;
    const admission = await this.guard.attempt(() => this.acquireRemote(member));
    if (admission === STORE_DOWN) return this.fallbackRun(fn);
    const trial = admission.code === ADMIT_TRIAL;
    this.observe(admission.code === ADMIT_CLOSED ? 'closed' : admission.code === REFUSE_OPEN ? 'open' : 'half-open');
    if (admission.code === REFUSE_OPEN || admission.code === REFUSE_TRIAL_HELD) {
      throw new CircuitOpenError(this.name, Math.max(0, Math.ceil(admission.retryAfterMs)));
    }
    let value: T;
    try {
      value = await fn();
    } catch (error) {
      const failed = this.judge(error);
      if (failed || trial) await this.record(admission, member, trial, failed);
      throw error;
    }
    if (trial) await this.record(admission, member, true, false);
    return value;
  }

  /**
   * Subscribes to state changes this instance observes (a round trip showing a state other than
   * the last seen): the listener gets the new state and the previous one. Transitions made by
   * other instances are seen on this instance's next call. Returns an unsubscriber.
   */
  onStateChange(listener: (state: SharedBreakerState, previous: SharedBreakerState) => void): Disposer {
    return this.stateChanges.on(listener);
  }

  /**
   * Subscribes to moves into `open` this instance observes (as `CircuitBreaker.onOpen`; the
   * listener gets the state it left); returns an unsubscriber.
   */
  onOpen(listener: (previous: SharedBreakerState) => void): Disposer {
    return this.stateChanges.on((state, previous) => {
      if (state === 'open') listener(previous);
    });
  }

  /** Subscribes to moves into `half-open` this instance observes; returns an unsubscriber. */
  onHalfOpen(listener: (previous: SharedBreakerState) => void): Disposer {
    return this.stateChanges.on((state, previous) => {
      if (state === 'half-open') listener(previous);
    });
  }

  /** Subscribes to moves into `closed` this instance observes; returns an unsubscriber. */
  onClose(listener: (previous: SharedBreakerState) => void): Disposer {
    return this.stateChanges.on((state, previous) => {
      if (state === 'closed') listener(previous);
    });
  }

  /** Subscribes to store failures (each failed call or probe); returns an unsubscriber. */
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
   * Stops the store probe, closes the gates made by {@link SharedCircuitBreaker.gate} and drops
   * the insurance breaker; later `run`s reject with a `ClosedError`. Calls in flight still record
   * their outcome (best effort). Returns a promise like every Redis component's `close()`; it is
   * already resolved (nothing is left to wait for), so calling it without `await` is fine.
   * Idempotent.
   */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    for (const gate of this.gates) gate.close();
    this.gates.clear();
    this.guard.close();
    this.dropLocal();
    return Promise.resolve();
  }

  private async acquireRemote(member: string): Promise<Admission> {
    const reply = (await this.store.run(BREAKER_ACQUIRE, this.keys, [member, this.halfOpenTrialMs, this.retainMs])) as [
      number,
      string,
      string,
      string,
    ];
    return { code: Number(reply[0]), gen: String(reply[1]), retryAfterMs: Number(reply[2]) };
  }

  private async recordRemote(admission: Admission, member: string, trial: boolean, failed: boolean): Promise<Recorded> {
    const reply = (await this.store.run(BREAKER_RECORD, this.keys, [
      admission.gen,
      trial ? member : '',
      member,
      failed ? 1 : 0,
      this.failureThreshold,
      this.windowMs,
      this.halfOpenAfterMs,
      this.retainMs,
    ])) as [number, string, number, string, string, number];
    return { state: STATE_NAMES[Number(reply[0])] ?? 'closed' };
  }

  /** Records an outcome; never rejects (a store failure is reported by the guard). */
  private async record(admission: Admission, member: string, trial: boolean, failed: boolean): Promise<void> {
    try {
      const recorded = await this.guard.attempt(() => this.recordRemote(admission, member, trial, failed));
      if (recorded !== STORE_DOWN) this.observe(recorded.state);
    } catch {
      // only a malformed reply can land here: the caller's call must not fail because of it
    }
  }

  /** What the gates of this breaker use (made once). */
  private backend(): SharedBreakerBackend {
    if (this.backendOf !== undefined) return this.backendOf;
    const self = this;
    this.backendOf = {
      name: this.name,
      get state() {
        return self.lastState;
      },
      probeIntervalMs: this.guard.probeIntervalMs,
      judge: (error) => this.judge(error),
      admit: async (): Promise<BreakerAdmission> => {
        const member = `${this.instanceId}:${++this.calls}`;
        const admission = await this.guard.attempt(() => this.acquireRemote(member));
        if (admission === STORE_DOWN) {
          if (this.policy === 'fail-closed') return { kind: 'fallback', result: undefined };
          if (this.policy === 'fail-open') return { kind: 'fallback', result: EMPTY_PERMIT };
          return { kind: 'fallback', result: this.insurance().tryAcquire() };
        }
        this.observe(admission.code === ADMIT_CLOSED ? 'closed' : admission.code === REFUSE_OPEN ? 'open' : 'half-open');
        if (admission.code === REFUSE_OPEN || admission.code === REFUSE_TRIAL_HELD)
          return { kind: 'open', retryAfterMs: admission.retryAfterMs };
        const trial = admission.code === ADMIT_TRIAL;
        return {
          kind: 'admit',
          settle: (failed) => {
            if (failed === undefined || !(failed || trial)) return;
            void this.record(admission, member, trial, failed);
          },
        };
      },
    };
    return this.backendOf;
  }

  private judge(error: unknown): boolean {
    try {
      return this.isFailure(error) !== false;
    } catch {
      return true;
    }
  }

  private observe(state: SharedBreakerState): void {
    const previous = this.lastState;
    if (state === previous) return;
    this.lastState = state;
    this.stateChanges.emit(state, previous);
  }

  private fallbackRun<T>(fn: () => PromiseLike<T> | T): Promise<T> {
    if (this.policy === 'fail-closed')
      return Promise.reject(new StoreUnavailableError(this.name, 'the store did not answer', this.guard.probeIntervalMs));
    if (this.policy === 'fail-open') return new Promise<T>((resolve) => resolve(fn()));
    return this.insurance().run(() => fn());
  }

  private insurance(): CircuitBreaker {
    if (this.local === undefined) {
      this.local = new CircuitBreaker({
        name: `${this.name} (insurance)`,
        trip: failuresInWindow(Math.max(1, Math.ceil(this.failureThreshold / this.guard.instances)), this.windowMs),
        halfOpenAfterMs: this.halfOpenAfterMs,
        isFailure: (outcome) => outcome.ok === false && this.judge(outcome.error),
        clock: this.store.clock,
      });
    }
    return this.local;
  }

  private dropLocal(): void {
    this.local?.close();
    this.local = undefined;
  }
}
