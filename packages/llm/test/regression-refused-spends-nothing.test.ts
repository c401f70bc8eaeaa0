import { NOT_RUN, pipeline } from '@sluice/core';
import { ControlledGate, VirtualClock } from '@sluice/testing';
import { describe, expect, it } from 'vitest';
import { LlmLimiter } from '../src/index.js';

describe('LlmLimiter: a refused or unused request spends nothing', () => {
  it('pipeline(llm, full stage): refusals by the later stage leave the request and token budgets whole', () => {
    const clock = new VirtualClock();
    const llm = new LlmLimiter({ requestsPerMinute: 5, tokensPerMinute: 1_000, clock });
    const later = new ControlledGate({ name: 'later', capacity: 10, clock });
    const door = pipeline(llm, later);
    const first = llm.tryAcquire({ inputTokens: 100, maxOutputTokens: 100 });
    expect(first.granted).toBe(true);
    later.refuseWith('exhausted');
    for (let i = 0; i < 3; i++) expect(door.tryAcquire(1)).toMatchObject({ granted: false, gate: 'later' });
    expect(llm.remaining('requests')).toBe(4);
    if (first.granted) {
      first.release(NOT_RUN);
      first.release(NOT_RUN); // once only
    }
    expect(llm.remaining('requests')).toBe(5);
    expect(llm.remaining('tokens')).toBe(1_000);
  });
});
