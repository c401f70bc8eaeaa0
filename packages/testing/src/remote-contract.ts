import {
  ClosedError,
  KEEP_ALIVE,
  checkOptions,
  optionKeys,
  systemClock,
  InvalidArgumentError,
  QueueFullError,
  TooLargeError,
  WaitTimeoutError,
  type Gate,
  type Outcome,
  type Permit,
  type Refusal,
  type RefusalReason,
  type TryAcquireOptions,
} from '@sluice/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INVALID_OUTCOMES } from './invalid-outcomes.js';
import { track, type TrackedPromise } from './track.js';

/**
 * A gate whose budget lives in a shared store (Redis): its synchronous `tryAcquire` can only
 * spend what this process already holds, so it also offers the authoritative now-or-never
 * `tryAcquireNow` (one round trip).
 */
export interface RemoteGate extends Gate {
  /** Grants now or refuses now, after asking the store; never waits in the queue. */
  tryAcquireNow(count?: number, options?: TryAcquireOptions): Promise<Permit | Refusal>;
}

/** A fresh remote gate for one contract test. */
export interface RemoteGateContractSubject {
  /** The gate under test, on the real clock (the store's time is real). */
  readonly gate: RemoteGate;
  /** Units a fresh gate grants at once before refusing. At least 1. */
  readonly initial: number;
  /** Units that may wait before `acquire` is refused with queue-full (0: it never waits). */
  readonly queueLimit: number;
  /** Real ms after which a drained gate grants `initial` again (its refill time). Keep it short. */
  readonly refillMs: number;
  /** The reason the gate gives when its budget is used up; default `exhausted`. */
  readonly refusalReason?: RefusalReason;
  /** Timers the gate has pending (for the "no timer after close" check), when the test can count them. */
  readonly pendingTimers?: () => number;
}

/** Options of {@link describeRemoteGateContract}. */
export interface RemoteGateContractOptions {
  /** Builds a fresh subject (its own keys) for each test. */
  readonly create: () => RemoteGateContractSubject;
  /** Constructions that must throw an `InvalidArgumentError` naming the option, by label. */
  readonly invalid?: Readonly<Record<string, () => unknown>>;
  /** Runs of the random-workload property; default 10 (each runs in real time). */
  readonly propertyRuns?: number;
}

// The budget of a remote gate lives on its store's (real) clock, so this suite waits in real
// time, through the system clock.
const sleep = (ms: number) => new Promise<void>((resolve) => systemClock.setTimer(resolve, ms, KEEP_ALIVE));

/** Waits (real time) until `done()` or `ms` passed; returns `done()`. */
async function until(done: () => boolean, ms: number): Promise<boolean> {
  const end = systemClock.now() + ms;
  while (!done() && systemClock.now() < end) await sleep(2);
  return done();
}

async function exhaust(s: RemoteGateContractSubject): Promise<Permit[]> {
  const permits: Permit[] = [];
  for (let i = 0; i < s.initial; i++) {
    const result = await s.gate.tryAcquireNow(1);
    if (!result.granted) throw new Error(`contract: unit ${i + 1} of initial ${s.initial} was refused (${result.reason})`);
    permits.push(result);
  }
  return permits;
}

/** Releases `permits`, waits the refill time, and checks `initial` units are granted again. */
async function expectFullBudget(s: RemoteGateContractSubject, permits: Permit[]): Promise<void> {
  for (const permit of permits.splice(0)) permit.release({ ok: true });
  await sleep(s.refillMs + 5);
  const again = await exhaust(s);
  expect(again).toHaveLength(s.initial);
}

const REMOTE_GATE_CONTRACT_KEYS = optionKeys<RemoteGateContractOptions>()({ create: true, invalid: true, propertyRuns: true });

/**
 * The gate contract of `describeGateContract`, for gates whose budget lives in a shared store:
 * the same behaviours, checked in real time through the authoritative `tryAcquireNow` where the
 * in-memory suite uses the synchronous `tryAcquire` — grants up to the budget then refuses with
 * its reason and name; invalid options and counts are refused at the boundary; waiters are
 * served by priority then FIFO and a small request never overtakes a large one; queue-full;
 * abort before and while queued; `maxWaitMs` (refused at once when the store predicts a longer
 * wait); `close()` rejects every waiter and leaves no timer; double release is harmless; `run`
 * releases with the outcome; and, under random workloads, `stats()` add up and every waiter
 * settles exactly once.
 */
