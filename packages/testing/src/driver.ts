import { checkOptions, optionKeys, type Gate, type Permit } from '@sluice/core';
import type { VirtualClock } from './virtual-clock.js';

/**
 * One step of a scripted or generated workload against a gate (see `gateOperations` in
 * `@sluice/testing/arbitraries`).
 *
 * - `try`: `tryAcquire(count, { priority })`; a permit is held until released.
 * - `acquire`: `acquire(count, { priority, maxWaitMs, signal })`, where `signal` picks one of
 *   the driver's shared abort signals (or none).
 * - `release`: releases the `pick % held`-th held permit with `{ ok: true }`.
 * - `abort`: aborts shared signal `signal` (a fresh one replaces it for later steps).
 * - `advance`: advances the virtual clock by `ms`, letting everything due happen.
 */
export type GateOperation = TryOperation | AcquireOperation | ReleaseOperation | AbortOperation | AdvanceOperation;

/** `tryAcquire(count, { priority })`; a permit is held until a `release` step. */
export interface TryOperation {
  /** Discriminant. */
  readonly kind: 'try';
  /** Units asked for (0 probes). */
  readonly count: number;
  /** Priority of the request. */
  readonly priority: number;
}

/** `acquire(count, { priority, maxWaitMs, signal })`. */
export interface AcquireOperation {
  /** Discriminant. */
  readonly kind: 'acquire';
  /** Units asked for. */
  readonly count: number;
  /** Priority of the request. */
  readonly priority: number;
  /** Its wait limit in ms, if any. */
  readonly maxWaitMs: number | undefined;
  /** Index of the shared abort signal it listens to, if any. */
  readonly signal: number | undefined;
}

/** Releases the `pick % held`-th held permit with `{ ok: true }`. */
export interface ReleaseOperation {
  /** Discriminant. */
  readonly kind: 'release';
  /** Which held permit (modulo how many are held). */
  readonly pick: number;
}

/** Aborts a shared signal (a fresh one replaces it for later steps). */
export interface AbortOperation {
  /** Discriminant. */
  readonly kind: 'abort';
  /** Index of the shared signal. */
  readonly signal: number;
}

/** Advances the virtual clock, letting everything due happen. */
export interface AdvanceOperation {
  /** Discriminant. */
  readonly kind: 'advance';
  /** Virtual milliseconds to advance. */
  readonly ms: number;
}

/** How one `acquire` of a driven workload ended. */
export interface WaiterRecord {
  /** Position among the driver's `acquire` calls, from 0. */
  readonly id: number;
  /** Units it asked for. */
  readonly count: number;
  /** Its priority. */
  readonly priority: number;
  /** Virtual time of the call, in ms. */
  readonly calledAt: number;
  /** `pending` until it settles. */
  state: 'pending' | 'granted' | 'rejected';
  /** Virtual time it settled, in ms. */
  settledAt: number | undefined;
  /** Order among granted waiters, from 0 (grant sequence). */
  grantOrder: number | undefined;
  /** The rejection reason, when rejected. */
  error: unknown;
  /** How many times it settled; anything but 0 or 1 is a bug. */
  settlements: number;
}

/** What {@link driveGate} observed. */
export interface DriveReport {
  /** Requests made with a count above 0 (`try` and `acquire` steps). */
  readonly attempts: number;
  /** `try` steps that got a permit. */
  readonly grantedNow: number;
  /** `try` steps that got a refusal. */
  readonly refusedNow: number;
  /** Every `acquire`, in call order. */
  readonly waiters: readonly WaiterRecord[];
  /** Permits still held (not released) at the end. */
  readonly held: readonly Permit[];
  /** Broken invariants seen after any step (empty when all held). */
  readonly violations: readonly string[];
}

/** Options of {@link driveGate}. */
export interface DriveOptions {
  /** Shared abort signals the `acquire` steps may pick from; default 3. */
  readonly signals?: number;
  /** Called after every step (once settled), e.g. to check a gate-specific invariant. */
  readonly afterStep?: (step: number, operation: GateOperation) => void;
}

const DRIVE_KEYS = optionKeys<DriveOptions>()({ signals: true, afterStep: true });

