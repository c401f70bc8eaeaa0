import {
  ClosedError,
  InvalidArgumentError,
  QueueFullError,
  TooLargeError,
  WaitTimeoutError,
  checkOptions,
  optionKeys,
  refusalReasonOf,
  type Gate,
  type Outcome,
  type Permit,
  type RefusalReason,
} from '@sluice/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gateOperations } from './arbitraries.js';
import { INVALID_OUTCOMES } from './invalid-outcomes.js';
import { driveGate, settleAll } from './driver.js';
import { track, type TrackedPromise } from './track.js';
import { VirtualClock } from './virtual-clock.js';

export {
  describeRemoteGateContract,
  type RemoteGate,
  type RemoteGateContractOptions,
  type RemoteGateContractSubject,
} from './remote-contract.js';

/** A fresh gate for one contract test, with what the suite needs to know about it. */
export interface GateContractSubject {
  /** The gate under test, built on the context's clock. */
  readonly gate: Gate;
  /** Units a fresh gate grants at once before refusing (its burst, slots…). At least 1. */
  readonly initial: number;
  /** Units that may wait before `acquire` is refused with queue-full (0: it never waits). */
  readonly queueLimit: number;
  /**
   * Virtual ms after which, once every permit is released, a drained gate grants `initial`
   * units again: 0 for gates whose releases give budget back, the full refill time for rate
   * gates.
   */
  readonly refillMs: number;
  /**
   * The reason the gate gives when its budget is used up; default `exhausted`. A half-open
   * circuit breaker whose trials are taken says `circuit-open`; a load shedder says `shed`.
   */
  readonly refusalReason?: RefusalReason;
}

/** Options of {@link describeGateContract}. */
export interface GateContractOptions {
  /** Builds a fresh subject on `clock` (called once per test). */
  readonly create: (context: { readonly clock: VirtualClock }) => GateContractSubject;
  /**
   * Constructions that must throw an `InvalidArgumentError` naming the option, by label, e.g.
   * `{ 'ratePerSecond NaN': (ctx) => new TokenBucket({ ratePerSecond: NaN, burst: 1, clock: ctx.clock }) }`.
   */
  readonly invalid?: Readonly<Record<string, (context: { readonly clock: VirtualClock }) => unknown>>;
  /** Property-test runs for the random-workload test; default 40. */
  readonly propertyRuns?: number;
}

interface Fixture extends GateContractSubject {
  readonly clock: VirtualClock;
}

function fixture(options: GateContractOptions): Fixture {
  const clock = new VirtualClock({ stallReportMs: false });
  const subject = options.create({ clock });
  return { ...subject, clock };
}

/** Takes every unit a fresh gate grants at once, one at a time; returns the permits. */
function exhaust(f: Fixture): Permit[] {
  const permits: Permit[] = [];
  for (let i = 0; i < f.initial; i++) {
    const result = f.gate.tryAcquire(1);
    if (!result.granted) throw new Error(`contract: unit ${i + 1} of initial ${f.initial} was refused (${result.reason})`);
    permits.push(result);
  }
  return permits;
}

/** Releases `permits` and lets the gate refill, so that `initial` units are available again. */
async function restore(f: Fixture, permits: Permit[]): Promise<void> {
  for (const permit of permits.splice(0)) permit.release({ ok: true });
  await f.clock.advance(f.refillMs);
}

/**
 * Gives back one unit's worth: one permit released, then — for gates that refill with time —
 * virtual time in small steps until `done()` says the expected grant happened (refill need not
 * be linear: a sliding window returns units as its previous window fades), at most `refillMs`.
 */
async function restoreOne(f: Fixture, permits: Permit[], done: () => boolean): Promise<void> {
  permits.shift()?.release({ ok: true });
  await f.clock.advance(0);
  if (f.refillMs === 0) return;
  const step = Math.max(1, Math.floor(f.refillMs / (f.initial * 20)));
  for (let spent = 0; !done() && spent < f.refillMs; spent += step) await f.clock.advance(step);
}

