import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ControlledGate, VirtualClock, driveGate, settleAll, type GateOperation } from '@sluice/testing';
import { arrivalSchedule, gateOperations } from '@sluice/testing/arbitraries';

describe('driveGate', () => {
  it('finds a gate whose counters do not add up', async () => {
    const clock = new VirtualClock();
    const gate = new ControlledGate({ capacity: 1, clock });
    const lying = new Proxy(gate, {
      get(target, property) {
        if (property === 'stats') return () => ({ ...target.stats(), admitted: target.stats().admitted + 1 });
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const report = await driveGate(lying, clock, [{ kind: 'try', count: 1, priority: 0 }]);
    expect(report.violations[0]).toMatch(/attempts 1 ≠ admitted 2/);
  });

  it('serves FIFO within a priority for a slot gate under random workloads', async () => {
    await fc.assert(
      fc.asyncProperty(gateOperations({ maxCount: 1, withDeadlines: false }), async (operations: GateOperation[]) => {
        const clock = new VirtualClock();
        const gate = new ControlledGate({ capacity: 2, queueLimit: 50, clock, maxStarvationMs: Infinity });
        const report = await driveGate(gate, clock, operations);
        expect(report.violations).toEqual([]);
        const granted = report.waiters.filter((w) => w.state === 'granted');
        // with one priority and count 1, acquires are granted in call order
        const ids = [...granted].sort((a, b) => (a.grantOrder ?? 0) - (b.grantOrder ?? 0)).map((w) => w.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        gate.close();
        expect(await settleAll(clock, report)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('arrivalSchedule', () => {
  it('produces non-decreasing arrival times within the options', () => {
    fc.assert(
      fc.property(arrivalSchedule({ maxArrivals: 50, maxGapMs: 20, maxCount: 3, priorities: [0, 2] }), (arrivals) => {
        expect(arrivals.length).toBeLessThanOrEqual(50);
        for (let i = 1; i < arrivals.length; i++) expect(arrivals[i]!.atMs).toBeGreaterThanOrEqual(arrivals[i - 1]!.atMs);
        for (const a of arrivals) {
          expect(a.count).toBeGreaterThanOrEqual(1);
          expect(a.count).toBeLessThanOrEqual(3);
          expect([0, 2]).toContain(a.priority);
        }
      }),
    );
  });
});
