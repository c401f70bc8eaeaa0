import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClosedError, QueueFullError, WaitTimeoutError, type FairnessKey } from '@sluice/core';
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { VirtualClock } from '@sluice/testing';

const KEYS: readonly (FairnessKey | undefined)[] = ['a', 'b', 0, 1, undefined];
const SIGNALS = 3;

type Step =
  | {
      kind: 'submit';
      key: FairnessKey | undefined;
      priority: number;
      count: number;
      maxWaitMs: number | undefined;
      signal: number | undefined;
      runMs: number;
    }
  | { kind: 'abort'; signal: number }
  | { kind: 'advance'; ms: number };

const steps: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('submit' as const),
        key: fc.constantFrom(...KEYS),
        priority: fc.constantFrom(0, 0, 3),
        count: fc.constantFrom(1, 1, 1, 2),
        maxWaitMs: fc.option(fc.integer({ min: 0, max: 120 }), { nil: undefined, freq: 3 }),
        signal: fc.option(fc.nat({ max: SIGNALS - 1 }), { nil: undefined, freq: 3 }),
        runMs: fc.integer({ min: 1, max: 40 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), signal: fc.nat({ max: SIGNALS - 1 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 60 }) }) },
  ),
  { minLength: 20, maxLength: 150, size: 'max' },
);

/** One `run` of the workload, as the test saw it. */
interface Task {
  readonly id: number;
  readonly key: FairnessKey | undefined;
  readonly priority: number;
  readonly count: number;
  readonly deadline: number;
  readonly signal: number | undefined;
  /** `queued` from enqueue until it is admitted or leaves. */
  state: 'new' | 'queued' | 'running' | 'done' | 'left';
  outcome: 'pending' | 'resolved' | 'rejected';
  settlements: number;
  error: unknown;
}

/** What happened, in the order the limiter did it. */
type Event = { kind: 'enqueue' | 'admit' | 'leave'; task: Task };

/** Whether some other key was waiting throughout two admissions of one key at one priority and was never admitted between. */
function roundRobinViolations(events: readonly Event[]): string[] {
  const violations: string[] = [];
  const admissions = new Map<string, number[]>(); // "priority/key" → indexes of its admissions
  events.forEach((event, index) => {
    if (event.kind !== 'admit') return;
    const id = `${event.task.priority}/${typeof event.task.key}/${String(event.task.key)}`;
    admissions.set(id, [...(admissions.get(id) ?? []), index]);
  });
  const waitingAt = (priority: number, key: FairnessKey | undefined, upTo: number): number => {
    let live = 0;
    for (let i = 0; i <= upTo; i++) {
      const { kind, task } = events[i] as Event;
      if (task.priority !== priority || task.key !== key) continue;
      if (kind === 'enqueue') live++;
      else live--;
    }
    return live;
  };
  for (const indexes of admissions.values()) {
    const first = (events[indexes[0] as number] as Event).task;
    const priority = first.priority;
    for (let n = 1; n < indexes.length; n++) {
      const from = indexes[n - 1] as number;
      const to = indexes[n] as number;
      for (const other of KEYS) {
        if (other === first.key) continue;
        // was `other` waiting at this priority from `from` to `to` without a break, and never admitted?
        let live = waitingAt(priority, other, from);
        let throughout = live > 0;
        let admitted = false;
        for (let i = from + 1; i < to && throughout; i++) {
          const { kind, task } = events[i] as Event;
          if (task.priority !== priority || task.key !== other) continue;
          if (kind === 'admit') admitted = true;
          live += kind === 'enqueue' ? 1 : -1;
          if (live === 0) throughout = false;
        }
        if (throughout && !admitted) {
          violations.push(
            `key ${String(first.key)} admitted twice at priority ${priority} (events ${from}, ${to}) while ${String(other)} waited`,
          );
        }
      }
    }
  }
  return violations;
}

/** Within a key and priority, admissions follow arrival. */
function fifoViolations(events: readonly Event[]): string[] {
  const last = new Map<string, number>();
  const violations: string[] = [];
  for (const { kind, task } of events) {
    if (kind !== 'admit') continue;
    const id = `${task.priority}/${typeof task.key}/${String(task.key)}`;
    if ((last.get(id) ?? -1) > task.id) violations.push(`task ${task.id} of ${id} admitted after a later one`);
    last.set(id, task.id);
  }
  return violations;
}

