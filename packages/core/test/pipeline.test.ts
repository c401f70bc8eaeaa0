import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  ClosedError,
  InvalidArgumentError,
  NOT_RUN,
  Pipeline,
  WaitTimeoutError,
  passThrough,
  pipeline,
  type Gate,
  type Outcome,
  type Permit,
  type Refusal,
} from '@sluice/core';
import { ControlledGate, VirtualClock } from '@sluice/testing';

class LoggingGate extends ControlledGate {
  constructor(
    name: string,
    private readonly log: string[],
    options: Partial<ConstructorParameters<typeof ControlledGate>[0]> & { clock: VirtualClock },
  ) {
    super({ capacity: 10, ...options, name });
  }
  protected override onRelease(count: number, outcome: Outcome | undefined): void {
    this.log.push(`${this.name}:${outcome === NOT_RUN ? 'NOT_RUN' : JSON.stringify(outcome)}`);
    super.onRelease(count, outcome);
  }
}

function setup() {
  const clock = new VirtualClock({ stallReportMs: false });
  const log: string[] = [];
  const a = new LoggingGate('a', log, { clock });
  const b = new LoggingGate('b', log, { clock });
  const c = new LoggingGate('c', log, { clock, capacity: 2 });
  return { clock, log, a, b, c, gate: pipeline({ clock, name: 'front' }, a, b, c) };
}

