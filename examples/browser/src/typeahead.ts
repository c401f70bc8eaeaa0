import type { TokenBucket } from '@sluice/rate-limit';
import type { SearchAnswer } from './backend.js';

/** Counters of a {@link Typeahead}: every keystroke is either sent, merged, or still waiting. */
export interface TypeaheadStats {
  /** Queries typed (one per input event). */
  keystrokes: number;
  /** Search requests sent to the backend. */
  sent: number;
  /** Queries replaced by a newer one while they waited for the limiter: never sent. */
  merged: number;
  /** Answers put on screen. */
  answered: number;
  /** Answers that came back after a newer one was already on screen, and were ignored. */
  stale: number;
}

/** What the page is told as requests go out and answers come back. */
export interface TypeaheadEvents {
  sent(seq: number, query: string): void;
  answered(seq: number, answer: SearchAnswer, shown: boolean): void;
}

/**
 * Keystrokes in, at most the limiter's rate of search requests out, and the latest query always
 * answered.
 *
 * The newest query waits in one slot. A single loop takes a permit from the limiter and then
 * sends whatever is in the slot at that moment. Keystrokes that arrive while the loop waits
 * overwrite the slot, so they are merged and never sent. Requests go out only as permits are
 * granted, so the limiter's budget holds for what reaches the backend. Answers can arrive out
 * of order (the latency varies). An answer older than the one on screen is dropped.
 */
export class Typeahead {
  readonly stats: TypeaheadStats = { keystrokes: 0, sent: 0, merged: 0, answered: 0, stale: 0 };
  /** `performance.now()` of each request sent, for checking the budget. */
  readonly sentAt: number[] = [];
  /** `performance.now()` of the first keystroke. */
  firstKeystrokeAt: number | undefined = undefined;
  /** The query whose answer is on screen. */
  shownQuery: string | undefined = undefined;

  private waiting: string | undefined = undefined;
  private draining = false;
  private seq = 0;
  private shownSeq = 0;

  constructor(
    private readonly limiter: TokenBucket,
    private readonly search: (query: string) => Promise<SearchAnswer>,
    private readonly events: TypeaheadEvents,
  ) {}

  /** True while a query waits for the limiter. */
  get pending(): boolean {
    return this.waiting !== undefined;
  }

  /** One keystroke: `query` is the input's whole value after it. */
  type(query: string): void {
    this.stats.keystrokes++;
    this.firstKeystrokeAt ??= performance.now();
    if (this.waiting !== undefined) this.stats.merged++;
    this.waiting = query;
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.waiting !== undefined) {
        // A token bucket's permit is the token itself: there is nothing to hold, so release at
        // once. Take a token that is there without awaiting, so the request goes out in the same
        // turn as its grant and not after whatever else the keystroke's handler does.
        const now = this.limiter.tryAcquire();
        if (now.granted) now.release();
        else (await this.limiter.acquire()).release();
        const query = this.waiting;
        this.waiting = undefined;
        if (query !== undefined) this.send(query);
      }
    } finally {
      this.draining = false;
    }
  }

  private send(query: string): void {
    const seq = ++this.seq;
    this.stats.sent++;
    this.sentAt.push(performance.now());
    this.events.sent(seq, query);
    void this.search(query).then((answer) => {
      const shown = seq > this.shownSeq;
      if (shown) {
        this.shownSeq = seq;
        this.shownQuery = answer.query;
        this.stats.answered++;
      } else {
        this.stats.stale++;
      }
      this.events.answered(seq, answer, shown);
    });
  }
}
