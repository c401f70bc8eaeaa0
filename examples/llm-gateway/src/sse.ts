// A small Server-Sent Events reader, used by the gateway (reading the provider's stream) and by
// the load clients (reading the gateway's). It holds only the current incomplete line and the
// event being assembled, and pulls the next chunk only when its consumer asks for the next event,
// so a slow consumer is backpressure on the source.

/** One server-sent event. */
export interface SseEvent {
  /** The `event:` field; `undefined` for a plain message. */
  readonly event: string | undefined;
  /** The `data:` lines, joined with `\n`. */
  readonly data: string;
}

/** Chunks of a Web `ReadableStream`; cancels the stream when the consumer stops early. */
export async function* chunksOf(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  } finally {
    // stopped early (or failed): tell the source nobody is reading any more
    if (!finished) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}

/**
 * The events of an SSE byte stream, in order. Comments (`: heartbeat`) and events without data
 * are skipped; an event left without its closing blank line at the end is still delivered.
 */
export async function* readSse(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let partial = '';
  let event: string | undefined;
  let data: string[] = [];
  const take = (): SseEvent | undefined => {
    const out = data.length === 0 ? undefined : { event, data: data.join('\n') };
    event = undefined;
    data = [];
    return out;
  };
  const line = (text: string): SseEvent | undefined => {
    if (text === '') return take();
    if (text.startsWith(':')) return undefined;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    return undefined;
  };
  for await (const chunk of source) {
    partial += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let newline = partial.search(/\r\n|\r|\n/);
    while (newline >= 0) {
      const width = partial.startsWith('\r\n', newline) ? 2 : 1;
      // a CR at the very end may be the first half of a CRLF: wait for the next chunk
      if (width === 1 && partial[newline] === '\r' && newline === partial.length - 1) break;
      const out = line(partial.slice(0, newline));
      partial = partial.slice(newline + width);
      if (out !== undefined) yield out;
      newline = partial.search(/\r\n|\r|\n/);
    }
  }
  partial += decoder.decode();
  if (partial !== '') {
    const out = line(partial.replace(/\r$/, ''));
    if (out !== undefined) yield out;
  }
  const last = take();
  if (last !== undefined) yield last;
}
