// A `fetch` over `node:http` with an agent of our own: the gateway owns (and at shutdown
// destroys) its upstream connections, and bounds how many it opens. It has the standard fetch
// signature, so `wrapFetch` from @sluice/llm wraps it like the global one.

import http from 'node:http';
import { Readable } from 'node:stream';
import type { FetchFunction } from '@sluice/llm';

/**
 * A `fetch` for plain-`http:` URLs through `agent`. Supports what the gateway sends: a method,
 * headers, a string (or bytes) body and an abort signal, which also cuts off a response body
 * being read. The response body is the socket's data as a Web stream, read only as fast as the
 * caller reads it (one chunk queued at most), so a slow reader is backpressure on the socket.
 */
export function httpFetch(agent: http.Agent): FetchFunction {
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
      if (url.protocol !== 'http:') {
        reject(new TypeError(`httpFetch: only http: URLs, got ${url.protocol}`));
        return;
      }
      const signal = init?.signal ?? undefined;
      if (signal?.aborted === true) {
        reject(signal.reason);
        return;
      }
      const body = init?.body;
      if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
        reject(new TypeError('httpFetch: only string or byte bodies'));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((value, name) => {
        headers[name] = value;
      });
      const request = http.request(url, { method: init?.method ?? 'GET', headers, agent });
      const onAbort = (): void => {
        request.destroy(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      request.on('error', (error) => {
        signal?.removeEventListener('abort', onAbort);
        reject(error); // after the response started, the body stream carries the error instead
      });
      request.on('response', (response) => {
        response.on('close', () => signal?.removeEventListener('abort', onAbort));
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
          else if (value !== undefined) responseHeaders.set(name, value);
        }
        const status = response.statusCode ?? 502;
        const empty = status === 204 || status === 304 || init?.method === 'HEAD';
        if (empty) response.resume();
        const stream = empty
          ? null
          : (Readable.toWeb(response, { strategy: { highWaterMark: 1 } }) as unknown as ReadableStream<Uint8Array>);
        resolve(new Response(stream, { status, statusText: response.statusMessage ?? '', headers: responseHeaders }));
      });
      request.end(body ?? undefined);
    });
}
