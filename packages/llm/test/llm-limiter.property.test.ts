import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '@sluice/testing';
import { LlmLimiter, type LlmPermit } from '../src/llm-limiter.js';

const TPM = 6_000; // 100 tokens per second
const RATE_PER_MS = TPM / 60_000;

const call = fc.record({
  gapMs: fc.integer({ min: 0, max: 400 }),
  input: fc.integer({ min: 0, max: 1_500 }),
  maxOutput: fc.integer({ min: 0, max: 1_500 }),
  usedShare: fc.double({ min: 0, max: 1, noNaN: true }),
  usage: fc.constantFrom('usage', 'none', 'not-run'),
  holdMs: fc.integer({ min: 0, max: 3_000 }),
  priority: fc.constantFrom(0, 1),
});

describe('LlmLimiter properties (virtual time)', () => {
  it('tokens charged in any window never exceed burst + rate × t after reconciliation; every reservation settles once', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(call, { minLength: 5, maxLength: 40 }), async (calls) => {
        const clock = new VirtualClock({ stallReportMs: false });
        const limiter = new LlmLimiter({ tokensPerMinute: TPM, requestsPerMinute: 600, clock });
        // every change to the tokens charged: +reservation at admission, −refund at release
        const events: { at: number; tokens: number }[] = [];
        let settled = 0;
        const done: Promise<void>[] = [];
        for (const c of calls) {
          await clock.advance(c.gapMs);
          const reserved = c.input + c.maxOutput;
          done.push(
            limiter.acquire({ inputTokens: c.input, maxOutputTokens: c.maxOutput }, { priority: c.priority }).then(
              async (permit: LlmPermit) => {
                events.push({ at: clock.now(), tokens: reserved });
                await new Promise<void>((resolve) => clock.setTimer(resolve, c.holdMs));
                if (c.usage === 'usage') {
                  const input = Math.round(c.input * c.usedShare);
                  const output = Math.round(c.maxOutput * c.usedShare);
                  permit.release({ ok: true, usage: { inputTokens: input, outputTokens: output } });
                  events.push({ at: clock.now(), tokens: input + output - reserved });
                } else if (c.usage === 'not-run') {
                  permit.release({ cost: 0 });
                  events.push({ at: clock.now(), tokens: -reserved });
                } else {
                  permit.release({ ok: false });
                }
                permit.release({ ok: true, usage: { inputTokens: 0, outputTokens: 0 } }); // ignored: released already
                settled++;
              },
              () => {
                settled++;
              },
            ),
          );
        }
        await clock.settle(Promise.all(done));
        expect(settled).toBe(calls.length);
        // the bucket bound over every window between two events
        events.sort((a, b) => a.at - b.at);
        for (let i = 0; i < events.length; i++) {
          let charged = 0;
          for (let j = i; j < events.length; j++) {
            charged += (events[j] as { tokens: number }).tokens;
            const span = (events[j] as { at: number }).at - (events[i] as { at: number }).at;
            expect(charged).toBeLessThanOrEqual(TPM + RATE_PER_MS * span + 1e-6);
          }
        }
        limiter.close();
        expect(clock.pendingTimers).toBe(0);
      }),
      { numRuns: 60 },
    );
  });
});