export function describeRemoteGateContract(name: string, options: RemoteGateContractOptions): void {
  checkOptions('describeRemoteGateContract', options, REMOTE_GATE_CONTRACT_KEYS);
  const make = options.create;

  describe(`${name} — gate contract (remote budget, real time)`, () => {
    it('grants up to its budget, then refuses with its reason and its own name', async () => {
      const s = make();
      const permits = await exhaust(s);
      const refusal = await s.gate.tryAcquireNow(1);
      expect(refusal.granted).toBe(false);
      if (!refusal.granted) {
        expect(refusal.reason).toBe(s.refusalReason ?? 'exhausted');
        expect(refusal.gate.length).toBeGreaterThan(0);
        if (refusal.retryAfterMs !== undefined) expect(refusal.retryAfterMs).toBeGreaterThanOrEqual(0);
      }
      await expectFullBudget(s, permits);
      s.gate.close();
    });

    for (const [label, construct] of Object.entries(options.invalid ?? {})) {
      it(`invalid options throw at construction: ${label}`, () => {
        let thrown: unknown;
        try {
          construct();
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(InvalidArgumentError);
        expect((thrown as InvalidArgumentError).message).toContain((thrown as InvalidArgumentError).argument);
      });
    }

    it('a count above capacity, or not a count, is refused at once and counts nothing', async () => {
      const s = make();
      const over = s.gate.capacity + 1;
      expect(() => s.gate.tryAcquire(over)).toThrow(TooLargeError);
      await expect(s.gate.tryAcquireNow(over)).rejects.toBeInstanceOf(TooLargeError);
      const pending = track(s.gate.acquire(over));
      await Promise.resolve();
      await Promise.resolve();
      expect(pending.state).toBe('rejected');
      expect(pending.error).toBeInstanceOf(TooLargeError);
      for (const bad of [-1, 0.5, Number.NaN, '1' as unknown as number]) {
        expect(() => s.gate.tryAcquire(bad)).toThrow(InvalidArgumentError);
        await expect(s.gate.acquire(bad)).rejects.toBeInstanceOf(InvalidArgumentError);
      }
      const stats = s.gate.stats();
      expect(stats.admitted + stats.refused + stats.cancelled).toBe(0);
      s.gate.close();
    });

    it('serves waiters by priority, then FIFO', async () => {
      const s = make();
      if (s.queueLimit < 3) return s.gate.close();
      const permits = await exhaust(s);
      const order: string[] = [];
      const watch = (label: string, p: Promise<Permit>) =>
        p.then(
          () => order.push(label),
          () => order.push(`${label}!`),
        );
      const first = watch('first', s.gate.acquire(1));
      const second = watch('second', s.gate.acquire(1));
      const urgent = watch('urgent', s.gate.acquire(1, { priority: 10 }));
      await Promise.all([first, second, urgent]);
      expect(order).toEqual(['urgent', 'first', 'second']);
      void permits;
      s.gate.close();
    });

    it('a small request never overtakes a large one queued ahead', async () => {
      const s = make();
      if (s.queueLimit < 3 || s.initial < 2 || s.gate.capacity < 2) return s.gate.close();
      await exhaust(s);
      const order: string[] = [];
      const large = s.gate.acquire(2).then(() => order.push('large'));
      const small = s.gate.acquire(1).then(() => order.push('small'));
      await Promise.all([large, small]);
      expect(order).toEqual(['large', 'small']);
      s.gate.close();
    });

    it('refuses with queue-full once queueLimit units wait', async () => {
      const s = make();
      await exhaust(s);
      const waiters: TrackedPromise<Permit>[] = [];
      let queued = 0;
      while (queued < s.queueLimit) {
        const count = Math.min(s.queueLimit - queued, s.gate.capacity, s.initial);
        waiters.push(track(s.gate.acquire(count)));
        queued += count;
      }
      expect(s.gate.stats().queued).toBe(s.queueLimit);
      const overflow = await s.gate.acquire(1).catch((error: unknown) => error);
      if (s.queueLimit > 0) expect(overflow).toBeInstanceOf(QueueFullError);
      else expect(overflow).toBeInstanceOf(Error);
      s.gate.close();
      await until(() => waiters.every((w) => w.state !== 'pending'), 100);
      expect(waiters.every((w) => w.state === 'rejected' && w.error instanceof ClosedError)).toBe(true);
    });

    it('abort before queuing rejects at once with the signal’s reason; abort while queued removes the waiter', async () => {
      const s = make();
      await exhaust(s);
      const reason = new Error('caller gave up');
      await expect(s.gate.acquire(1, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
      expect(s.gate.stats().cancelled).toBe(1);
      if (s.queueLimit >= 2) {
        const controller = new AbortController();
        const aborted = track(s.gate.acquire(1, { signal: controller.signal }));
        const next = track(s.gate.acquire(1));
        expect(s.gate.stats().waiting).toBe(2);
        controller.abort(reason);
        await until(() => aborted.state !== 'pending', 100);
        expect(aborted.error).toBe(reason);
        expect(s.gate.stats().waiting).toBe(1);
        expect(await until(() => next.state === 'fulfilled', s.refillMs * 3 + 200)).toBe(true);
      }
      s.gate.close();
    });

    it('maxWaitMs: 0 never waits; a wait the store predicts longer than maxWaitMs is refused at once', async () => {
      const s = make();
      if (s.queueLimit < 1) return s.gate.close();
      await exhaust(s);
      await expect(s.gate.acquire(1, { maxWaitMs: 0 })).rejects.toBeInstanceOf(WaitTimeoutError);
      const probe = await s.gate.tryAcquireNow(1);
      const hint = probe.granted ? undefined : probe.retryAfterMs;
      const maxWaitMs = hint === undefined ? 30 : Math.max(1, Math.floor(hint / 4));
      const started = systemClock.now();
      const error = await s.gate.acquire(1, { maxWaitMs }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WaitTimeoutError);
      if (hint !== undefined) expect(systemClock.now() - started).toBeLessThan(hint);
      expect(s.gate.stats().waiting).toBe(0);
      s.gate.close();
    });

    it('close() rejects every waiter with ClosedError, refuses from then on, and leaves no timer', async () => {
      const s = make();
      await exhaust(s);
      const waiters = s.queueLimit >= 2 ? [track(s.gate.acquire(1, { maxWaitMs: 60_000 })), track(s.gate.acquire(1))] : [];
      await sleep(5);
      s.gate.close();
      s.gate.close();
      await until(() => waiters.every((w) => w.state !== 'pending'), 100);
      for (const w of waiters) expect(w.error).toBeInstanceOf(ClosedError);
      await sleep(5);
      if (s.pendingTimers !== undefined) expect(s.pendingTimers()).toBe(0);
      const after = s.gate.tryAcquire(1);
      expect(after.granted === false && after.reason === 'closed').toBe(true);
      const now = await s.gate.tryAcquireNow(1);
      expect(now.granted === false && now.reason === 'closed').toBe(true);
      await expect(s.gate.acquire(1)).rejects.toBeInstanceOf(ClosedError);
    });

    it('release with something that is not an outcome throws and leaves the permit releasable', async () => {
      const s = make();
      const permit = await s.gate.acquire(1);
      for (const { label, value, names } of INVALID_OUTCOMES) {
        expect(() => permit.release(value as Outcome), label).toThrow(InvalidArgumentError);
        expect(() => permit.release(value as Outcome), label).toThrow(names);
      }
      permit.release({ ok: true });
      permit.release({ ok: true });
      s.gate.close();
    });

    it('double release is harmless; run() releases whether fn returns or throws', async () => {
      const s = make();
      const permit = await s.gate.acquire(1);
      permit.release({ ok: true });
      permit.release({ ok: true });
      await expect(s.gate.run(() => 42)).resolves.toBe(42);
      const failure = new Error('work failed');
      await expect(
        s.gate.run(() => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(s.gate.stats().admitted).toBe(3);
      s.gate.close();
    });

    it('stats() add up and every waiter settles exactly once, under random workloads', async () => {
      const operation = fc.oneof(
        fc.record({ kind: fc.constant('now' as const), count: fc.integer({ min: 1, max: 2 }) }),
        fc.record({
          kind: fc.constant('acquire' as const),
          count: fc.integer({ min: 1, max: 2 }),
          priority: fc.constantFrom(0, 1, 5),
          maxWaitMs: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
          abortAfterMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
        }),
        fc.record({ kind: fc.constant('pause' as const), ms: fc.integer({ min: 0, max: 25 }) }),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { maxLength: 12 }), async (operations) => {
          const s = make();
          const settled: number[] = [];
          const waits: Promise<unknown>[] = [];
          let requests = 0;
          for (const op of operations) {
            if (op.kind === 'pause') {
              await sleep(op.ms);
              continue;
            }
            requests++;
            if (op.kind === 'now') {
              await s.gate.tryAcquireNow(Math.min(op.count, s.gate.capacity));
              continue;
            }
            const index = settled.length;
            settled.push(0);
            const controller = new AbortController();
            if (op.abortAfterMs !== undefined) systemClock.setTimer(() => controller.abort(new Error('gave up')), op.abortAfterMs);
            waits.push(
              s.gate
                .acquire(Math.min(op.count, s.gate.capacity), {
                  priority: op.priority,
                  signal: controller.signal,
                  ...(op.maxWaitMs === undefined ? {} : { maxWaitMs: op.maxWaitMs }),
                })
                .then(
                  () => (settled[index] = (settled[index] ?? 0) + 1),
                  () => (settled[index] = (settled[index] ?? 0) + 1),
                ),
            );
          }
          await sleep(30);
          const stats = s.gate.stats();
          expect(stats.admitted + stats.refused + stats.cancelled + stats.waiting).toBe(requests);
          s.gate.close();
          await Promise.all(waits);
          expect(settled.every((n) => n === 1)).toBe(true);
          const after = s.gate.stats();
          expect(after.waiting).toBe(0);
          expect(after.admitted + after.refused + after.cancelled).toBe(requests);
        }),
        { numRuns: options.propertyRuns ?? 10 },
      );
    }, 60_000);
  });
}
