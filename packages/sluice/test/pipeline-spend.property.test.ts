import { ControlledGate, VirtualClock } from '@sluice/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ConcurrencyLimiter,
  type Gate,
  Gcra,
  KeyedLimiter,
  NOT_RUN,
  type Permit,
  SlidingWindow,
  TokenBucket,
  allOf,
  pipeline,
} from '../src/index.js';

// The promise of the Permit contract, checked over random pipelines of random gates in virtual
// time: whatever refuses, times out, aborts or throws, each budgeting stage has spent exactly the
// units of the permits whose work ran (reconciled to the cost released with them), and every
// other stage is whole again once everything has settled.
//
// The budgets refill so slowly (one unit per ~30 years) that the time a run covers adds nothing
// measurable: what a stage has spent is its capacity minus what it has available.

const SLOW = 1e-9; // units per second

type StageKind = 'bucket' | 'gcra' | 'window' | 'allOf' | 'keyed' | 'pool' | 'refuser';

interface Built {
  readonly gate: Gate;
  /** Budgets whose spending is checked, each with its capacity. */
  readonly budgets: readonly { readonly gate: Gate; readonly capacity: number }[];
  /** Stages that must be whole again at the end (capacity available, nobody waiting). */
  readonly whole: readonly Gate[];
  readonly refuser?: ControlledGate;
}

function build(kind: StageKind, size: number, queueLimit: number, clock: VirtualClock): Built {
  switch (kind) {
    case 'bucket': {
      const gate = new TokenBucket({ ratePerSecond: SLOW, burst: size, queueLimit, clock });
      return { gate, budgets: [{ gate, capacity: size }], whole: [] };
    }
    case 'gcra': {
      const gate = new Gcra({ ratePerSecond: SLOW, burst: size, queueLimit, clock });
      return { gate, budgets: [{ gate, capacity: size }], whole: [] };
    }
    case 'window': {
      const gate = new SlidingWindow({ limit: size, windowMs: 1e15, queueLimit, clock });
      return { gate, budgets: [{ gate, capacity: size }], whole: [] };
    }
    case 'allOf': {
      const a = new TokenBucket({ ratePerSecond: SLOW, burst: size, clock });
      const b = new Gcra({ ratePerSecond: SLOW, burst: size + 1, clock });
      return {
        gate: allOf(a, b),
        budgets: [
          { gate: a, capacity: size },
          { gate: b, capacity: size + 1 },
        ],
        whole: [],
      };
    }
    case 'keyed': {
      let inner: TokenBucket | undefined;
      const keyed = new KeyedLimiter({
        create: () => {
          inner = new TokenBucket({ ratePerSecond: SLOW, burst: size, queueLimit, clock });
          return inner;
        },
        clock,
      });
      const gate = keyed.gate('client');
      gate.tryAcquire(0); // creates the key's bucket
      if (inner === undefined) throw new Error('the key was not created');
      return { gate, budgets: [{ gate: inner, capacity: size }], whole: [] };
    }
    case 'pool': {
      const gate = new ConcurrencyLimiter({ maxConcurrent: Math.min(size, 4), queueLimit, clock });
      return { gate, budgets: [], whole: [gate] };
    }
    case 'refuser': {
      const gate = new ControlledGate({ capacity: 50, queueLimit, clock, name: 'refuser' });
      return { gate, budgets: [], whole: [gate], refuser: gate };
    }
  }
}

/** How a granted request ends. */
const endArb = fc.oneof(
  fc.constant({ end: 'ran' as const }),
  fc.constant({ end: 'notRun' as const }),
  fc.nat({ max: 3 }).map((k) => ({ end: 'ranCost' as const, k })),
);
type End = typeof endArb extends fc.Arbitrary<infer E> ? E : never;

const opArb = fc.oneof(
  fc.record({
    op: fc.constant('try' as const),
    count: fc.integer({ min: 1, max: 3 }),
    then: fc.oneof(endArb, fc.constant({ end: 'hold' as const })),
  }),
  fc.record({
    op: fc.constant('acquire' as const),
    count: fc.integer({ min: 1, max: 3 }),
    maxWaitMs: fc.integer({ min: 0, max: 40 }),
    abortAfterMs: fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
    then: endArb,
    holdMs: fc.integer({ min: 0, max: 30 }),
  }),
  fc.record({
    op: fc.constant('run' as const),
    count: fc.integer({ min: 1, max: 3 }),
    maxWaitMs: fc.integer({ min: 0, max: 40 }),
    how: fc.constantFrom('ok' as const, 'throw' as const, 'syncThrow' as const, 'cost0' as const, 'cost1' as const),
    workMs: fc.integer({ min: 0, max: 30 }),
  }),
  fc.record({ op: fc.constant('releaseHeld' as const), index: fc.nat(), then: endArb }),
  fc.record({ op: fc.constant('toggle' as const) }),
  fc.record({ op: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 25 }) }),
);

