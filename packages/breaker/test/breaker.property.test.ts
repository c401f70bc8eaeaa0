import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, consecutiveFailures, countWindow, timeWindow, type BreakerState, type TripStrategy } from '@sluice/breaker';
import { NOT_RUN, type Outcome, type Permit } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';

// ---- reference models: the rules as plainly as they can be written ----

interface Model {
  /** Counts one outcome at `t`; true when the rule says the breaker must open now. */
  record(failed: boolean, t: number): boolean;
  reset(): void;
  snapshot(t: number): { calls: number; failures: number; failureRate: number | undefined };
}

function consecutiveModel(threshold: number): Model {
  let history: boolean[] = [];
  const run = () => {
    let n = 0;
    for (let i = history.length - 1; i >= 0 && history[i] === true; i--) n++;
    return n;
  };
  return {
    record(failed) {
      history.push(failed);
      return failed && run() >= threshold;
    },
    reset() {
      history = [];
    },
    snapshot() {
      return { calls: run(), failures: run(), failureRate: undefined };
    },
  };
}

function rateOf(outcomes: readonly boolean[], minimum: number) {
  const calls = outcomes.length;
  const failures = outcomes.filter(Boolean).length;
  return { calls, failures, failureRate: calls < minimum ? undefined : failures / calls };
}

function countModel(size: number, failureRate: number, minimumCalls: number): Model {
  let history: boolean[] = [];
  const window = () => history.slice(Math.max(0, history.length - size));
  const minimum = Math.min(minimumCalls, size);
  return {
    record(failed) {
      history.push(failed);
      const { failureRate: rate } = rateOf(window(), minimum);
      return rate !== undefined && rate >= failureRate;
    },
    reset() {
      history = [];
    },
    snapshot() {
      return rateOf(window(), minimum);
    },
  };
}

function timeModel(windowMs: number, bucketMs: number, failureRate: number, minimumCalls: number): Model {
  let history: { t: number; failed: boolean }[] = [];
  const buckets = windowMs / bucketMs;
  const window = (t: number) => {
    const current = Math.floor(t / bucketMs);
    return history.filter((h) => Math.floor(h.t / bucketMs) > current - buckets).map((h) => h.failed);
  };
  return {
    record(failed, t) {
      history.push({ t, failed });
      const { failureRate: rate } = rateOf(window(t), minimumCalls);
      return rate !== undefined && rate >= failureRate;
    },
    reset() {
      history = [];
    },
    snapshot(t) {
      return rateOf(window(t), minimumCalls);
    },
  };
}

/** A strategy with its reference model, drawn at random. */
const strategies: fc.Arbitrary<{ label: string; strategy: TripStrategy; model: () => Model }> = fc.oneof(
  fc.integer({ min: 1, max: 6 }).map((threshold) => ({
    label: `consecutiveFailures(${threshold})`,
    strategy: consecutiveFailures(threshold),
    model: () => consecutiveModel(threshold),
  })),
  fc
    .record({
      size: fc.integer({ min: 1, max: 12 }),
      failureRate: fc.constantFrom(0.1, 0.25, 1 / 3, 0.5, 0.6, 0.75, 1),
      minimumCalls: fc.integer({ min: 1, max: 15 }),
    })
    .map((o) => ({
      label: `countWindow(${JSON.stringify(o)})`,
      strategy: countWindow(o),
      model: () => countModel(o.size, o.failureRate, o.minimumCalls),
    })),
  fc
    .record({
      bucketMs: fc.constantFrom(1, 10, 100, 1_000),
      buckets: fc.integer({ min: 1, max: 8 }),
      failureRate: fc.constantFrom(0.2, 0.5, 2 / 3, 0.9, 1),
      minimumCalls: fc.integer({ min: 1, max: 10 }),
    })
    .map(({ bucketMs, buckets, failureRate, minimumCalls }) => {
      const windowMs = bucketMs * buckets;
      return {
        label: `timeWindow(${JSON.stringify({ windowMs, bucketMs, failureRate, minimumCalls })})`,
        strategy: timeWindow({ windowMs, bucketMs, failureRate, minimumCalls }),
        model: () => timeModel(windowMs, bucketMs, failureRate, minimumCalls),
      };
    }),
);