/** Asserts that a drained, fully released gate grants `initial` units again (nothing leaked). */
async function expectFullBudget(f: Fixture, permits: Permit[]): Promise<void> {
  await restore(f, permits);
  const again = exhaust(f);
  expect(again).toHaveLength(f.initial);
  await restore(f, again);
}

/** One row of {@link describeInvalidOptions}: a label, a call that must throw, its exact message. */
export type InvalidOptionsCase = readonly [label: string, make: () => unknown, message: string];

/**
 * A table-driven vitest suite for option checks: every `make()` must throw an
 * `InvalidArgumentError` whose message is exactly `message`.
 *
 * @example
 * ```ts
 * describeInvalidOptions('unknown options', [
 *   ['TokenBucket', () => new TokenBucket({ ratePerMinute: 1, burst: 1 } as never),
 *     'TokenBucket: unknown option "ratePerMinute"; did you mean "ratePerSecond"?'],
 * ]);
 * ```
 */
export function describeInvalidOptions(name: string, cases: readonly InvalidOptionsCase[]): void {
  describe(name, () => {
    it.each(cases.map((c) => [...c]))('%s', (_label, make, message) => {
      let thrown: unknown;
      try {
        (make as () => unknown)();
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidArgumentError);
      expect((thrown as Error).message).toBe(message);
    });
  });
}

const GATE_CONTRACT_KEYS = optionKeys<GateContractOptions>()({ create: true, invalid: true, propertyRuns: true });

/**
 * The behaviour every sluice gate must have, as a vitest suite. Call it at the top level of a
 * test file with a factory that builds the gate on the given virtual clock:
 *
 * - grants up to its capacity, then refuses with `exhausted` and its own name;
 * - invalid options throw at construction, naming the option;
 * - a count above capacity throws at once naming both numbers (and `acquire` rejects at once);
 * - count 0 probes without taking or counting; non-integer, negative and NaN counts throw;
 * - waiters are served FIFO, a larger priority first, and a small request never overtakes a
 *   large one queued ahead;
 * - queue-full refusal at `queueLimit`;
 * - abort before queuing rejects at once with the signal's reason; abort while queued removes
 *   the waiter and returns what it held;
 * - `maxWaitMs` expiry (and `maxWaitMs: 0` never waits);
 * - `close()` rejects every waiter with a `ClosedError` and leaves no timer;
 * - double release is harmless; `run` releases whether `fn` returns or throws;
 * - `stats()` adds up under random workloads (a fast-check property in virtual time), and every
 *   waiter settles exactly once after `close()`.
 *
 * @example
 * ```ts
 * describeGateContract('TokenBucket', {
 *   create: ({ clock }) => ({
 *     gate: new TokenBucket({ ratePerSecond: 10, burst: 5, queueLimit: 4, clock }),
 *     initial: 5, queueLimit: 4, refillMs: 500,
 *   }),
 *   invalid: { 'burst 0': ({ clock }) => new TokenBucket({ ratePerSecond: 1, burst: 0, clock }) },
 * });
 * ```
 */
