import type { TypeaheadStats } from './typeahead.js';
import type { StreamStats } from './token-stream.js';

/** The limits the page runs with (the test checks the page against the same numbers). */
export const SETTINGS = {
  typeahead: { ratePerSecond: 4, burst: 1 },
  stream: { ratePerSecond: 100, burst: 5, modelTokensPerSecond: 2_000, maxPerFrame: 8 },
} as const;

/**
 * What the page exposes as `window.sluiceExample`: snapshots of its state, for the browser test
 * and for poking at from the devtools console.
 */
export interface ExampleApi {
  typeahead(): {
    readonly stats: TypeaheadStats;
    /** `performance.now()` of each request sent. */
    readonly sentAt: readonly number[];
    readonly firstKeystrokeAt: number | undefined;
    /** A query is waiting for the limiter. */
    readonly pending: boolean;
    /** Searches sent and not answered yet. */
    readonly inFlight: number;
    readonly shownQuery: string | undefined;
    readonly shownMatches: readonly string[];
  };
  stream(): {
    readonly stats: StreamStats | undefined;
    readonly running: boolean;
    /** The text on screen. */
    readonly text: string;
    /** For each click on the ping button: ms from the click to its handler. */
    readonly pingDelaysMs: readonly number[];
    /** How many of those clicks came while the stream was running. */
    readonly pingsWhileStreaming: number;
    /** Longest the main thread was held up while the stream ran, ms (a 16 ms interval's lateness). */
    readonly maxStallMs: number;
  };
}
