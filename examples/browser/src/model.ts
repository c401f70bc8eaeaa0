/**
 * The stand-in for a language model: it writes a fixed text as ~4-character tokens, 2,000 a
 * second when it is left to run, which is far faster than anyone can read.
 */

export const STORY = `A sluice is a gate in a channel. The miller opens it a little, and the wheel turns at the pace the stones can grind; opens it all the way in a flood, and the wheel breaks. Software has the same problem with a friendlier name: backpressure. A model can write two thousand tokens a second, yet a reader takes in a few words, and the screen shows one frame every sixteen milliseconds. Anything produced beyond that has to wait somewhere. Here it waits at the source: the stream asks the model for its next token only when the screen has taken the last one, so the model is never more than a handful of tokens ahead, memory stays flat, and the page answers every click while the text flows. Close the gate and the model stops; open it and the model goes on where it left off.`;

/** Splits text into model-like tokens: leading whitespace plus up to four other characters. */
export function tokenize(text: string): string[] {
  return text.match(/\s*\S{1,4}/g) ?? [];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Yields `tokens` no faster than `tokensPerSecond`, calling `onToken` as each one is produced.
 * An async generator only runs when it is asked for the next value. How often it is asked is up
 * to whoever consumes it.
 */
export async function* fakeModel(
  tokens: readonly string[],
  { tokensPerSecond = 2_000, onToken }: { tokensPerSecond?: number; onToken?: (index: number) => void } = {},
): AsyncGenerator<string> {
  const started = performance.now();
  for (let i = 0; i < tokens.length; i++) {
    const wait = started + (i * 1_000) / tokensPerSecond - performance.now();
    if (wait >= 1) await sleep(wait);
    onToken?.(i);
    yield tokens[i] as string;
  }
}
