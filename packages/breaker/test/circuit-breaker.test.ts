import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  CircuitBreaker,
  consecutiveFailures,
  countWindow,
  timeWindow,
  type CircuitBreakerOptions,
  type CloseReason,
  type OpenReason,
  type TripStrategy,
} from '@sluice/breaker';
import {
  CircuitOpenError,
  ClosedError,
  InvalidArgumentError,
  NOT_RUN,
  isCircuitOpenError,
  pipeline,
  type Clock,
  type Outcome,
  type Permit,
  type Refusal,
} from '@sluice/core';
import { VirtualClock } from '@sluice/testing';
import { describe, expect, it, vi } from 'vitest';

type Options = Omit<CircuitBreakerOptions, 'clock'>;

function setup(options: Partial<Options> = {}) {
  const clock = new VirtualClock({ stallReportMs: false });
  const breaker = new CircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfterMs: 1_000, ...options, clock });
  const events: string[] = [];
  const opened: OpenReason[] = [];
  const closed: CloseReason[] = [];
  breaker.onOpen((reason) => {
    opened.push(reason);
    events.push(`open:${reason.cause}`);
  });
  breaker.onHalfOpen(() => events.push('half-open'));
  breaker.onClose((reason) => {
    closed.push(reason);
    events.push(`close:${reason.cause}`);
  });
  return { clock, breaker, events, opened, closed };
}

const fail = (breaker: CircuitBreaker, outcome: Outcome = { ok: false }): void => {
  const permit = breaker.tryAcquire();
  if (!permit.granted) throw new Error(`refused: ${permit.reason}`);
  permit.release(outcome);
};
const succeed = (breaker: CircuitBreaker, outcome: Outcome = { ok: true }): void => fail(breaker, outcome);
const grant = (breaker: CircuitBreaker, count = 1): Permit => {
  const result = breaker.tryAcquire(count);
  if (!result.granted) throw new Error(`refused: ${result.reason}`);
  return result;
};
const refusal = (result: Permit | Refusal): Refusal => {
  if (result.granted) throw new Error('expected a refusal');
  return result;
};
const boom = new Error('upstream down');
const failing = async (): Promise<never> => {
  throw boom;
};

describe('consecutiveFailures', () => {
  it('opens at exactly `threshold` failures in a row, with the reason in onOpen', () => {
    const { breaker, opened } = setup({ trip: consecutiveFailures(3) });
    fail(breaker);
    fail(breaker);
    expect(breaker.state).toBe('closed');
    fail(breaker);
    expect(breaker.state).toBe('open');
    expect(opened).toEqual([{ cause: 'tripped', trip: { rule: 'consecutive', failures: 3, threshold: 3 } }]);
  });

  it('a success starts the count again', () => {
    const { breaker } = setup({ trip: consecutiveFailures(3) });
    for (let i = 0; i < 10; i++) {
      fail(breaker);
      fail(breaker);
      succeed(breaker);
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().failures).toBe(0);
    fail(breaker);
    fail(breaker);
    expect(breaker.stats()).toMatchObject({ calls: 2, failures: 2, failureRate: undefined });
    fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('threshold 1 opens on the first failure', () => {
    const { breaker } = setup({ trip: consecutiveFailures(1) });
    fail(breaker);
    expect(breaker.state).toBe('open');
  });
});

describe('countWindow', () => {
  it('judges nothing below minimumCalls, even at 100 % failures', () => {
    const { breaker } = setup({ trip: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 5 }) });
    for (let i = 0; i < 4; i++) fail(breaker);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 4, failureRate: undefined });
    fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('opens at rate ≥ threshold (not only above), and a success reaching the minimum can open it', () => {
    const { breaker, opened } = setup({ trip: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 4 }) });
    fail(breaker);
    fail(breaker);
    succeed(breaker);
    expect(breaker.state).toBe('closed');
    succeed(breaker); // 4 calls, 2 failures: 50 % ≥ 50 %
    expect(breaker.state).toBe('open');
    expect(opened[0]).toEqual({ cause: 'tripped', trip: { rule: 'failure-rate', rate: 0.5, calls: 4, failures: 2, threshold: 0.5 } });
  });

  it('stays closed just below the threshold', () => {
    const { breaker } = setup({ trip: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 10 }) });
    for (let i = 0; i < 6; i++) succeed(breaker);
    for (let i = 0; i < 4; i++) fail(breaker);
    expect(breaker.stats()).toMatchObject({ calls: 10, failures: 4, failureRate: 0.4 });
    expect(breaker.state).toBe('closed');
  });

  it('old outcomes leave the ring: only the last `size` count', () => {
    const { breaker } = setup({ trip: countWindow({ size: 4, failureRate: 0.75, minimumCalls: 4 }) });
    fail(breaker);
    fail(breaker);
    succeed(breaker);
    succeed(breaker); // [F F S S] 50 %
    succeed(breaker); // [F S S S] 25 %
    fail(breaker); // [S S S F] 25 %
    fail(breaker); // [S S F F] 50 %
    expect(breaker.stats()).toMatchObject({ calls: 4, failures: 2, failureRate: 0.5 });
    expect(breaker.state).toBe('closed');
    fail(breaker); // [S F F F] 75 %
    expect(breaker.state).toBe('open');
  });

  it('a minimumCalls above size acts as size', () => {
    const { breaker } = setup({ trip: countWindow({ size: 3, failureRate: 1, minimumCalls: 100 }) });
    fail(breaker);
    fail(breaker);
    expect(breaker.state).toBe('closed');
    fail(breaker);
    expect(breaker.state).toBe('open');
  });
});