describe('ConcurrencyLimiter with fairness (fast-check, virtual time)', () => {
  it('never exceeds the limit, settles every waiter, serves keys round-robin within a priority and FIFO within a key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 3 }),
        fc.integer({ min: 4, max: 12 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(150, Infinity),
        fc.boolean(),
        steps,
        async (limit, queueLimit, perKey, maxStarvationMs, withFairBy, script) => {
          const clock = new VirtualClock({ stallReportMs: false });
          const perKeyQueueLimit = Math.min(perKey, queueLimit);
          const limiter = new ConcurrencyLimiter({
            maxConcurrent: limit,
            queueLimit,
            maxStarvationMs,
            clock,
            fairness: {
              perKeyQueueLimit,
              // the same partition of requests as `key`, under other names
              ...(withFairBy ? { fairBy: (options) => (options?.key === undefined ? undefined : `tenant ${String(options.key)}`) } : {}),
            },
          });
          const controllers = Array.from({ length: SIGNALS }, () => new AbortController());
          const tasks: Task[] = [];
          const events: Event[] = [];
          const promises: Promise<unknown>[] = [];
          const problems: string[] = [];
          let inFlight = 0;
          const queuedUnits = (of: (task: Task) => boolean) =>
            tasks.filter((t) => t.state === 'queued' && of(t)).reduce((units, t) => units + t.count, 0);
          const leave = (task: Task) => {
            task.state = 'left';
            events.push({ kind: 'leave', task });
          };
          // A deadline passing is seen here, before the limiter serves anyone behind the waiter.
          limiter.onRefuse((refusal) => {
            if (refusal.reason !== 'timeout') return;
            for (const task of tasks) if (task.state === 'queued' && task.deadline <= clock.now()) leave(task);
          });

          for (const step of script) {
            if (step.kind === 'submit') {
              const task: Task = {
                id: tasks.length,
                key: step.key,
                priority: step.priority,
                count: step.count,
                deadline: clock.now() + (step.maxWaitMs ?? Infinity),
                signal: step.signal,
                state: 'new',
                outcome: 'pending',
                settlements: 0,
                error: undefined,
              };
              tasks.push(task);
              const keyUnits = queuedUnits((t) => t.key === task.key);
              const waitingBefore = limiter.stats().waiting;
              // logged before the call: if it is queued and admitted at once, the order stays right
              events.push({ kind: 'enqueue', task });
              task.state = 'queued';
              const promise = limiter.run(
                async () => {
                  if (task.state !== 'queued') problems.push(`task ${task.id} started while ${task.state}`);
                  task.state = 'running';
                  events.push({ kind: 'admit', task });
                  inFlight += task.count;
                  if (inFlight > limit) problems.push(`in flight ${inFlight} > limit ${limit}`);
                  await new Promise<void>((resolve) => clock.setTimer(resolve, step.runMs));
                  inFlight -= task.count;
                  task.state = 'done';
                },
                {
                  key: step.key,
                  priority: step.priority,
                  count: step.count,
                  ...(step.maxWaitMs === undefined ? {} : { maxWaitMs: step.maxWaitMs }),
                  ...(step.signal === undefined ? {} : { signal: controllers[step.signal]?.signal }),
                },
              );
              promises.push(
                promise.then(
                  () => {
                    task.settlements++;
                    task.outcome = 'resolved';
                  },
                  (error: unknown) => {
                    task.settlements++;
                    task.outcome = 'rejected';
                    task.error = error;
                  },
                ),
              );
              if (task.state === 'queued' && limiter.stats().waiting === waitingBefore) {
                leave(task); // refused on arrival: it never waited
                promise.catch((error: unknown) => {
                  if (error instanceof QueueFullError && error.perKey && keyUnits + task.count <= perKeyQueueLimit) {
                    problems.push(`task ${task.id} refused for its key with ${keyUnits} units of its key queued`);
                  }
                });
              } else if (task.state === 'queued' && keyUnits + task.count > perKeyQueueLimit) {
                problems.push(`task ${task.id} queued past its key's limit (${keyUnits} + ${task.count} > ${perKeyQueueLimit})`);
              }
            } else if (step.kind === 'abort') {
              for (const task of tasks) if (task.state === 'queued' && task.signal === step.signal) leave(task);
              controllers[step.signal]?.abort(new Error('aborted'));
              controllers[step.signal] = new AbortController();
            } else {
              await clock.advance(step.ms);
            }
            await clock.advance(0);
            expect(limiter.inFlight).toBeLessThanOrEqual(limit);
            expect(limiter.stats().waiting).toBe(tasks.filter((t) => t.state === 'queued').length);
            expect(limiter.stats().queued).toBe(queuedUnits(() => true));
          }

          for (const task of tasks) if (task.state === 'queued') leave(task);
          limiter.close();
          await clock.settle(Promise.all(promises));
          expect(problems).toEqual([]);
          expect(tasks.filter((t) => t.settlements !== 1)).toEqual([]);
          for (const task of tasks) {
            if (task.outcome === 'resolved') expect(task.state).toBe('done');
            else
              expect(
                task.error instanceof ClosedError ||
                  task.error instanceof WaitTimeoutError ||
                  task.error instanceof QueueFullError ||
                  (task.error as Error).message === 'aborted',
              ).toBe(true);
          }
          expect(fifoViolations(events)).toEqual([]);
          expect(roundRobinViolations(events)).toEqual([]);
        },
      ),
      { numRuns: 300 },
    );
    // 300 runs in virtual time take 1.5–2.5 s of real time alone, more on a loaded machine
  }, 30_000);
});
