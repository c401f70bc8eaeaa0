// The toy tokenizer the mock provider bills with and the gateway estimates with. In a real
// deployment this is the model's tokenizer (e.g. js-tiktoken): the gateway plugs it into
// `wrapFetch({ estimateTokens })` so its reservations match what the provider will charge.

/** One chat message, as the OpenAI chat completions API takes it. */
export interface ChatMessage {
  readonly role: string;
  readonly content: string;
}

/** Tokens a message costs beyond its content (role and separators), as OpenAI's chat format does. */
export const MESSAGE_OVERHEAD_TOKENS = 3;
/** Tokens every reply is primed with. */
export const REPLY_PRIMING_TOKENS = 3;

/** Tokens of a piece of text: one per four characters, rounded up. */
export function countTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Prompt tokens of a conversation: content, plus the per-message overhead, plus the reply priming. */
export function promptTokens(messages: readonly ChatMessage[]): number {
  let total = REPLY_PRIMING_TOKENS;
  for (const message of messages) total += MESSAGE_OVERHEAD_TOKENS + countTokens(message.content);
  return total;
}

/** True when `value` is a non-empty array of `{ role: string, content: string }`. */
export function isChatMessages(value: unknown): value is ChatMessage[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (m) =>
        typeof m === 'object' &&
        m !== null &&
        typeof (m as ChatMessage).role === 'string' &&
        typeof (m as ChatMessage).content === 'string',
    )
  );
}

/** A small seeded PRNG (mulberry32): same seed, same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = (
  'the a of to and in flow gate queue token limit quota bucket stream model reply wait permit ' +
  'burst refill minute request client server river sluice water level pressure budget slow fast ' +
  'steady provider gateway ahead behind under over again still more less fair first last'
).split(' ');

/** A random word with a leading space: one token of the mock model's output. */
export function randomWordToken(random: () => number): string {
  return ` ${WORDS[Math.floor(random() * WORDS.length)] as string}`;
}

/** Text of about `tokens` tokens (by {@link countTokens}), for prompts. */
export function textOfTokens(tokens: number, random: () => number): string {
  const target = Math.max(1, tokens) * 4;
  let text = '';
  while (text.length < target) text += randomWordToken(random);
  return text.slice(0, target);
}