describe('timeWindow', () => {
  it('judges only outcomes of the last windowMs; old buckets expire', () => {
    const { clock, breaker } = setup({ trip: timeWindow({ windowMs: 3_000, bucketMs: 1_000, failureRate: 0.5, minimumCalls: 4 }) });
    fail(breaker);
    fail(breaker);
    fail(breaker); // t=0: 3 failures, below the minimum
    expect(breaker.stats()).toMatchObject({ calls: 3, failures: 3, failureRate: undefined });
    clock.setTime(2_999); // bucket 2: bucket 0 is still in the window (buckets 0, 1, 2)
    expect(breaker.stats().calls).toBe(3);
    clock.setTime(3_000); // bucket 3: bucket 0 left
    expect(breaker.stats()).toMatchObject({ calls: 0, failures: 0 });
    succeed(breaker);
    succeed(breaker);
    fail(breaker);
    expect(breaker.state).toBe('closed');
    fail(breaker); // 4 calls in the window, 2 failed
    expect(breaker.state).toBe('open');
  });

  it('counts per bucket: an outcome stays between windowMs − bucketMs and windowMs', () => {
    const { clock, breaker } = setup({ trip: timeWindow({ windowMs: 2_000, bucketMs: 1_000, failureRate: 1, minimumCalls: 2 }) });
    clock.setTime(999);
    fail(breaker); // bucket 0
    clock.setTime(1_999);
    expect(breaker.stats().calls).toBe(1); // 1 s later, still counted
    clock.setTime(2_000);
    expect(breaker.stats().calls).toBe(0); // 1.001 s after it happened, gone with its bucket
    fail(breaker);
    clock.setTime(2_500);
    fail(breaker);
    expect(breaker.state).toBe('open');
  });

  it('a long quiet spell empties the window at once; a clock that steps back counts into the newest bucket', () => {
    const { clock, breaker } = setup({ trip: timeWindow({ windowMs: 10_000, failureRate: 0.5, minimumCalls: 3 }) });
    succeed(breaker);
    succeed(breaker);
    clock.setTime(1e9);
    expect(breaker.stats().calls).toBe(0);
    fail(breaker);
    clock.setTime(5_000); // backwards
    fail(breaker);
    expect(breaker.stats()).toMatchObject({ calls: 2, failures: 2 });
    clock.setTime(1e9 + 10_000);
    expect(breaker.stats().calls).toBe(0);
  });

  it('the default bucket is 1 s', () => {
    expect(timeWindow({ windowMs: 10_000, failureRate: 0.5, minimumCalls: 1 })).toMatchObject({ bucketMs: 1_000, buckets: 10 });
    expect(timeWindow({ windowMs: 300, bucketMs: 0.1, failureRate: 0.5, minimumCalls: 1 }).buckets).toBe(3_000);
  });
});