export function describeGateContract(name: string, options: GateContractOptions): void {
  checkOptions('describeGateContract', options, GATE_CONTRACT_KEYS);
  const make = (): Fixture => fixture(options);

  describe(`${name} — gate contract`, () => {
    it('grants up to its capacity, then refuses with its reason and its own name', async () => {
      const f = make();
      expect(f.initial).toBeGreaterThanOrEqual(1);
      const permits = exhaust(f);
      const refusal = f.gate.tryAcquire(1);
      expect(refusal.granted).toBe(false);
      if (!refusal.granted) {
        expect(refusal.reason).toBe(f.refusalReason ?? 'exhausted');
        expect(typeof refusal.gate).toBe('string');
        expect(refusal.gate.length).toBeGreaterThan(0);
        if (refusal.retryAfterMs !== undefined) expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(0);
      }
      await expectFullBudget(f, permits);
    });

    for (const [label, construct] of Object.entries(options.invalid ?? {})) {
      it(`invalid options throw at construction: ${label}`, () => {
        const clock = new VirtualClock({ stallReportMs: false });
        let thrown: unknown;
        try {
          construct({ clock });
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(InvalidArgumentError);
        const error = thrown as InvalidArgumentError;
        expect(error.message).toContain(error.argument);
        expect(error.message).toMatch(/received /);
      });
    }

    it('a count above capacity throws at once, naming both numbers', async () => {
      const f = make();
      const capacity = f.gate.capacity;
      if (capacity === Infinity) return expect(f.gate.tryAcquire(1e9).granted).toBe(true);
      const over = capacity + 1;
      let thrown: unknown;
      try {
        f.gate.tryAcquire(over);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(TooLargeError);
      expect((thrown as Error).message).toContain(String(over));
      expect((thrown as Error).message).toContain(String(capacity));
      const pending = track(f.gate.acquire(over));
      await f.clock.advance(0);
      expect(pending.state).toBe('rejected');
      expect(pending.error).toBeInstanceOf(TooLargeError);
      expect((pending.error as TooLargeError).retryAfterMs).toBeUndefined();
    });

    it('count 0 probes: reports availability without taking or counting', async () => {
      const f = make();
      const before = f.gate.stats();
      const probe = f.gate.tryAcquire(0);
      expect(probe.granted).toBe(true);
      if (probe.granted) probe.release();
      expect(f.gate.stats().admitted).toBe(before.admitted);
      expect(f.gate.stats().refused).toBe(before.refused);
      const permits = exhaust(f); // the probe took nothing: every unit is still there
      const emptyProbe = f.gate.tryAcquire(0);
      expect(emptyProbe.granted).toBe(false);
      expect(f.gate.stats().refused).toBe(before.refused);
      await expectFullBudget(f, permits);
    });

    it('non-integer, negative and NaN counts throw (and acquire rejects)', async () => {
      const f = make();
      for (const bad of [-1, 0.5, Number.NaN, -Infinity, '1' as unknown as number]) {
        expect(() => f.gate.tryAcquire(bad)).toThrow(InvalidArgumentError);
        await expect(f.gate.acquire(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      const stats = f.gate.stats();
      expect(stats.admitted + stats.refused + stats.cancelled).toBe(0);
    });

    it('serves waiters FIFO, and a larger priority first', async () => {
      const f = make();
      if (f.queueLimit < 3) return;
      const permits = exhaust(f);
      const first = track(f.gate.acquire(1));
      const second = track(f.gate.acquire(1));
      const urgent = track(f.gate.acquire(1, { priority: 10 }));
      await f.clock.advance(0); // let composed gates move each request to the stage where it waits
      const order: string[] = [];
      const watch = (label: string, t: TrackedPromise<Permit>) =>
        t.promise.then(
          (permit) => {
            order.push(label);
            permits.push(permit);
          },
          () => order.push(`${label}!`),
        );
      void watch('first', first);
      void watch('second', second);
      void watch('urgent', urgent);
      for (let i = 0; i < 3; i++) await restoreOne(f, permits, () => order.length > i);
      expect(order).toEqual(['urgent', 'first', 'second']);
      await expectFullBudget(f, permits);
    });

    it('a small request never overtakes a large one queued ahead', async () => {
      const f = make();
      if (f.queueLimit < 3 || f.initial < 2 || f.gate.capacity < 2) return;
      const permits = exhaust(f);
      const large = track(f.gate.acquire(2));
      const small = track(f.gate.acquire(1));
      await f.clock.advance(0);
      // one unit back: enough for the small request, not the large one ahead of it
      await restoreOne(f, permits, () => f.gate.stats().available >= 1);
      expect(large.state).toBe('pending');
      expect(small.state).toBe('pending');
      await restoreOne(f, permits, () => large.state !== 'pending');
      expect(large.state).toBe('fulfilled');
      expect(small.state).toBe('pending');
      permits.push(large.value as Permit);
      await restoreOne(f, permits, () => small.state !== 'pending');
      await f.clock.settle(small.promise);
      permits.push(small.value as Permit);
      await expectFullBudget(f, permits);
    });

    it('refuses with queue-full once queueLimit units wait', async () => {
      const f = make();
      exhaust(f);
      const waiters: TrackedPromise<Permit>[] = [];
      let queued = 0;
      while (queued < f.queueLimit) {
        const count = Math.min(f.queueLimit - queued, f.gate.capacity, f.initial);
        waiters.push(track(f.gate.acquire(count)));
        queued += count;
      }
      await f.clock.advance(0);
      expect(waiters.every((w) => w.state === 'pending')).toBe(true);
      expect(f.gate.stats().queued).toBe(f.queueLimit);
      const overflow = track(f.gate.acquire(1));
      await f.clock.advance(0);
      expect(overflow.state).toBe('rejected');
      if (f.queueLimit === 0) expect(refusalReasonOf(overflow.error)).toBe(f.refusalReason ?? 'exhausted');
      else expect(overflow.error).toBeInstanceOf(QueueFullError);
      f.gate.close();
      await f.clock.advance(0);
      expect(waiters.every((w) => w.state === 'rejected' && w.error instanceof ClosedError)).toBe(true);
    });

    it('abort before queuing rejects at once with the signal’s reason and leaves nothing', async () => {
      const f = make();
      const permits = exhaust(f);
      const controller = new AbortController();
      const reason = new Error('caller gave up');
      controller.abort(reason);
      const pending = track(f.gate.acquire(1, { signal: controller.signal }));
      await f.clock.advance(0);
      expect(pending.state).toBe('rejected');
      expect(pending.error).toBe(reason);
      expect(f.gate.stats().waiting).toBe(0);
      expect(f.gate.stats().cancelled).toBe(1);
      await expectFullBudget(f, permits);
    });

    it('abort while queued removes the waiter, returns what it held, and unblocks the next', async () => {
      const f = make();
      if (f.queueLimit < 2) return;
      const permits = exhaust(f);
      const controller = new AbortController();
      const aborted = track(f.gate.acquire(1, { signal: controller.signal }));
      const next = track(f.gate.acquire(1));
      await f.clock.advance(0);
      expect(f.gate.stats().waiting).toBe(2);
      const reason = new Error('no longer needed');
      controller.abort(reason);
      await f.clock.advance(0);
      expect(aborted.state).toBe('rejected');
      expect(aborted.error).toBe(reason);
      expect(f.gate.stats().waiting).toBe(1);
      expect(f.gate.stats().cancelled).toBe(1);
      await restoreOne(f, permits, () => next.state !== 'pending');
      await f.clock.settle(next.promise);
      permits.push(next.value as Permit);
      await expectFullBudget(f, permits);
    });

    it('a waiter times out after maxWaitMs, and maxWaitMs 0 never waits', async () => {
      const f = make();
      if (f.queueLimit < 1) return;
      const permits = exhaust(f);
      const now = track(f.gate.acquire(1, { maxWaitMs: 0 }));
      await f.clock.advance(0);
      expect(now.state).toBe('rejected');
      expect(now.error).toBeInstanceOf(WaitTimeoutError);
      // A gate that predicts the wait may refuse a wait limit below the prediction at once; one
      // that cannot predict it (no hint, or a hint that is only a guess from what it observed)
      // must time the waiter out exactly at its limit.
      const probe = f.gate.tryAcquire(1);
      const hint = probe.granted ? undefined : probe.retryAfterMs;
      if (probe.granted) permits.push(probe);
      const maxWaitMs = hint === undefined ? 50 : Math.floor(hint / 2);
      const started = f.clock.now();
      const waiter = track(f.gate.acquire(1, { maxWaitMs }));
      await f.clock.advance(0);
      if (waiter.state === 'pending' && maxWaitMs > 0) {
        await f.clock.advance(maxWaitMs - 1);
        expect(waiter.state).toBe('pending');
        await f.clock.advance(1);
      }
      await f.clock.advance(0);
      expect(waiter.state).toBe('rejected');
      expect(waiter.error).toBeInstanceOf(WaitTimeoutError);
      expect(f.clock.now() - started).toBeLessThanOrEqual(maxWaitMs === 0 ? 0 : Math.max(maxWaitMs, 1));
      expect(f.gate.stats().waiting).toBe(0);
      await expectFullBudget(f, permits);
    });

    it('close() rejects every waiter with ClosedError, refuses from then on, and leaves no timer', async () => {
      const f = make();
      const permits = exhaust(f);
      const waiters: TrackedPromise<Permit>[] = [];
      if (f.queueLimit >= 2) {
        waiters.push(track(f.gate.acquire(1, { maxWaitMs: 60_000 })));
        waiters.push(track(f.gate.acquire(1, { signal: new AbortController().signal })));
      }
      await f.clock.advance(0);
      f.gate.close();
      f.gate.close(); // idempotent
      await f.clock.advance(0);
      for (const w of waiters) {
        expect(w.state).toBe('rejected');
        expect(w.error).toBeInstanceOf(ClosedError);
      }
      expect(f.clock.pendingTimers).toBe(0);
      const after = f.gate.tryAcquire(1);
      expect(after.granted === false && after.reason === 'closed').toBe(true);
      await expect(f.gate.acquire(1)).rejects.toBeInstanceOf(ClosedError);
      for (const permit of permits) permit.release({ ok: true }); // releasing after close is harmless
      expect(f.gate.stats().waiting).toBe(0);
    });

    it('release with something that is not an outcome throws, gives nothing back, and leaves the permit releasable', async () => {
      const f = make();
      const permits = exhaust(f);
      const permit = permits.pop() as Permit;
      const before = f.gate.stats().available;
      for (const { label, value, names } of INVALID_OUTCOMES) {
        let thrown: unknown;
        try {
          permit.release(value as Outcome);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, label).toBeInstanceOf(InvalidArgumentError);
        expect((thrown as Error).message, label).toContain(names);
      }
      await f.clock.advance(0);
      expect(f.gate.stats().available).toBe(before);
      permit.release({ ok: true });
      // a bad argument throws even after the release; a good one stays a no-op
      expect(() => permit.release('yes' as unknown as Outcome)).toThrow(InvalidArgumentError);
      permit.release({ ok: true });
      await expectFullBudget(f, permits);
    });

    it('double release is harmless: it never gives back twice', async () => {
      const f = make();
      const permits = exhaust(f);
      const permit = permits.pop() as Permit;
      permit.release({ ok: true });
      await f.clock.advance(0);
      const once = f.gate.stats().available;
      permit.release({ ok: true });
      permit.release({ ok: false });
      await f.clock.advance(0);
      expect(f.gate.stats().available).toBe(once);
      await expectFullBudget(f, permits);
    });

    it('run() releases with the outcome whether fn returns or throws', async () => {
      const f = make();
      await expect(f.gate.run(() => 42)).resolves.toBe(42);
      const failure = new Error('work failed');
      await expect(
        f.gate.run(() => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      await expect(f.gate.run(async ({ permit }) => permit.granted)).resolves.toBe(true);
      await expectFullBudget(f, []);
    });

    it('stats() add up and every waiter settles exactly once, under random workloads', async () => {
      const maxCount = Math.max(1, Math.min(3, make().gate.capacity, make().initial));
      await fc.assert(
        fc.asyncProperty(gateOperations({ maxCount, priorities: [0, 1, 5], maxAdvanceMs: 500 }), async (operations) => {
          const f = make();
          const report = await driveGate(f.gate, f.clock, operations);
          expect(report.violations).toEqual([]);
          f.gate.close();
          const pending = await settleAll(f.clock, report);
          expect(pending).toEqual([]);
          expect(report.waiters.every((w) => w.settlements === 1)).toBe(true);
          expect(f.clock.pendingTimers).toBe(0);
        }),
        { numRuns: options.propertyRuns ?? 40 },
      );
    });
  });
}
