import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import { KeyedLlmLimiter, LlmLimiter, LlmRouter, limiterFetch, llmLimiter, parseRateLimitHeaders, wrapFetch } from '@sluice/llm';

const limits = { requestsPerMinute: 60, tokensPerMinute: 10_000 };
const fetchImpl = async (): Promise<Response> => new Response('{}');
const table: InvalidOptionsCase[] = [
  [
    'LlmLimiter',
    () => new LlmLimiter({ requestsPerMinute: 60, tokensPerMinut: 1 } as never),
    'LlmLimiter: unknown option "tokensPerMinut"; did you mean "tokensPerMinute"?',
  ],
  ['llmLimiter', () => llmLimiter({ ...limits, rpm: 60 } as never), 'LlmLimiter: unknown option "rpm"'],
  [
    'KeyedLlmLimiter',
    () => new KeyedLlmLimiter({ limits, maxkeys: 5 } as never),
    'KeyedLlmLimiter: unknown option "maxkeys"; did you mean "maxKeys"?',
  ],
  [
    'KeyedLlmLimiter template',
    () => new KeyedLlmLimiter({ limits: { ...limits, headrom: 0.1 } } as never),
    'LlmLimiter: unknown option "headrom"; did you mean "headroom"?',
  ],
  [
    'LlmRouter',
    () => new LlmRouter({ deployments: [{ name: 'a', limiter: limits }], strategy: 'x' } as never),
    'LlmRouter: unknown option "strategy"',
  ],
  [
    'LlmRouter deployment (nested)',
    () => new LlmRouter({ deployments: [{ name: 'a', limiter: limits, wieght: 2 }] } as never),
    'llm-router: unknown option "deployments[0].wieght"; did you mean "deployments[0].weight"?',
  ],
  [
    'LlmRouter deployment limits',
    () => new LlmRouter({ deployments: [{ name: 'a', limiter: { ...limits, nmae: 'x' } }] } as never),
    'LlmLimiter: unknown option "nmae"; did you mean "name"?',
  ],
  [
    'wrapFetch',
    () => wrapFetch(fetchImpl, llmLimiter(limits), { maxWaitMS: 5 } as never),
    'wrapFetch: unknown option "maxWaitMS"; did you mean "maxWaitMs"?',
  ],
  [
    'limiterFetch',
    () => limiterFetch(llmLimiter(limits), { estimate: () => 1 } as never),
    'wrapFetch: unknown option "estimate"; did you mean "estimateTokens"?',
  ],
  [
    'parseRateLimitHeaders',
    () => parseRateLimitHeaders({}, { now: 0, wallNow: 0 }, { provder: 'openai' } as never),
    'parseRateLimitHeaders: unknown option "provder"; did you mean "provider"?',
  ],
  [
    'LlmLimiter request',
    () => llmLimiter(limits).tryAcquire({ inputTokens: 5, maxTokens: 10 } as never),
    'llm: unknown option "request.maxTokens"; did you mean "request.maxOutputTokens"?',
  ],
  [
    'LlmLimiter request, a near miss',
    () => llmLimiter(limits).tryAcquire({ inputTokens: 5, maxOutputToken: 10 } as never),
    'llm: unknown option "request.maxOutputToken"; did you mean "request.maxOutputTokens"?',
  ],
  [
    'LlmRouter request',
    () => new LlmRouter({ deployments: [{ name: 'a', limiter: limits }] }).tryAcquire({ inputToken: 5 } as never),
    'llm-router: unknown option "request.inputToken"; did you mean "request.inputTokens"?',
  ],
];

describeInvalidOptions('unknown options', table);
