import { BoundedBuffer } from '@sluice/buffer';
import { TokenBucket } from '@sluice/rate-limit';
import { buffer, conflate, fromBuffer, sseStream, throttle, toBuffer } from '@sluice/web-streams';

const gate = new TokenBucket({ ratePerSecond: 1_000, burst: 3 });
const src = new ReadableStream<string>({ pull: (c) => c.close() });
// the pair must fit the runtime's own `pipeThrough` (DOM's or Node's) and keep the chunk type
const r: ReadableStream<string> = src.pipeThrough(throttle(gate));
// and not as `any` (what an unresolvable name becomes under skipLibCheck): `0 extends 1 & T` holds only for `any`
type IsAny<T> = 0 extends 1 & T ? true : false;
type ChunkOf<S> = S extends ReadableStream<infer C> ? C : never;
const inferred = src.pipeThrough(throttle(gate));
const _chunkNotAny: IsAny<ChunkOf<typeof inferred>> = false;
const _writableNotAny: IsAny<ReturnType<typeof throttle<string>>['writable']> = false;
const chained: ReadableStream<number> = r
  .pipeThrough(throttle<string>(gate, { signal: new AbortController().signal, readableStrategy: { highWaterMark: 1 } }))
  .pipeThrough(new TransformStream<string, number>({ transform: (s, c) => c.enqueue(s.length) }))
  .pipeThrough(conflate<number>((a, b) => a + b))
  .pipeThrough(buffer(new BoundedBuffer<number>({ capacity: 4 })));
const items = new BoundedBuffer<string>({ capacity: 4 });
const out: ReadableStream<string> = fromBuffer(items);
const sink: WritableStream<string> = toBuffer(items);
const _piped: Promise<void> = out.pipeTo(sink);
async function* events(): AsyncIterable<{ token: string }> {
  yield { token: 'a' };
}
const body: ReadableStream<Uint8Array> = sseStream(events(), { gate });
const _response: Response = new Response(body, { headers: { 'content-type': 'text/event-stream' } });
void chained, _piped, _response, _chunkNotAny, _writableNotAny;
