import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@sluice/testing';
import { runDemo } from '../src/demo.js';

describe('pipeline demo (virtual time)', () => {
  it('admits at the consumer’s pace and refuses the rest, each refusal with a retry hint', async () => {
    const clock = new VirtualClock();
    const summary = await runDemo({
      clock,
      durationMs: 10_000,
      producerPerSecond: 200,
      consumerPerSecond: 100,
      sleep: (ms) => clock.advance(ms),
    });
    expect(summary.offered).toBe(2_000);
    // 100/s for 10 s plus the burst of 5 it starts with
    expect(summary.admitted).toBeGreaterThanOrEqual(1_000);
    expect(summary.admitted).toBeLessThanOrEqual(1_006);
    expect(summary.refused).toBe(summary.offered - summary.admitted);
    expect(summary.refusedWithHint).toBe(summary.refused);
    expect(summary.seconds).toHaveLength(10);
    for (const second of summary.seconds.slice(1)) {
      expect(second.admitted).toBeGreaterThanOrEqual(99);
      expect(second.admitted).toBeLessThanOrEqual(101);
      expect(second.reasons).toEqual({ exhausted: second.refused });
      expect(second.meanRetryAfterMs).toBeGreaterThan(0);
      expect(second.meanRetryAfterMs).toBeLessThanOrEqual(10);
    }
    expect(clock.pendingTimers).toBe(0);
  });
});
