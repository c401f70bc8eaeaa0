import { hashSlot, type RedisStore } from './store.js';

/** One request waiting for its batch. */
interface Pending<R> {
  readonly key: string;
  readonly cost: number;
  readonly accept: number;
  resolve(value: R): void;
  reject(error: unknown): void;
}

/** Sends one batch: the requests (each with its key's index into `keys`, from 1) in one call. */
export type BatchRunner<R> = (
  keys: readonly string[],
  requests: readonly { readonly index: number; readonly cost: number; readonly accept: number }[],
) => Promise<readonly R[]>;

/** Most requests one coalesced call carries. */
const MAX_BATCH = 256;

/**
 * Coalesces the decisions a process asks for within one turn of the event loop into one script
 * call per cluster slot (per call on a standalone server): 50 concurrent callers cost one round
 * trip, not 50, and the script decides them in arrival order exactly as 50 calls would. A lone
 * request still goes alone (`single`).
 */
export class Coalescer<R> {
  private pending: Pending<R>[] = [];
  private scheduled = false;

  constructor(
    private readonly store: RedisStore,
    private readonly single: (key: string, cost: number, accept: number) => Promise<R>,
    private readonly many: BatchRunner<R>,
  ) {}

  /** Queues one request (`key` is the full Redis key) for the next flush. */
  take(key: string, cost: number, accept: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ key, cost, accept, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = [];
    if (pending.length === 1) {
      const only = pending[0] as Pending<R>;
      this.single(only.key, only.cost, only.accept).then(only.resolve, only.reject);
      return;
    }
    const groups = new Map<number, Pending<R>[]>();
    for (const request of pending) {
      const group = this.store.cluster ? hashSlot(request.key) : 0;
      let list = groups.get(group);
      if (list === undefined) groups.set(group, (list = []));
      list.push(request);
    }
    for (const list of groups.values()) {
      for (let start = 0; start < list.length; start += MAX_BATCH) this.send(list.slice(start, start + MAX_BATCH));
    }
  }

  private send(batch: Pending<R>[]): void {
    if (batch.length === 1) {
      const only = batch[0] as Pending<R>;
      this.single(only.key, only.cost, only.accept).then(only.resolve, only.reject);
      return;
    }
    const keys: string[] = [];
    const index = new Map<string, number>();
    const requests = batch.map((request) => {
      let at = index.get(request.key);
      if (at === undefined) {
        keys.push(request.key);
        at = keys.length;
        index.set(request.key, at);
      }
      return { index: at, cost: request.cost, accept: request.accept };
    });
    this.many(keys, requests).then(
      (results) => {
        for (let i = 0; i < batch.length; i++) (batch[i] as (typeof batch)[number]).resolve(results[i] as R);
      },
      (error: unknown) => {
        for (const request of batch) request.reject(error);
      },
    );
  }
}