/**
 * Runs `operations` against `gate` in virtual time, settling promises after every step, and
 * checks after each step that the gate's counters add up:
 * `attempts = admitted + refused + cancelled + waiting` (counting only requests with count > 0
 * made through the driver; the gate must be fresh).
 *
 * Does not close the gate: call `gate.close()` and {@link settleAll} to check that every
 * waiter settles.
 */
export async function driveGate(
  gate: Gate,
  clock: VirtualClock,
  operations: readonly GateOperation[],
  options: DriveOptions = {},
): Promise<DriveReport> {
  checkOptions('driveGate', options, DRIVE_KEYS);
  const controllers = Array.from({ length: options.signals ?? 3 }, () => new AbortController());
  const waiters: WaiterRecord[] = [];
  const held: Permit[] = [];
  const violations: string[] = [];
  let attempts = 0;
  let grantedNow = 0;
  let refusedNow = 0;
  let grants = 0;

  for (let step = 0; step < operations.length; step++) {
    const op = operations[step] as GateOperation;
    switch (op.kind) {
      case 'try': {
        const result = gate.tryAcquire(op.count, { priority: op.priority });
        if (op.count > 0) attempts++;
        if (result.granted) {
          if (op.count > 0) grantedNow++;
          held.push(result);
        } else if (op.count > 0) {
          refusedNow++;
        }
        break;
      }
      case 'acquire': {
        const record: WaiterRecord = {
          id: waiters.length,
          count: op.count,
          priority: op.priority,
          calledAt: clock.now(),
          state: 'pending',
          settledAt: undefined,
          grantOrder: undefined,
          error: undefined,
          settlements: 0,
        };
        waiters.push(record);
        attempts++;
        const signal = op.signal === undefined ? undefined : controllers[op.signal % controllers.length]?.signal;
        gate
          .acquire(op.count, {
            priority: op.priority,
            ...(op.maxWaitMs === undefined ? {} : { maxWaitMs: op.maxWaitMs }),
            ...(signal === undefined ? {} : { signal }),
          })
          .then(
            (permit) => {
              record.settlements++;
              record.state = 'granted';
              record.settledAt = clock.now();
              record.grantOrder = grants++;
              held.push(permit);
            },
            (error: unknown) => {
              record.settlements++;
              record.state = 'rejected';
              record.settledAt = clock.now();
              record.error = error;
            },
          );
        break;
      }
      case 'release': {
        if (held.length > 0) {
          const [permit] = held.splice(op.pick % held.length, 1);
          permit?.release({ ok: true });
        }
        break;
      }
      case 'abort': {
        const index = op.signal % controllers.length;
        controllers[index]?.abort(new Error(`abort #${step}`));
        controllers[index] = new AbortController();
        break;
      }
      case 'advance':
        await clock.advance(op.ms);
        break;
    }
    await clock.advance(0);
    const stats = gate.stats();
    const accounted = stats.admitted + stats.refused + stats.cancelled + stats.waiting;
    if (accounted !== attempts) {
      violations.push(
        `after step ${step} (${op.kind}): attempts ${attempts} ≠ admitted ${stats.admitted} + refused ${stats.refused} + cancelled ${stats.cancelled} + waiting ${stats.waiting}`,
      );
    }
    const pending = waiters.filter((w) => w.state === 'pending').length;
    if (pending !== stats.waiting) {
      violations.push(`after step ${step} (${op.kind}): ${pending} acquire(s) pending but stats.waiting = ${stats.waiting}`);
    }
    for (const w of waiters) {
      if (w.settlements > 1) violations.push(`acquire #${w.id} settled ${w.settlements} times`);
    }
    options.afterStep?.(step, op);
  }
  return { attempts, grantedNow, refusedNow, waiters, held, violations };
}

/**
 * Lets promise continuations run and returns the driven waiters still pending: after
 * `gate.close()` it must be empty (every waiter settles exactly once).
 */
export async function settleAll(clock: VirtualClock, report: DriveReport): Promise<WaiterRecord[]> {
  await clock.advance(0);
  return report.waiters.filter((w) => w.state === 'pending');
}