describe('failures: slow calls and isFailure', () => {
  it('a call slower than slowCallMs counts as a failure (outcome durationMs)', () => {
    const { breaker } = setup({ trip: consecutiveFailures(2), slowCallMs: 500 });
    succeed(breaker, { ok: true, durationMs: 500 }); // not above: fine
    succeed(breaker, { ok: true, durationMs: 501 });
    expect(breaker.state).toBe('closed');
    succeed(breaker, { ok: true, durationMs: 900 });
    expect(breaker.state).toBe('open');
  });

  it('without durationMs, a permit is timed from grant to release', () => {
    const { clock, breaker } = setup({ trip: consecutiveFailures(1), slowCallMs: 500 });
    const quick = grant(breaker);
    clock.setTime(500);
    quick.release({ ok: true });
    expect(breaker.state).toBe('closed');
    const slow = grant(breaker);
    clock.setTime(1_001);
    slow.release({ ok: true });
    expect(breaker.state).toBe('open');
  });

  it('run() times fn and counts a slow success as a failure', async () => {
    const { clock, breaker } = setup({ trip: consecutiveFailures(1), slowCallMs: 100 });
    await breaker.run(async () => {
      clock.setTime(clock.now() + 100);
      return 1;
    });
    expect(breaker.state).toBe('closed');
    await breaker.run(async () => {
      clock.setTime(clock.now() + 101);
      return 1;
    });
    expect(breaker.state).toBe('open');
  });

  it('isFailure keeps chosen errors out of the count (a 404 is not the dependency failing)', async () => {
    const status = (code: number) => Object.assign(new Error(`HTTP ${code}`), { status: code });
    const isFailure = vi.fn(({ ok, error }: Outcome) => ok === false && (error as { status: number }).status >= 500);
    const { breaker } = setup({ trip: consecutiveFailures(2), isFailure });
    for (let i = 0; i < 5; i++) {
      await expect(
        breaker.run(async () => {
          throw status(404);
        }),
      ).rejects.toMatchObject({ status: 404 });
    }
    expect(breaker.state).toBe('closed');
    await breaker.run(async () => Promise.reject(status(503))).catch(() => {});
    await breaker.run(async () => Promise.reject(status(502))).catch(() => {});
    expect(breaker.state).toBe('open');
    expect(isFailure).toHaveBeenCalledTimes(7);
    expect(isFailure.mock.calls[0]?.[0]).toMatchObject({ ok: false, durationMs: 0 });
  });

  it('isFailure can count a success as a failure too, and is never called without ok', () => {
    const isFailure = vi.fn(() => true);
    const { breaker } = setup({ trip: consecutiveFailures(2), isFailure });
    grant(breaker).release();
    grant(breaker).release(NOT_RUN);
    grant(breaker).release({ durationMs: 5 });
    expect(isFailure).not.toHaveBeenCalled();
    succeed(breaker);
    succeed(breaker);
    expect(breaker.state).toBe('open');
  });

  it('outcomes with ok absent (NOT_RUN, no outcome) are never counted', () => {
    const { breaker } = setup({ trip: countWindow({ size: 5, failureRate: 0.5, minimumCalls: 1 }) });
    grant(breaker).release();
    grant(breaker).release(NOT_RUN);
    grant(breaker).release({ cost: 3, durationMs: 10_000 });
    expect(breaker.stats()).toMatchObject({ calls: 0, failures: 0, admitted: 3 });
    breaker.record(NOT_RUN);
    expect(breaker.stats().calls).toBe(0);
  });
});

