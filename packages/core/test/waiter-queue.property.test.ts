import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WaiterQueue, type QueuedWaiter } from '@sluice/core';
import { VirtualClock } from '@sluice/testing';

const ops = fc.array(
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('enqueue' as const),
        priority: fc.constantFrom(0, 1, 7),
        maxWaitMs: fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
        signal: fc.option(fc.nat({ max: 2 }), { nil: undefined }),
      }),
    },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('grant' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), signal: fc.nat({ max: 2 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 200 }) }) },
  ),
  { maxLength: 80 },
);

interface ModelWaiter {
  id: number;
  priority: number;
  deadline: number;
  signal: number | undefined;
}

describe('WaiterQueue properties (virtual time)', () => {
  it('serves in (priority, FIFO) order, expires and aborts exactly the right waiters, and settles everyone once', async () => {
    await fc.assert(
      fc.asyncProperty(ops, async (script) => {
        const clock = new VirtualClock({ stallReportMs: false });
        const queue = new WaiterQueue<number, number>({
          clock,
          maxStarvationMs: Infinity,
          timeoutReason: (w: QueuedWaiter<number>) => ({ timeout: w.payload }),
        });
        let controllers = [new AbortController(), new AbortController(), new AbortController()];
        const model: ModelWaiter[] = [];
        const settlements = new Map<number, string[]>();
        const note = (id: number, what: string) => settlements.set(id, [...(settlements.get(id) ?? []), what]);
        let nextId = 0;

        for (const op of script) {
          if (op.kind === 'enqueue') {
            const id = nextId++;
            const signal = op.signal === undefined ? undefined : controllers[op.signal]?.signal;
            const maxWaitMs = op.maxWaitMs ?? Infinity;
            queue.enqueue(1, op.priority, signal, maxWaitMs, id).then(
              (v) => note(id, `granted:${v}`),
              (e: unknown) => note(id, typeof e === 'object' && e !== null && 'timeout' in e ? 'timeout' : 'abort'),
            );
            model.push({ id, priority: op.priority, deadline: clock.now() + maxWaitMs, signal: op.signal });
          } else if (op.kind === 'grant') {
            const head = queue.peek();
            if (model.length === 0) {
              expect(head).toBeUndefined();
              continue;
            }
            const best = model.reduce((a, b) => (b.priority > a.priority ? b : a));
            expect(head?.payload).toBe(best.id);
            queue.grant(head as QueuedWaiter<number>, best.id);
            model.splice(model.indexOf(best), 1);
          } else if (op.kind === 'abort') {
            controllers[op.signal]?.abort();
            controllers = controllers.map((c, i) => (i === op.signal ? new AbortController() : c));
            for (let i = model.length - 1; i >= 0; i--) if (model[i]?.signal === op.signal) model.splice(i, 1);
          } else {
            await clock.advance(op.ms);
          }
          await clock.advance(0);
          // deadlines that have passed (maxWaitMs 0 included) have expired by now
          for (let i = model.length - 1; i >= 0; i--) if ((model[i] as ModelWaiter).deadline <= clock.now()) model.splice(i, 1);
          expect(queue.size).toBe(model.length);
          expect(queue.units).toBe(model.length);
          for (const w of model) expect(settlements.has(w.id)).toBe(false);
        }
        queue.rejectAll(() => 'closed');
        await clock.advance(0);
        for (let id = 0; id < nextId; id++) expect(settlements.get(id)).toHaveLength(1);
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