const stageArb = fc.record({
  kind: fc.constantFrom<StageKind>('bucket', 'gcra', 'window', 'allOf', 'keyed', 'pool', 'refuser'),
  size: fc.integer({ min: 3, max: 8 }),
  queueLimit: fc.integer({ min: 0, max: 6 }),
});

describe('a pipeline of any gates spends only what ran', () => {
  it('each budget spends the units of the work that ran (reconciled), whatever refuses, times out, aborts or throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stageArb, { minLength: 1, maxLength: 4 }), fc.array(opArb, { maxLength: 40 }), async (stageSpecs, ops) => {
        const clock = new VirtualClock({ stallReportMs: false });
        const built = stageSpecs.map((s) => build(s.kind, s.size, s.queueLimit, clock));
        const door = pipeline({ clock }, ...built.map((b) => b.gate));
        let spent = 0; // units of work that ran, summed over requests (every stage takes the same count)
        const held: { permit: Permit; count: number }[] = [];
        const pending: Promise<unknown>[] = [];
        let refusing = false;

        const finish = (permit: Permit, count: number, then: End): void => {
          if (then.end === 'ran') {
            permit.release({ ok: true });
            spent += count;
          } else if (then.end === 'ranCost') {
            const k = Math.min(then.k, count);
            permit.release({ ok: true, cost: k });
            spent += k;
          } else {
            permit.release(NOT_RUN);
          }
          permit.release({ ok: true }); // a second release changes nothing
        };

        for (const op of ops) {
          switch (op.op) {
            case 'try': {
              const result = door.tryAcquire(op.count);
              if (!result.granted) break;
              if (op.then.end === 'hold') held.push({ permit: result, count: op.count });
              else finish(result, op.count, op.then);
              break;
            }
            case 'acquire': {
              const controller = new AbortController();
              if (op.abortAfterMs !== undefined) clock.setTimer(() => controller.abort(new Error('gave up')), op.abortAfterMs);
              pending.push(
                door.acquire(op.count, { maxWaitMs: op.maxWaitMs, signal: controller.signal }).then(
                  (permit) =>
                    new Promise<void>((resolve) => {
                      clock.setTimer(() => {
                        finish(permit, op.count, op.then);
                        resolve();
                      }, op.holdMs);
                    }),
                  () => undefined,
                ),
              );
              break;
            }
            case 'run': {
              pending.push(
                door
                  .run(
                    ({ permit }) => {
                      if (op.how === 'syncThrow') {
                        spent += op.count;
                        throw new Error('failed at once');
                      }
                      return new Promise<void>((resolve, reject) => {
                        clock.setTimer(() => {
                          if (op.how === 'cost0' || op.how === 'cost1') {
                            const k = Math.min(op.how === 'cost0' ? 0 : 1, op.count);
                            permit.release({ ok: true, cost: k });
                            spent += k;
                          } else spent += op.count;
                          if (op.how === 'throw') reject(new Error('failed'));
                          else resolve();
                        }, op.workMs);
                      });
                    },
                    { count: op.count, maxWaitMs: op.maxWaitMs },
                  )
                  .catch(() => undefined),
              );
              break;
            }
            case 'releaseHeld': {
              if (held.length === 0) break;
              const [h] = held.splice(op.index % held.length, 1);
              if (h !== undefined) finish(h.permit, h.count, op.then);
              break;
            }
            case 'toggle': {
              refusing = !refusing;
              for (const b of built) {
                if (refusing) b.refuser?.refuseWith('circuit-open', 1_000);
                else b.refuser?.allow();
              }
              break;
            }
            case 'advance':
              await clock.advance(op.ms);
              break;
          }
        }
        for (const h of held.splice(0)) finish(h.permit, h.count, { end: 'ran' });
        for (const b of built) b.refuser?.allow();
        // every wait is bounded (maxWaitMs ≤ 40, work ≤ 30 ms): all of it settles
        await clock.advance(1_000);
        let settled = 0;
        await Promise.all(pending.map((p) => p.then(() => settled++)));
        expect(settled).toBe(pending.length);

        for (const b of built) {
          for (const { gate, capacity } of b.budgets) {
            expect(capacity - gate.stats().available).toBeCloseTo(spent, 6);
            expect(gate.stats().waiting).toBe(0);
          }
          for (const gate of b.whole) {
            expect(gate.stats()).toMatchObject({ available: gate.stats().capacity, waiting: 0 });
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