describe('pipeline', () => {
  it('is a gate whose capacity is its smallest stage and whose pressure is its highest', () => {
    const { gate, c } = setup();
    expect(gate).toBeInstanceOf(Pipeline);
    expect(gate.capacity).toBe(2);
    expect(gate.stages).toHaveLength(3);
    expect(gate.pressure).toBe(0);
    c.tryAcquire(1);
    expect(gate.pressure).toBe(0.5);
  });

  it('carries the outcome back through every stage, last to first, exactly once', () => {
    const { gate, log } = setup();
    const permit = gate.tryAcquire(1) as Permit;
    permit.release({ ok: false, durationMs: 12 });
    permit.release({ ok: true });
    expect(log).toEqual(['c:{"ok":false,"durationMs":12}', 'b:{"ok":false,"durationMs":12}', 'a:{"ok":false,"durationMs":12}']);
  });

  it('on a sync refusal, releases what was taken in reverse with NOT_RUN and surfaces the stage’s refusal', () => {
    const { gate, log, c } = setup();
    c.refuseWith('circuit-open', 3_000);
    const refusal = gate.tryAcquire(1) as Refusal;
    expect(refusal).toEqual({ granted: false, reason: 'circuit-open', gate: 'c', retryAfterMs: 3_000 });
    expect(log).toEqual(['b:NOT_RUN', 'a:NOT_RUN']);
    expect(gate.stats()).toMatchObject({ admitted: 0, refused: 1 });
  });

  it('on an async rejection, releases earlier stages with NOT_RUN and rejects with the stage’s error', async () => {
    const { gate, log, b } = setup();
    b.refuseWith('circuit-open', 250);
    const error = await gate.acquire(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).gate).toBe('b');
    expect((error as CircuitOpenError).retryAfterMs).toBe(250);
    expect(log).toEqual(['a:NOT_RUN']);
  });

  it('aborting while waiting at a later stage hands back the earlier stages', async () => {
    const { clock, gate, log, a, c } = setup();
    c.tryAcquire(2);
    const controller = new AbortController();
    const waiting = gate.acquire(1, { signal: controller.signal }).catch((e: unknown) => e);
    await clock.advance(0);
    expect(a.available).toBe(9);
    controller.abort(new Error('gone'));
    expect(((await waiting) as Error).message).toBe('gone');
    expect(log).toEqual(['b:NOT_RUN', 'a:NOT_RUN']);
    expect(a.available).toBe(10);
    expect(gate.stats()).toMatchObject({ cancelled: 1, waiting: 0 });
  });

  it('shares one maxWaitMs budget across the stages', async () => {
    const clock = new VirtualClock({ stallReportMs: false });
    const slow = new ControlledGate({ name: 'slow', capacity: 1, refillPerSecond: 20, returnOnRelease: false, clock });
    const slots = new ControlledGate({ name: 'slots', capacity: 1, clock });
    const gate = pipeline({ clock }, slow, slots);
    slow.tryAcquire(1); // the next unit arrives after 50 ms
    slots.tryAcquire(1); // and no slot frees
    const started = clock.now();
    const error = await clock.settle(gate.acquire(1, { maxWaitMs: 80 }).catch((e: unknown) => e));
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).gate).toBe('slots');
    expect(clock.now() - started).toBe(80); // 50 ms at the first stage + the 30 ms left at the second
    expect(slow.releases.map((r) => r.outcome)).toEqual([NOT_RUN]);
  });

  it('passes priority to every stage', async () => {
    const { clock, gate, c } = setup();
    const held = c.tryAcquire(2) as Permit;
    const order: string[] = [];
    void gate.acquire(1).then(() => order.push('normal'));
    void gate.acquire(1, { priority: 3 }).then(() => order.push('urgent'));
    await clock.advance(0);
    held.release();
    await clock.advance(0);
    expect(order).toEqual(['urgent', 'normal']);
  });

  it('close() closes every stage and rejects waiters anywhere in the chain', async () => {
    const { clock, gate, a, b, c } = setup();
    c.tryAcquire(2);
    const waiting = gate.acquire(1).catch((e: unknown) => e);
    await clock.advance(0);
    gate.close();
    expect(await waiting).toBeInstanceOf(ClosedError);
    expect([a.isClosed, b.isClosed, c.isClosed]).toEqual([true, true, true]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('run() reports the duration measured on its clock to every stage', async () => {
    const { clock, gate, log } = setup();
    const result = gate.run(async () => {
      await new Promise<void>((resolve) => clock.setTimer(resolve, 40));
      return 'done';
    });
    expect(await clock.settle(result)).toBe('done');
    expect(log).toEqual(['c:{"ok":true,"durationMs":40}', 'b:{"ok":true,"durationMs":40}', 'a:{"ok":true,"durationMs":40}']);
  });

  it('a released cost reaches every stage permit, in reverse order', () => {
    const { gate } = setup();
    const stages = gate.stages as readonly ControlledGate[];
    const permit = gate.tryAcquire(2) as Permit;
    permit.release({ ok: true, cost: 7 });
    permit.release({ ok: true, cost: 9 });
    for (const stage of stages) expect(stage.releases.map((r) => r.outcome?.cost)).toEqual([7]);
  });

  it('refuses to be built without a stage, and names a stage that is not a gate by its index', () => {
    expect(() => pipeline()).toThrow(new InvalidArgumentError('pipeline', 'stages', 'at least one gate', []));
    expect(() => pipeline()).toThrow('pipeline: stages must be at least one gate; received an array of 0');
    expect(() => pipeline({ name: 'api' })).toThrow('api: stages must be at least one gate; received an array of 0');
    expect(() => new Pipeline([])).toThrow('pipeline: stages must be at least one gate; received an array of 0');
    const gate = passThrough();
    expect(() => pipeline(gate, 42 as unknown as Gate)).toThrow(
      'pipeline: stages[1] must be a Gate (an object with name, tryAcquire and acquire); received 42 (number)',
    );
    expect(() => pipeline({ name: 'api' }, gate, {} as Gate)).toThrow(
      'api: stages[1] must be a Gate (an object with name, tryAcquire and acquire); received an object',
    );
  });

  it('grants without a promise hop per stage when every stage can, and counts a wait once where it happens', async () => {
    const { clock, gate, a, c } = setup();
    const permit = await gate.acquire(1);
    expect(a.stats()).toMatchObject({ admitted: 1, refused: 0 });
    permit.release({ ok: true });
    const held = c.tryAcquire(2) as Permit; // the last stage is now full
    const waiting = gate.acquire(1);
    await clock.advance(0);
    expect(c.stats()).toMatchObject({ admitted: 2, refused: 0, waiting: 1 });
    expect(gate.stats()).toMatchObject({ waiting: 1, admitted: 1 });
    held.release();
    (await waiting).release();
    expect(c.stats()).toMatchObject({ admitted: 3, refused: 0, waiting: 0 });
    expect(a.stats()).toMatchObject({ admitted: 2, refused: 0 });
    expect(gate.stats()).toMatchObject({ waiting: 0, admitted: 2, refused: 0 });
  });

  it('works with gates that offer no fast path', async () => {
    const clock = new VirtualClock();
    const slots = new ControlledGate({ capacity: 1, clock });
    let released = 0;
    const plain = {
      name: 'plain',
      capacity: 5,
      pressure: 0,
      tryAcquire: () => ({ granted: true as const, release: () => void released++ }),
      acquire: () => Promise.resolve({ granted: true as const, release: () => void released++ }),
      run: () => Promise.reject(new Error('unused')),
      stats: () => ({ capacity: 5, available: 5, waiting: 0, queued: 0, admitted: 0, refused: 0, cancelled: 0 }),
      close: () => {},
      onAdmit: () => () => {},
      onRefuse: () => () => {},
    };
    const gate = pipeline({ clock }, slots, plain);
    const permit = await gate.acquire(1);
    permit.release({ ok: true });
    expect(released).toBe(1);
    expect(slots.releases).toHaveLength(1);
  });
});
