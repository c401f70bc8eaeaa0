import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { QueueFullError, WaitTimeoutError, isSluiceError } from '@sluice/core';
import { BoundedBuffer } from '@sluice/buffer';
import { VirtualClock } from '@sluice/testing';

const errorOf = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (error: unknown) => error,
  );

describe('a refused put carries a retry hint from the consumer’s pace', () => {
  it('no hint before the consumer was timed; then the time between removals × (waiting producers + 1)', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<number>({ capacity: 2, maxPendingPuts: 2, clock });
    buffer.offer(1);
    buffer.offer(2);
    const cold = await errorOf(buffer.put(3, { maxWaitMs: 0 }));
    expect(cold).toBeInstanceOf(WaitTimeoutError);
    expect(cold).toMatchObject({ retryAfterMs: undefined });

    // producers wait; the consumer takes one item every 30 ms
    const puts = [buffer.put(3), buffer.put(4)];
    for (let i = 0; i < 2; i++) {
      await clock.advance(30);
      buffer.poll();
    }
    await Promise.all(puts);
    const waiting = [buffer.put(5), buffer.put(6)];
    await clock.advance(30);
    buffer.poll();
    // one producer still waits (6) and another was let in; the consumer's gap is 30 ms
    const full = await errorOf(buffer.put(7, { maxWaitMs: 0 }));
    expect(full).toBeInstanceOf(WaitTimeoutError);
    expect(full).toMatchObject({ retryAfterMs: 60 });
    const crowded = [buffer.put(8)];
    const refused = await errorOf(buffer.put(9));
    expect(refused).toBeInstanceOf(QueueFullError);
    expect(refused).toMatchObject({ code: 'QUEUE_FULL', retryAfterMs: 90 });
    buffer.close();
    await Promise.allSettled([...waiting, ...crowded]);
  });

  it('a put that times out is told the wait; an idle spell between busy ones does not count as a gap', async () => {
    const clock = new VirtualClock();
    const buffer = new BoundedBuffer<string>({ capacity: 1, clock });
    buffer.offer('a');
    const first = buffer.put('b');
    await clock.advance(10);
    buffer.poll();
    await first;
    const second = buffer.put('c');
    await clock.advance(10);
    buffer.poll();
    await second;
    // nobody waits for an hour: not a gap of the consumer
    await clock.advance(3_600_000);
    buffer.poll();
    buffer.offer('d');
    await clock.advance(1_000);
    const third = buffer.put('e');
    await clock.advance(10);
    buffer.poll();
    await third;
    const late = errorOf(buffer.put('f', { maxWaitMs: 5 }));
    await clock.advance(5);
    const error = await late;
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect(error).toMatchObject({ retryAfterMs: 10 });
  });

  it('every hint is a positive finite whole number of ms (property, virtual time)', async () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), maxWaitMs: fc.option(fc.integer({ min: 0, max: 50 }), { nil: undefined }) }),
      fc.record({ kind: fc.constant('poll' as const) }),
      fc.record({ kind: fc.constant('advance' as const), ms: fc.double({ min: 0, max: 40, noNaN: true }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(step, { maxLength: 120 }),
        async (capacity, maxPendingPuts, script) => {
          const clock = new VirtualClock();
          const buffer = new BoundedBuffer<number>({ capacity, maxPendingPuts, clock });
          const hints: (number | undefined)[] = [];
          const settled: Promise<unknown>[] = [];
          let n = 0;
          for (const s of script) {
            if (s.kind === 'put') {
              settled.push(
                buffer.put(n++, { maxWaitMs: s.maxWaitMs }).catch((error: unknown) => {
                  if (isSluiceError(error)) hints.push(error.retryAfterMs);
                }),
              );
            } else if (s.kind === 'poll') buffer.poll();
            else await clock.advance(s.ms);
          }
          buffer.close();
          await Promise.all(settled);
          for (const hint of hints) {
            if (hint === undefined) continue;
            expect(Number.isInteger(hint) && hint >= 1).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
