import { LlmLimiter, limiterFetch, readHeaders, wrapFetch, type FetchFunction, type LlmPermit } from '@sluice/llm';

const limiter = new LlmLimiter({ requestsPerMinute: 500, tokensPerMinute: 30_000 });
// the wrapped fetch is the runtime's fetch: DOM's in a DOM project, Node's (undici) in a Node one
const wrapped: typeof fetch = wrapFetch(fetch, limiter);
const direct: typeof fetch = limiterFetch(limiter);
const mine: FetchFunction = wrapped;
const _fromLimiter: typeof fetch = limiter.fetch;
// and not as `any` (what an unresolvable name becomes under skipLibCheck): `0 extends 1 & T` holds only for `any`
type IsAny<T> = 0 extends 1 & T ? true : false;
const _inputNotAny: IsAny<Parameters<FetchFunction>[0]> = false;
const _initNotAny: IsAny<Parameters<typeof wrapped>[1]> = false;
async function _call(): Promise<number> {
  const viaRequest: Response = await wrapped(new Request('https://example.com/v1/chat', { method: 'POST', body: '{}' }));
  const viaUrl: Response = await direct(new URL('https://example.com/v1/chat'), { headers: new Headers({ a: 'b' }) });
  const permit: LlmPermit = await limiter.acquire({ inputTokens: 10, maxOutputTokens: 10 });
  permit.release({ ok: true });
  limiter.observe(viaRequest);
  const headers: Map<string, string> = readHeaders(viaUrl.headers);
  return headers.size;
}
void mine, _fromLimiter, _call, _inputNotAny, _initNotAny;
