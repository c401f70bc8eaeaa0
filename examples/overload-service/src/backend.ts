/** Options of {@link Backend}. */
export interface BackendOptions {
  /** Requests it works on at once (its workers, connections, threads). */
  readonly workers: number;
  /** Time one request takes on a worker, ms: the backend's own service time. */
  readonly serviceMs: number;
}

/** A snapshot of the backend. */
export interface BackendStats {
  /** Requests waiting for a worker. */
  readonly queued: number;
  /** Workers busy now. */
  readonly busy: number;
  /** Longest the queue has been. */
  readonly maxQueued: number;
  /** Requests it has finished (successfully or not). */
  readonly completed: number;
  /** Requests it has failed (while `failing`). */
  readonly failed: number;
}

/** Raised by {@link Backend.call} while the backend is failing. */
export class BackendError extends Error {
  constructor() {
    super('backend failed');
    this.name = 'BackendError';
  }
}

interface Job {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/**
 * The simulated backend: `workers` requests at a time, each taking `serviceMs` (a timer: the
 * backend is another machine, the service spends no CPU on it), and in front of them a FIFO
 * queue with **no bound** — what a plain `await backend.call()` in a request handler amounts to.
 * 10 workers × 100 ms serve 100 requests/s. With `failing` set, each call fails after its service
 * time (for the circuit breaker).
 */
export class Backend {
  readonly workers: number;
  readonly serviceMs: number;
  /** Calls fail (after their service time) while this is true. */
  failing = false;
  private readonly queue: (Job | undefined)[] = [];
  private head = 0;
  private busyCount = 0;
  private maxQueuedCount = 0;
  private completedCount = 0;
  private failedCount = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  constructor(options: BackendOptions) {
    this.workers = options.workers;
    this.serviceMs = options.serviceMs;
  }

  /** Requests per second it can serve: `workers × 1000 / serviceMs`. */
  get capacityPerSecond(): number {
    return (this.workers * 1000) / this.serviceMs;
  }

  /** Does one request: waits for a worker (as long as it takes), then `serviceMs` on it. */
  call(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('backend closed'));
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ resolve, reject });
      const queued = this.queue.length - this.head;
      if (queued > this.maxQueuedCount) this.maxQueuedCount = queued;
      this.startNext();
    });
  }

  stats(): BackendStats {
    return {
      queued: this.queue.length - this.head,
      busy: this.busyCount,
      maxQueued: this.maxQueuedCount,
      completed: this.completedCount,
      failed: this.failedCount,
    };
  }

  /** Stops the workers and drops the queue (its callers never hear back). */
  close(): void {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    this.head = 0;
  }

  private startNext(): void {
    while (this.busyCount < this.workers && this.head < this.queue.length) {
      const job = this.queue[this.head] as Job;
      this.queue[this.head++] = undefined;
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      this.busyCount++;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.busyCount--;
        this.completedCount++;
        if (this.failing) {
          this.failedCount++;
          job.reject(new BackendError());
        } else {
          job.resolve();
        }
        this.startNext();
      }, this.serviceMs);
      this.timers.add(timer);
    }
  }
}
