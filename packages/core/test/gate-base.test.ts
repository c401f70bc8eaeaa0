import { describe, expect, it } from 'vitest';
import {
  CircuitOpenError,
  ClosedError,
  LimitExceededError,
  QueueFullError,
  ShedError,
  WaitTimeoutError,
  passThrough,
  type Permit,
  type Refusal,
} from '@sluice/core';
import { ControlledGate, VirtualClock } from '@sluice/testing';

function setup(options: { capacity?: number; refillPerSecond?: number; queueLimit?: number } = {}) {
  const clock = new VirtualClock({ stallReportMs: false });
  const gate = new ControlledGate({
    capacity: options.capacity ?? 4,
    refillPerSecond: options.refillPerSecond ?? 10,
    returnOnRelease: false,
    queueLimit: options.queueLimit ?? 100,
    clock,
    name: 'rate',
  });
  return { clock, gate };
}

function drain(gate: ControlledGate, n: number): Permit[] {
  return Array.from({ length: n }, () => gate.tryAcquire(1) as Permit);
}

describe('GateBase', () => {
  it('arms exactly one wake timer for the head waiter, and grants waiters at the refill times', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const grantedAt: number[] = [];
    for (let i = 0; i < 10; i++) void gate.acquire(1).then(() => grantedAt.push(clock.now()));
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(1_000);
    expect(grantedAt).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]);
    expect(clock.pendingTimers).toBe(0);
  });

  it('retryAfterMs counts the units queued ahead, not only the shortfall', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const first = gate.tryAcquire(1) as Refusal;
    expect(first.retryAfterMs).toBe(100);
    void gate.acquire(3);
    await clock.advance(0);
    const behind = gate.tryAcquire(1) as Refusal;
    expect(behind.reason).toBe('exhausted');
    expect(behind.retryAfterMs).toBe(400); // 3 queued + 1 wanted, at 10 per second
  });

  it('refuses at once when the predicted wait exceeds maxWaitMs, with the predicted retryAfterMs', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const started = clock.now();
    const error = await gate.acquire(2, { maxWaitMs: 150 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).retryAfterMs).toBe(200);
    expect((error as WaitTimeoutError).maxWaitMs).toBe(150);
    expect(clock.now()).toBe(started);
    // a wait that fits is granted
    const permit = await clock.settle(gate.acquire(1, { maxWaitMs: 150 }));
    expect(permit.granted).toBe(true);
    expect(clock.now()).toBe(100);
  });

  it('a refusal reason other than exhausted rejects an acquire at once with its error and retry hint', async () => {
    const { gate } = setup();
    gate.refuseWith('circuit-open', 5_000);
    const refusal = gate.tryAcquire(1) as Refusal;
    expect(refusal).toMatchObject({ granted: false, reason: 'circuit-open', gate: 'rate', retryAfterMs: 5_000 });
    const error = await gate.acquire(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).retryAfterMs).toBe(5_000);
    gate.refuseWith('shed', 20);
    await expect(gate.acquire(1)).rejects.toBeInstanceOf(ShedError);
    expect(gate.stats().waiting).toBe(0);
    gate.allow();
    expect(gate.tryAcquire(1).granted).toBe(true);
  });

  it('queue limit counts units: a waiter of 3 takes 3', async () => {
    const { gate } = setup({ queueLimit: 4 });
    drain(gate, 4);
    const queued = [gate.acquire(3), gate.acquire(1)].map((p) => p.catch((e: unknown) => e));
    const error = await gate.acquire(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueueFullError);
    expect((error as QueueFullError).queueLimit).toBe(4);
    expect((error as QueueFullError).retryAfterMs).toBe(500);
    gate.close();
    for (const settled of await Promise.all(queued)) expect(settled).toBeInstanceOf(ClosedError);
  });

  it('without a queue, an exhausted acquire is a LimitExceededError with the retry hint', async () => {
    const { gate } = setup({ queueLimit: 0 });
    drain(gate, 4);
    const error = await gate.acquire(1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).retryAfterMs).toBe(100);
  });

  it('emits onAdmit with the wait and onRefuse with the refusal, and costs nothing once unsubscribed', async () => {
    const { clock, gate } = setup({ queueLimit: 1 });
    const admits: [number, number][] = [];
    const refusals: string[] = [];
    const offAdmit = gate.onAdmit((count, waitedMs) => admits.push([count, waitedMs]));
    const offRefuse = gate.onRefuse((r) => refusals.push(r.reason));
    drain(gate, 4);
    const waiter = gate.acquire(1);
    await gate.acquire(1).catch(() => {});
    await clock.settle(waiter);
    expect(admits).toEqual([
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 0],
      [1, 100],
    ]);
    expect(refusals).toEqual(['queue-full']);
    offAdmit();
    offRefuse();
    gate.tryAcquire(1);
    expect(admits).toHaveLength(5);
    expect(refusals).toHaveLength(1);
  });

  it('reports pressure: the used share of capacity, 1 while requests wait', async () => {
    const { clock, gate } = setup();
    expect(gate.pressure).toBe(0);
    drain(gate, 2);
    expect(gate.pressure).toBe(0.5);
    drain(gate, 2);
    expect(gate.pressure).toBe(1);
    const waiter = gate.acquire(1);
    expect(gate.pressure).toBe(1);
    await clock.settle(waiter);
    await clock.advance(1_000);
    expect(gate.pressure).toBe(0);
  });

  it('keeps the process alive only while someone waits: wake and deadline timers are keep-alive and gone after', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const waiter = gate.acquire(1, { maxWaitMs: 5_000 });
    expect(clock.keepAliveTimers).toBe(2);
    await clock.settle(waiter);
    await clock.advance(10_000);
    expect(clock.pendingTimers).toBe(0);
  });

  it('an aborted head unblocks the smaller waiter behind it and re-arms for the new head', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const controller = new AbortController();
    const big = gate.acquire(4, { signal: controller.signal }).catch((e: unknown) => e);
    const small = gate.acquire(1);
    await clock.advance(50);
    controller.abort();
    const permit = await clock.settle(small);
    expect(permit.granted).toBe(true);
    expect(clock.now()).toBe(100);
    expect(await big).toBeInstanceOf(DOMException);
  });

  it('shares one resolved promise between grants of a stateless permit (no allocation per acquire)', () => {
    const gate = passThrough();
    expect(gate.acquire()).toBe(gate.acquire());
  });

  it('a count-0 acquire waits for one unit without taking it', async () => {
    const { clock, gate } = setup();
    drain(gate, 4);
    const probe = gate.acquire(0);
    await clock.settle(probe);
    expect(clock.now()).toBe(100);
    expect(gate.available).toBeCloseTo(1);
  });
});

describe('GateBase.onWait', () => {
  it('reports only admissions that waited in the queue, with their wait; onAdmit sees every one', async () => {
    const { clock, gate } = setup();
    const waits: [number, number][] = [];
    const admits: number[] = [];
    const stopWait = gate.onWait((count, waitedMs) => waits.push([count, waitedMs]));
    gate.onAdmit((_count, waitedMs) => admits.push(waitedMs));
    drain(gate, 4); // granted at once: not waits
    const queued = [gate.acquire(1), gate.acquire(2)];
    await clock.advance(300);
    await Promise.all(queued);
    expect(waits).toEqual([
      [1, 100],
      [2, 300],
    ]);
    expect(admits).toEqual([0, 0, 0, 0, 100, 300]);
    stopWait();
    const later = gate.acquire(1);
    await clock.advance(100);
    await later;
    expect(waits).toHaveLength(2);
  });
});