describe('open', () => {
  it('refuses everything with circuit-open and retryAfterMs = time until half-open', async () => {
    const { clock, breaker } = setup({ halfOpenAfterMs: 30_000 });
    clock.setTime(1_000);
    for (let i = 0; i < 3; i++) await breaker.run(failing).catch(() => {});
    expect(breaker.state).toBe('open');
    clock.setTime(11_000.5);
    const refused = refusal(breaker.tryAcquire());
    expect(refused).toMatchObject({ reason: 'circuit-open', gate: 'breaker', retryAfterMs: 20_000 });
    expect(refusal(breaker.tryAcquire(7)).retryAfterMs).toBe(20_000);
    const error = await breaker.acquire().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error).toMatchObject({ code: 'CIRCUIT_OPEN', gate: 'breaker', retryAfterMs: 20_000 });
    const runError = await breaker.run(async () => 1).catch((e: unknown) => e);
    expect(isCircuitOpenError(runError)).toBe(true);
    expect((runError as CircuitOpenError).retryAfterMs).toBe(20_000);
    expect(breaker.stats()).toMatchObject({ state: 'open', available: 0, retryAfterMs: 20_000, opened: 1, refused: 4 });
    expect(breaker.pressure).toBe(1);
  });

  it('moves to half-open lazily, on the first call at or after openedAt + halfOpenAfterMs', () => {
    const { clock, breaker, events } = setup({ trip: consecutiveFailures(1), halfOpenAfterMs: 1_000 });
    clock.setTime(500);
    fail(breaker);
    clock.setTime(1_499);
    expect(breaker.tryAcquire().granted).toBe(false);
    clock.setTime(1_500);
    expect(breaker.state).toBe('open'); // nothing happens by itself
    expect(breaker.stats().retryAfterMs).toBe(0);
    expect(events).toEqual(['open:tripped']);
    const trial = breaker.tryAcquire();
    expect(trial.granted).toBe(true);
    expect(breaker.state).toBe('half-open');
    expect(events).toEqual(['open:tripped', 'half-open']);
  });

  it('never arms a timer, whatever happens', async () => {
    const { clock, breaker } = setup({
      trip: timeWindow({ windowMs: 1_000, bucketMs: 100, failureRate: 0.5, minimumCalls: 1 }),
      slowCallMs: 10,
    });
    await breaker.run(failing).catch(() => {});
    expect(clock.pendingTimers).toBe(0);
    await breaker.acquire().catch(() => {});
    await breaker.acquire(1, { maxWaitMs: 60_000 }).catch(() => {});
    clock.setTime(5_000);
    const trial = grant(breaker);
    expect(clock.pendingTimers).toBe(0);
    trial.release({ ok: true });
    breaker.isolate();
    breaker.reset();
    await breaker.run(async () => 1);
    breaker.close();
    expect(clock.pendingTimers).toBe(0);
    expect(clock.firedTimers).toBe(0);
  });

  it('uses no Date.now, setTimeout or setInterval: only the injected clock', () => {
    const dir = fileURLToPath(new URL('../src/', import.meta.url));
    for (const file of readdirSync(dir)) {
      const source = readFileSync(`${dir}${file}`, 'utf8');
      expect(source, file).not.toMatch(/Date\.now|setTimeout|setInterval|performance\.now/);
    }
  });
});