const outcomes = fc.array(fc.record({ failed: fc.boolean(), dtMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 3_000 })) }), {
  maxLength: 120,
  size: 'max',
});

describe('trip strategies against reference models (fast-check)', () => {
  it('each counter trips exactly when its model says so, and reports the same counts', () => {
    const trips = new Map<string, number>(); // per rule, over all runs: the outcomes must reach the thresholds
    fc.assert(
      fc.property(strategies, outcomes, ({ label, strategy, model }, steps) => {
        const counter = strategy.create();
        const reference = model();
        let t = 0;
        counter.reset(t);
        for (const { failed, dtMs } of steps) {
          t += dtMs;
          const tripped = counter.record(failed, t) !== undefined;
          expect(tripped).toBe(reference.record(failed, t));
          if (tripped) trips.set(label, (trips.get(label) ?? 0) + 1);
          expect(counter.snapshot(t)).toEqual(reference.snapshot(t));
        }
      }),
      { numRuns: 400 },
    );
    const rules = [...trips.keys()].map((label) => label.slice(0, label.indexOf('(')));
    expect(new Set(rules)).toEqual(new Set(['consecutiveFailures', 'countWindow', 'timeWindow']));
  });

  it('a breaker opens at the first outcome its model trips on, and starts counting afresh when it closes', () => {
    fc.assert(
      fc.property(strategies, outcomes, ({ strategy, model }, steps) => {
        const clock = new VirtualClock({ stallReportMs: false });
        const breaker = new CircuitBreaker({ trip: strategy, halfOpenAfterMs: 50, clock });
        const reference = model();
        for (const { failed, dtMs } of steps) {
          clock.setTime(clock.now() + dtMs);
          const permit = breaker.tryAcquire();
          expect(permit.granted).toBe(true);
          if (permit.granted) permit.release({ ok: !failed });
          const shouldOpen = reference.record(failed, clock.now());
          expect(breaker.state).toBe(shouldOpen ? 'open' : 'closed');
          if (shouldOpen) {
            clock.setTime(clock.now() + 50);
            const trial = breaker.tryAcquire();
            if (trial.granted) trial.release({ ok: true });
            expect(breaker.state).toBe('closed');
            reference.reset();
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

// ---- the state machine under random use ----

type Step =
  | { kind: 'call'; outcome: 'ok' | 'fail' | 'none' | 'slow' }
  | { kind: 'take' }
  | { kind: 'release'; pick: number; outcome: 'ok' | 'fail' | 'none' | 'not-run' | 'slow' }
  | { kind: 'run'; outcome: 'ok' | 'fail' | 'slow' }
  | { kind: 'advance'; ms: number }
  | { kind: 'isolate' }
  | { kind: 'reset' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('call' as const),
      outcome: fc.constantFrom('ok' as const, 'fail' as const, 'none' as const, 'slow' as const),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('take' as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('release' as const),
      pick: fc.nat(),
      outcome: fc.constantFrom('ok' as const, 'fail' as const, 'none' as const, 'not-run' as const, 'slow' as const),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('run' as const), outcome: fc.constantFrom('ok' as const, 'fail' as const, 'slow' as const) }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('isolate' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reset' as const) }) },
);

const LEGAL = new Set([
  'closed→open',
  'open→half-open',
  'half-open→closed',
  'half-open→open',
  'closed→isolated',
  'open→isolated',
  'half-open→isolated',
  'isolated→closed',
  'open→closed',
]);

const SLOW_MS = 20;

function outcomeOf(kind: 'ok' | 'fail' | 'none' | 'not-run' | 'slow'): Outcome | undefined {
  switch (kind) {
    case 'ok':
      return { ok: true, durationMs: 1 };
    case 'fail':
      return { ok: false, durationMs: 1 };
    case 'slow':
      return { ok: true, durationMs: SLOW_MS + 1 };
    case 'not-run':
      return NOT_RUN;
    case 'none':
      return undefined;
  }
}

describe('the state machine under random outcomes, time, isolate and reset (fast-check)', () => {
  it('every transition is legal, announced once with a consistent reason, and half-open never has more than halfOpenMaxCalls trials in flight', async () => {
    const seen = new Map<string, number>(); // edges seen over all runs: the workload must reach every one
    await fc.assert(
      fc.asyncProperty(
        strategies,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 300 }),
        fc.array(step, { minLength: 20, maxLength: 150, size: 'max' }),
        async ({ strategy }, halfOpenMaxCalls, halfOpenAfterMs, steps) => {
          const clock = new VirtualClock({ stallReportMs: false });
          const breaker = new CircuitBreaker({ trip: strategy, halfOpenAfterMs, halfOpenMaxCalls, slowCallMs: SLOW_MS, clock });
          const transitions: string[] = [];
          const problems: string[] = [];
          let current: BreakerState = 'closed';
          let period = 0; // half-open periods entered so far
          const move = (to: BreakerState, check: (from: BreakerState) => boolean, label: string) => {
            const edge = `${current}→${to}`;
            transitions.push(`${edge} (${label})`);
            if (!LEGAL.has(edge)) problems.push(`illegal ${edge} (${label})`);
            if (!check(current)) problems.push(`${label} from ${current}`);
            if (breaker.state !== to) problems.push(`event says ${to}, state is ${breaker.state}`);
            current = to;
          };
          breaker.onOpen((reason) => {
            if (reason.cause === 'isolated') move('isolated', (from) => from !== 'isolated', 'isolated');
            else if (reason.cause === 'tripped') move('open', (from) => from === 'closed', 'tripped');
            else move('open', (from) => from === 'half-open', 'trial-failed');
          });
          breaker.onHalfOpen(() => {
            period++;
            move('half-open', (from) => from === 'open', 'half-open');
          });
          breaker.onClose((reason) => {
            if (reason.cause === 'reset') move('closed', (from) => from !== 'closed' && from === reason.from, 'reset');
            else move('closed', (from) => from === 'half-open' && reason.trials === halfOpenMaxCalls, 'trials-succeeded');
          });

          const held: { permit: Permit; period: number; trial: boolean }[] = [];
          for (const s of steps) {
            switch (s.kind) {
              case 'call':
              case 'take': {
                const result = breaker.tryAcquire();
                if (result.granted) {
                  const entry = { permit: result, period, trial: breaker.state === 'half-open' };
                  if (s.kind === 'take') held.push(entry);
                  else result.release(outcomeOf(s.outcome));
                }
                break;
              }
              case 'release': {
                if (held.length === 0) break;
                const [entry] = held.splice(s.pick % held.length, 1);
                entry?.permit.release(outcomeOf(s.outcome));
                break;
              }
              case 'run':
                await breaker
                  .run(async () => {
                    if (s.outcome === 'slow') clock.setTime(clock.now() + SLOW_MS + 1);
                    if (s.outcome === 'fail') throw new Error('failed');
                    return 1;
                  })
                  .catch(() => {});
                break;
              case 'advance':
                clock.setTime(clock.now() + s.ms);
                break;
              case 'isolate':
                breaker.isolate();
                break;
              case 'reset':
                breaker.reset();
                break;
            }
            // Nothing moves silently: the state is the last one announced.
            if (breaker.state !== current) problems.push(`state ${breaker.state} but last event said ${current}`);
            // Trials in flight: held permits granted in this half-open period, never above the limit.
            const stats = breaker.stats();
            if (breaker.state === 'half-open') {
              const inFlight = held.filter((h) => h.trial && h.period === period).length;
              if (stats.trialsInFlight !== inFlight) problems.push(`trialsInFlight ${stats.trialsInFlight} ≠ ${inFlight} held`);
              if (inFlight > halfOpenMaxCalls) problems.push(`${inFlight} trials in flight > ${halfOpenMaxCalls}`);
              if (stats.available > halfOpenMaxCalls - inFlight) problems.push(`available ${stats.available} > free slots`);
            } else if (stats.trialsInFlight !== 0) {
              problems.push(`trialsInFlight ${stats.trialsInFlight} outside half-open`);
            }
            if (problems.length > 0) break;
          }
          expect(problems, transitions.join(', ')).toEqual([]);
          expect(clock.pendingTimers).toBe(0);
          for (const t of transitions) {
            const edge = t.slice(0, t.indexOf(' '));
            seen.set(edge, (seen.get(edge) ?? 0) + 1);
          }
        },
      ),
      { numRuns: 300 },
    );
    expect([...seen.keys()].sort()).toEqual([...LEGAL].sort());
  });
});
