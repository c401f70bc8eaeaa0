import { describeGateContract } from '@sluice/testing/contract';
import { LlmLimiter } from '../src/llm-limiter.js';

describeGateContract('LlmLimiter', {
  create: ({ clock }) => ({
    gate: new LlmLimiter({ requestsPerMinute: 1_000, tokensPerMinute: 6, queueLimit: 4, clock }),
    initial: 6,
    queueLimit: 4,
    refillMs: 60_000,
  }),
  invalid: {
    'no limit at all': ({ clock }) => new LlmLimiter({ clock }),
    'tokensPerMinute 0': ({ clock }) => new LlmLimiter({ tokensPerMinute: 0, clock }),
    'requestsPerDay negative': ({ clock }) => new LlmLimiter({ requestsPerDay: -1, clock }),
    'headroom 1': ({ clock }) => new LlmLimiter({ tokensPerMinute: 10, headroom: 1, clock }),
    'queueLimit fractional': ({ clock }) => new LlmLimiter({ tokensPerMinute: 10, queueLimit: 1.5, clock }),
  },
});

// Without a token limit the unit is requests.
describeGateContract('LlmLimiter (requests per minute and per day)', {
  create: ({ clock }) => ({
    gate: new LlmLimiter({ requestsPerMinute: 5, requestsPerDay: 1_000, queueLimit: 4, clock }),
    initial: 5,
    queueLimit: 4,
    refillMs: 60_000,
  }),
});