describe('half-open', () => {
  function halfOpen(options: Partial<Options> = {}) {
    const context = setup({ trip: consecutiveFailures(1), halfOpenAfterMs: 1_000, halfOpenMaxCalls: 3, ...options });
    fail(context.breaker);
    context.clock.setTime(1_000);
    expect(context.breaker.tryAcquire(0).granted).toBe(true);
    expect(context.breaker.state).toBe('half-open');
    return context;
  }

  it('admits halfOpenMaxCalls trials, one per acquisition whatever its count, and refuses the rest', async () => {
    const { breaker } = halfOpen();
    expect(breaker.stats().available).toBe(3);
    grant(breaker, 50);
    grant(breaker);
    expect(breaker.pressure).toBeCloseTo(2 / 3);
    grant(breaker, 2);
    expect(breaker.stats()).toMatchObject({ available: 0, trialsInFlight: 3 });
    const refused = refusal(breaker.tryAcquire());
    expect(refused).toMatchObject({ reason: 'circuit-open', retryAfterMs: undefined });
    expect(breaker.tryAcquire(0).granted).toBe(false);
    await expect(breaker.acquire()).rejects.toBeInstanceOf(CircuitOpenError);
    await expect(breaker.run(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('all trials succeeding closes the breaker and resets the strategy', () => {
    const { breaker, events, closed } = halfOpen({ trip: countWindow({ size: 10, failureRate: 0.5, minimumCalls: 1 }) });
    const trials = [grant(breaker), grant(breaker), grant(breaker)];
    trials[0]?.release({ ok: true });
    trials[1]?.release({ ok: true });
    expect(breaker.state).toBe('half-open');
    trials[2]?.release({ ok: true });
    expect(breaker.state).toBe('closed');
    expect(closed).toEqual([{ cause: 'trials-succeeded', trials: 3 }]);
    expect(events).toEqual(['open:tripped', 'half-open', 'close:trials-succeeded']);
    expect(breaker.stats()).toMatchObject({ calls: 0, failures: 0, state: 'closed', available: Infinity, trialsInFlight: 0 });
  });

  it('any trial failing reopens it for a fresh halfOpenAfterMs', () => {
    const { clock, breaker, opened } = halfOpen();
    const first = grant(breaker);
    const second = grant(breaker);
    first.release({ ok: true });
    clock.setTime(1_400);
    second.release({ ok: false, error: boom });
    expect(breaker.state).toBe('open');
    expect(opened[1]).toEqual({ cause: 'trial-failed', outcome: { ok: false, error: boom } });
    expect(refusal(breaker.tryAcquire()).retryAfterMs).toBe(1_000);
    clock.setTime(2_399);
    expect(breaker.tryAcquire().granted).toBe(false);
    clock.setTime(2_400);
    expect(breaker.tryAcquire().granted).toBe(true);
    expect(breaker.state).toBe('half-open');
  });

  it('a slow trial is a failed trial', () => {
    const { breaker } = halfOpen({ slowCallMs: 50 });
    grant(breaker).release({ ok: true, durationMs: 51 });
    expect(breaker.state).toBe('open');
  });

  it('a trial released without a usable outcome gives its slot back', () => {
    const { breaker } = halfOpen();
    const trials = [grant(breaker), grant(breaker), grant(breaker)];
    expect(breaker.tryAcquire().granted).toBe(false);
    trials[0]?.release(NOT_RUN);
    trials[1]?.release();
    expect(breaker.stats()).toMatchObject({ available: 2, trialsInFlight: 1 });
    trials[2]?.release({ ok: true });
    grant(breaker).release({ ok: true });
    expect(breaker.state).toBe('half-open');
    grant(breaker).release({ ok: true });
    expect(breaker.state).toBe('closed');
  });

  it('a permit granted while closed does not decide a half-open trial', () => {
    const { clock, breaker } = setup({ trip: consecutiveFailures(1), halfOpenAfterMs: 1_000 });
    const early = grant(breaker);
    fail(breaker);
    clock.setTime(1_000);
    const trial = grant(breaker);
    early.release({ ok: false }); // from the closed period: ignored
    expect(breaker.state).toBe('half-open');
    trial.release({ ok: true });
    expect(breaker.state).toBe('closed');
  });

  it('trials through run(): success closes, failure reopens', async () => {
    const { breaker } = halfOpen({ halfOpenMaxCalls: 1 });
    await expect(breaker.run(async () => 'ok')).resolves.toBe('ok');
    expect(breaker.state).toBe('closed');
    fail(breaker);
    expect(breaker.state).toBe('open');
  });
});

describe('isolate and reset', () => {
  it('isolate() refuses everything until reset(), with no retryAfterMs', async () => {
    const { clock, breaker, events, opened, closed } = setup();
    breaker.isolate();
    breaker.isolate(); // once
    expect(breaker.state).toBe('isolated');
    expect(refusal(breaker.tryAcquire())).toMatchObject({ reason: 'circuit-open', retryAfterMs: undefined });
    clock.setTime(1e9); // no half-open for an isolated breaker
    expect(breaker.tryAcquire().granted).toBe(false);
    const error = (await breaker.run(async () => 1).catch((e: unknown) => e)) as CircuitOpenError;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.retryAfterMs).toBeUndefined();
    expect(breaker.stats()).toMatchObject({ state: 'isolated', available: 0, retryAfterMs: undefined, opened: 1 });
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(breaker.tryAcquire().granted).toBe(true);
    expect(opened).toEqual([{ cause: 'isolated' }]);
    expect(closed).toEqual([{ cause: 'reset', from: 'isolated' }]);
    expect(events).toEqual(['open:isolated', 'close:reset']);
  });

  it('isolate() works from open and half-open; reset() closes from any state', () => {
    const { clock, breaker, events } = setup({ trip: consecutiveFailures(1) });
    fail(breaker);
    breaker.isolate();
    breaker.reset();
    fail(breaker);
    clock.setTime(1_000);
    grant(breaker);
    breaker.isolate();
    breaker.reset();
    fail(breaker);
    breaker.reset();
    expect(events).toEqual([
      'open:tripped',
      'open:isolated',
      'close:reset',
      'open:tripped',
      'half-open',
      'open:isolated',
      'close:reset',
      'open:tripped',
      'close:reset',
    ]);
  });

  it('reset() of a closed breaker clears the counts without an event; calls in flight are then ignored', async () => {
    const { breaker, events } = setup({ trip: consecutiveFailures(3) });
    fail(breaker);
    fail(breaker);
    const inFlight = grant(breaker);
    let rejectRun: (error: Error) => void = () => {};
    const running = breaker.run(() => new Promise<never>((_, reject) => (rejectRun = reject)));
    breaker.reset();
    expect(breaker.stats().failures).toBe(0);
    inFlight.release({ ok: false });
    rejectRun(boom);
    await running.catch(() => {});
    fail(breaker);
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().failures).toBe(1);
    expect(events).toEqual([]);
  });
});

describe('events', () => {
  it('fire once per transition, with reasons; a disposed listener hears nothing', () => {
    const { clock, breaker, events } = setup({ trip: consecutiveFailures(2), halfOpenAfterMs: 100 });
    const extra = vi.fn();
    const off = breaker.onOpen(extra);
    fail(breaker);
    fail(breaker);
    expect(breaker.tryAcquire().granted).toBe(false);
    expect(extra).toHaveBeenCalledTimes(1);
    off();
    off();
    clock.setTime(100);
    grant(breaker).release({ ok: false });
    clock.setTime(200);
    grant(breaker).release({ ok: true });
    expect(extra).toHaveBeenCalledTimes(1);
    expect(events).toEqual(['open:tripped', 'half-open', 'open:trial-failed', 'half-open', 'close:trials-succeeded']);
  });

  it('a throwing listener neither stops the transition nor the other listeners', () => {
    const reported: unknown[] = [];
    const original = globalThis.reportError;
    globalThis.reportError = (error: unknown) => reported.push(error);
    try {
      const { breaker, events } = setup({ trip: consecutiveFailures(1) });
      breaker.onOpen(() => {
        throw new Error('listener bug');
      });
      fail(breaker);
      expect(breaker.state).toBe('open');
      expect(events).toEqual(['open:tripped']);
      expect(reported).toHaveLength(1);
    } finally {
      globalThis.reportError = original;
    }
  });

  it('onClose() without a listener is GateBase’s close hook: close() fires no circuit event', async () => {
    const { breaker, events } = setup();
    breaker.close();
    expect(events).toEqual([]);
    expect(breaker.tryAcquire()).toMatchObject({ granted: false, reason: 'closed' });
    await expect(breaker.run(async () => 1)).rejects.toBeInstanceOf(ClosedError);
    expect(() => breaker.onClose(42 as never)).toThrow(TypeError);
  });
});

describe('run', () => {
  it('releases whether fn returns or throws (sync or async), and returns its value', async () => {
    const { breaker } = setup({ trip: consecutiveFailures(4) });
    await expect(breaker.run(() => 7)).resolves.toBe(7);
    await expect(breaker.run(async () => 8)).resolves.toBe(8);
    const thenable = { then: (resolve: (v: number) => void) => resolve(9) } as unknown as PromiseLike<number>;
    await expect(breaker.run(() => thenable)).resolves.toBe(9);
    await expect(breaker.run(failing)).rejects.toBe(boom);
    await expect(
      breaker.run(() => {
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(breaker.stats()).toMatchObject({ failures: 2, admitted: 5 });
    await breaker.run(failing).catch(() => {});
    await breaker.run(failing).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('records the duration: isFailure sees durationMs', async () => {
    const seen: Outcome[] = [];
    const { clock, breaker } = setup({ isFailure: (outcome) => (seen.push(outcome), outcome.ok === false) });
    await breaker.run(async () => {
      clock.setTime(clock.now() + 42);
    });
    await breaker
      .run(async () => {
        clock.setTime(clock.now() + 5);
        throw boom;
      })
      .catch(() => {});
    expect(seen).toEqual([
      { ok: true, durationMs: 42 },
      { ok: false, durationMs: 5, error: boom },
    ]);
  });

  it('with options it runs with a real permit and passes the signal', async () => {
    const { breaker } = setup({ trip: consecutiveFailures(1) });
    const controller = new AbortController();
    await breaker.run(
      async ({ signal, permit }) => {
        expect(signal).toBe(controller.signal);
        expect(permit.granted).toBe(true);
      },
      { signal: controller.signal },
    );
    await breaker.run(failing, { priority: 1 }).catch(() => {});
    expect(breaker.state).toBe('open');
  });

  it('the closed fast path passes a shared context and counts admissions', async () => {
    const { breaker } = setup();
    const contexts: unknown[] = [];
    await breaker.run((context) => contexts.push(context));
    await breaker.run((context) => contexts.push(context));
    expect(contexts[0]).toBe(contexts[1]);
    expect(contexts[0]).toMatchObject({ signal: undefined, permit: { granted: true } });
    expect(breaker.stats().admitted).toBe(2);
  });

  it('a non-function fn rejects with InvalidArgumentError', async () => {
    const { breaker } = setup();
    await expect(breaker.run(42 as never)).rejects.toBeInstanceOf(InvalidArgumentError);
  });

  it('an outcome that arrives after the breaker moved on is ignored', async () => {
    const { clock, breaker } = setup({ trip: consecutiveFailures(1), halfOpenAfterMs: 100 });
    let rejectLate: (error: Error) => void = () => {};
    const late = breaker.run(() => new Promise<never>((_, reject) => (rejectLate = reject)));
    fail(breaker); // opens
    clock.setTime(100);
    grant(breaker).release({ ok: true }); // half-open → closed
    rejectLate(boom); // started in the previous closed period
    await late.catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('reads no clock on the closed success path with consecutiveFailures or countWindow', async () => {
    for (const trip of [consecutiveFailures(3), countWindow({ size: 10, failureRate: 0.5, minimumCalls: 5 })] as TripStrategy[]) {
      const base = new VirtualClock();
      const now = vi.fn(() => base.now());
      const clock: Clock = { now, setTimer: (cb, ms, o) => base.setTimer(cb, ms, o), clearTimer: (h) => base.clearTimer(h) };
      const breaker = new CircuitBreaker({ trip, halfOpenAfterMs: 1_000, clock });
      now.mockClear();
      for (let i = 0; i < 100; i++) await breaker.run(async () => i);
      expect(now).not.toHaveBeenCalled();
    }
  });

  it('with an onAdmit listener, run takes the counted path and emits; without, the fast path again', async () => {
    const { breaker } = setup();
    const admitted = vi.fn();
    const off = breaker.onAdmit(admitted);
    await breaker.run(async () => 1);
    expect(admitted).toHaveBeenCalledWith(1, 0);
    off();
    off();
    await breaker.run(async () => 1);
    expect(admitted).toHaveBeenCalledTimes(1);
    expect(breaker.stats().admitted).toBe(2);
  });
});

describe('as a gate', () => {
  it('capacity Infinity, available Infinity while closed, no queue', async () => {
    const { breaker } = setup();
    expect(breaker.capacity).toBe(Infinity);
    expect(breaker.tryAcquire(1e12).granted).toBe(true);
    expect(breaker.stats()).toMatchObject({ capacity: Infinity, available: Infinity, waiting: 0, queued: 0 });
    expect(breaker.pressure).toBe(0);
    await expect(breaker.acquire(3)).resolves.toMatchObject({ granted: true });
  });

  it('a double release records once', () => {
    const { breaker } = setup({ trip: consecutiveFailures(2) });
    const permit = grant(breaker);
    permit.release({ ok: false });
    permit.release({ ok: false });
    expect(breaker.state).toBe('closed');
    expect(breaker.stats().failures).toBe(1);
  });

  it('record() counts calls made elsewhere, only while closed', () => {
    const { clock, breaker } = setup({ trip: consecutiveFailures(2), slowCallMs: 100 });
    breaker.record({ ok: true, durationMs: 101 });
    breaker.record({ ok: false });
    expect(breaker.state).toBe('open');
    clock.setTime(1_000);
    const trial = grant(breaker);
    breaker.record({ ok: false }); // half-open: only trials decide
    expect(breaker.state).toBe('half-open');
    trial.release({ ok: true });
    expect(breaker.state).toBe('closed');
    expect(() => breaker.record(null as never)).toThrow(InvalidArgumentError);
  });

  it('in a pipeline, the outcome flows back and trips the breaker', async () => {
    const { breaker } = setup({ trip: consecutiveFailures(2) });
    const front = pipeline(breaker);
    await front.run(failing).catch(() => {});
    await front.run(failing).catch(() => {});
    expect(breaker.state).toBe('open');
    await expect(front.run(async () => 1)).rejects.toBeInstanceOf(CircuitOpenError);
  });

  it('copies and freezes what it keeps: the options object may change afterwards', () => {
    const options = { trip: consecutiveFailures(1), halfOpenAfterMs: 1_000, halfOpenMaxCalls: 2, clock: new VirtualClock() };
    const breaker = new CircuitBreaker(options);
    options.halfOpenMaxCalls = 5;
    expect(breaker.halfOpenMaxCalls).toBe(2);
    expect(Object.isFrozen(breaker.trip)).toBe(true);
    expect(breaker.name).toBe('breaker');
  });
});
