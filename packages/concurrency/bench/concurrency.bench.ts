/**
 * 100,000 tasks `async () => 1` at concurrency 16, all submitted at once and then awaited, for
 * sluice's ConcurrencyLimiter and the peers (p-limit, p-queue, async-sema, cockatiel's bulkhead,
 * bottleneck) against a minimal semaphore; plus 20,000 waiters sharing one AbortSignal, a
 * `maxWaitMs` on every waiter, and fairness across keys; and the heap each queued task holds.
 *
 * Targets: ≤ 1.0× the minimal semaphore with the full feature set; ≤ 300 B retained per queued
 * task; one listener per shared signal (flat cost per task); `maxWaitMs` on every waiter ≤ 1.1×
 * the plain case and ≤ 350 B per waiter.
 */
import { ConcurrencyLimiter } from '@sluice/concurrency';
import { requireGc, suite } from '../../../bench/harness.ts';
import { Bottleneck, PQueue, Sema, cockatielBulkhead, henrygdSemaphore, pLimit } from '../../../bench/peers.ts';

const N = 100_000;
const SHARED = 20_000;
const CONCURRENCY = 16;
const task = async (): Promise<number> => 1;

/**
 * The floor: the least a limiter of concurrency can do — a count, a FIFO of resolvers on a
 * growable ring, and acquire/release around the task.
 */
class MinimalSemaphore {
  private inFlight = 0;
  private waiters: ((value?: unknown) => void)[] = [];
  private head = 0;
  constructor(private readonly max: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inFlight < this.max) this.inFlight++;
    else await new Promise((resolve) => this.waiters.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiters[this.head];
      if (next !== undefined) {
        this.waiters[this.head++] = undefined as unknown as () => void;
        if (this.head > 1024 && this.head * 2 > this.waiters.length) {
          this.waiters = this.waiters.slice(this.head);
          this.head = 0;
        }
        next();
      } else {
        this.inFlight--;
      }
    }
  }
}

/** The floor of an acquire/release semaphore: a count and a FIFO of resolvers. */
class MinimalAcquireSemaphore {
  private free: number;
  private readonly waiters: (() => void)[] = [];
  private head = 0;
  constructor(max: number) {
    this.free = max;
  }
  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }
  release(): void {
    const next = this.waiters[this.head];
    if (next === undefined) {
      this.free++;
      return;
    }
    this.waiters[this.head++] = undefined as unknown as () => void;
    if (this.head === this.waiters.length) {
      this.waiters.length = 0;
      this.head = 0;
    }
    next();
  }
}

const QUEUED = 1_000;

/** Heap bytes per queued task: submit `n` tasks, measure after a full GC, then let them finish. */
async function retainedPerTask(submit: (n: number) => Promise<unknown>[], n = N): Promise<number> {
  const gc = requireGc();
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const pending = submit(n);
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  await Promise.all(pending);
  return (after - before) / n;
}

suite('concurrency', (s) => {
  s.group(
    '100,000 tasks at concurrency 16',
    {
      note:
        'One run = 100,000 `async () => 1` tasks submitted in one loop, then `await Promise.all(...)`; ns/op = run / 100,000. ' +
        'The floor is a ~25-line semaphore (count + FIFO of resolvers). sluice: `ConcurrencyLimiter.run` (queueLimit 100,000, ' +
        'priorities, aging, abort and deadline support all present). Bottleneck runs 1,000 tasks (it schedules with timers, ' +
        '~3 ms per task) and its row is per task too. "retained per queued task" = heap after submitting N (full GC) − before, / N.',
      added: false,
      columns: [{ key: 'retained', label: 'retained per queued task', format: 'bytes-per-item' }],
    },
    (g) => {
      let floor = new MinimalSemaphore(CONCURRENCY);
      g.macro(
        'minimal semaphore',
        {
          ops: N,
          before: () => {
            floor = new MinimalSemaphore(CONCURRENCY);
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(floor.run(task));
            return Promise.all(all);
          },
        },
        {
          floor: true,
          metrics: async () => {
            const sem = new MinimalSemaphore(CONCURRENCY);
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => sem.run(task))) };
          },
        },
      );
      let limiter = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
      g.macro(
        'sluice ConcurrencyLimiter.run',
        {
          ops: N,
          before: () => {
            limiter = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(limiter.run(task));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh.run(task))) };
          },
        },
      );
      let limit = pLimit(CONCURRENCY);
      g.macro(
        'p-limit',
        {
          ops: N,
          before: () => {
            limit = pLimit(CONCURRENCY);
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(limit(task));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = pLimit(CONCURRENCY);
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh(task))) };
          },
        },
      );
      let queue = new PQueue({ concurrency: CONCURRENCY });
      g.macro(
        'p-queue',
        {
          ops: N,
          before: () => {
            queue = new PQueue({ concurrency: CONCURRENCY });
          },
          run: () => {
            const all: Promise<unknown>[] = [];
            for (let i = 0; i < N; i++) all.push(queue.add(task));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = new PQueue({ concurrency: CONCURRENCY });
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh.add(task))) };
          },
        },
      );
      let sema = new Sema(CONCURRENCY);
      const viaSema = async (semaphore: InstanceType<typeof Sema>): Promise<number> => {
        await semaphore.acquire();
        try {
          return await task();
        } finally {
          semaphore.release();
        }
      };
      g.macro(
        'async-sema (acquire/try/finally release)',
        {
          ops: N,
          before: () => {
            sema = new Sema(CONCURRENCY);
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(viaSema(sema));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = new Sema(CONCURRENCY);
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => viaSema(fresh))) };
          },
        },
      );
      let bulkhead = cockatielBulkhead(CONCURRENCY, N);
      g.macro(
        'cockatiel bulkhead(16, queue N)',
        {
          ops: N,
          before: () => {
            bulkhead = cockatielBulkhead(CONCURRENCY, N);
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(bulkhead.execute(task));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = cockatielBulkhead(CONCURRENCY, N);
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh.execute(task))) };
          },
        },
      );
      const BOTTLENECK_N = 1_000;
      let bottleneck = new Bottleneck({ maxConcurrent: CONCURRENCY, minTime: 0 });
      g.macro('bottleneck (maxConcurrent 16, minTime 0) [N = 1,000]', {
        ops: BOTTLENECK_N,
        before: async () => {
          await bottleneck.stop().catch(() => {});
          bottleneck = new Bottleneck({ maxConcurrent: CONCURRENCY, minTime: 0 });
        },
        run: () => {
          const all: Promise<number>[] = [];
          for (let i = 0; i < BOTTLENECK_N; i++) all.push(bottleneck.schedule(task));
          return Promise.all(all);
        },
      });
      g.teardown(async () => {
        await bottleneck.stop().catch(() => {});
      });
    },
  );

  s.group(
    'binary semaphore, 1,000 queued acquires',
    {
      note:
        'One run = 1,000 `acquire()` calls on a semaphore of 1 made in one loop (one granted, 999 queued), each releasing ' +
        'as soon as it is granted; ns/op = run / 1,000. The floor is a count and a FIFO of resolvers. sluice: ' +
        '`ConcurrencyLimiter({ maxConcurrent: 1 })`, `acquire()` then `permit.release()`. Peers: `@henrygd/semaphore` ' +
        '(`getSemaphore(key, 1)`), async-sema (`new Sema(1)`).',
    },
    (g) => {
      let floor = new MinimalAcquireSemaphore(1);
      g.macro(
        'minimal acquire/release semaphore',
        {
          ops: QUEUED,
          before: () => {
            floor = new MinimalAcquireSemaphore(1);
          },
          run: () => {
            const all: Promise<void>[] = [];
            const sem = floor;
            for (let i = 0; i < QUEUED; i++) all.push(sem.acquire().then(() => sem.release()));
            return Promise.all(all);
          },
        },
        { floor: true },
      );
      let limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: QUEUED });
      g.macro('sluice ConcurrencyLimiter acquire() + release()', {
        ops: QUEUED,
        before: () => {
          limiter = new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: QUEUED });
        },
        run: () => {
          const all: Promise<void>[] = [];
          const gate = limiter;
          for (let i = 0; i < QUEUED; i++) all.push(gate.acquire().then((permit) => permit.release()));
          return Promise.all(all);
        },
      });
      let round = 0;
      g.macro('@henrygd/semaphore acquire() + release()', {
        ops: QUEUED,
        run: () => {
          const all: Promise<void>[] = [];
          const sem = henrygdSemaphore(`bench-${round++}`, 1);
          for (let i = 0; i < QUEUED; i++) all.push(sem.acquire().then(() => sem.release()));
          return Promise.all(all);
        },
      });
      let sema = new Sema(1);
      g.macro('async-sema acquire() + release()', {
        ops: QUEUED,
        before: () => {
          sema = new Sema(1);
        },
        run: () => {
          const all: Promise<void>[] = [];
          const sem = sema;
          for (let i = 0; i < QUEUED; i++) all.push(sem.acquire().then(() => sem.release()));
          return Promise.all(all);
        },
      });
    },
  );

  s.group(
    '20,000 waiters sharing one AbortSignal',
    {
      note:
        'One run = 20,000 tasks at concurrency 16, every one given the same (never aborted) AbortSignal. sluice registers ' +
        'one abort listener per distinct signal; p-queue adds one per task, and Node walks the listener list on every add.',
    },
    (g) => {
      let limiter = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: SHARED });
      let controller = new AbortController();
      g.macro(
        'sluice run(fn, { signal })',
        {
          ops: SHARED,
          before: () => {
            limiter = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: SHARED });
            controller = new AbortController();
          },
          run: () => {
            const all: Promise<number>[] = [];
            const signal = controller.signal;
            for (let i = 0; i < SHARED; i++) all.push(limiter.run(task, { signal }));
            return Promise.all(all);
          },
        },
        { floor: true },
      );
      let queue = new PQueue({ concurrency: CONCURRENCY });
      let pqController = new AbortController();
      g.macro('p-queue add(fn, { signal })', {
        ops: SHARED,
        before: () => {
          queue = new PQueue({ concurrency: CONCURRENCY });
          pqController = new AbortController();
        },
        run: () => {
          const all: Promise<unknown>[] = [];
          const signal = pqController.signal;
          for (let i = 0; i < SHARED; i++) all.push(queue.add(task, { signal }));
          return Promise.all(all);
        },
      });
    },
  );

  s.group(
    'maxWaitMs on every waiter',
    {
      note:
        'One run = 100,000 tasks at concurrency 16 as above, with and without `{ maxWaitMs: 60_000 }` on every call (never ' +
        'reached). sluice serves every deadline with one limiter-owned timer over a deadline heap, not a runtime timer per ' +
        'waiter (≈ 250 B each). Retained = heap per queued task.',
      columns: [{ key: 'retained', label: 'retained per queued task', format: 'bytes-per-item' }],
    },
    (g) => {
      let plain = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
      g.macro(
        'sluice run(fn)',
        {
          ops: N,
          before: () => {
            plain = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(plain.run(task));
            return Promise.all(all);
          },
        },
        {
          floor: true,
          metrics: async () => {
            const fresh = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh.run(task))) };
          },
        },
      );
      let deadline = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
      const options = { maxWaitMs: 60_000 };
      g.macro(
        'sluice run(fn, { maxWaitMs })',
        {
          ops: N,
          before: () => {
            deadline = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
          },
          run: () => {
            const all: Promise<number>[] = [];
            for (let i = 0; i < N; i++) all.push(deadline.run(task, options));
            return Promise.all(all);
          },
        },
        {
          metrics: async () => {
            const fresh = new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N });
            return { retained: await retainedPerTask((n) => Array.from({ length: n }, () => fresh.run(task, options))) };
          },
        },
      );
    },
  );

  s.group(
    'fairness across keys',
    {
      note:
        'One run = 100,000 tasks at concurrency 16 as above: without `fairness` (the floor), with `fairness: {}` and no keys ' +
        '(every waiter shares one key), and with `fairness: {}` and `{ key }` cycling over 1,000 tenants, so every grant ' +
        'passes the turn to the next key. Retained = heap per queued task. This group runs last: it is the first to make ' +
        'keyed waiters, so the groups before it measure a process that has only seen the plain queue.',
      columns: [{ key: 'retained', label: 'retained per queued task', format: 'bytes-per-item' }],
    },
    (g) => {
      const TENANTS = 1_000;
      const keyed = Array.from({ length: TENANTS }, (_, i) => ({ key: `tenant-${i}` }));
      const cases: [string, () => ConcurrencyLimiter, (i: number) => { key: string } | undefined][] = [
        ['sluice run(fn), no fairness', () => new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N }), () => undefined],
        ['fairness, no keys', () => new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N, fairness: {} }), () => undefined],
        [
          'fairness, 1,000 keys round-robin',
          () => new ConcurrencyLimiter({ maxConcurrent: CONCURRENCY, queueLimit: N, fairness: {} }),
          (i) => keyed[i % TENANTS],
        ],
      ];
      cases.forEach(([label, make, optionsFor], index) => {
        let limiter = make();
        g.macro(
          label,
          {
            ops: N,
            before: () => {
              limiter = make();
            },
            run: () => {
              const all: Promise<number>[] = [];
              for (let i = 0; i < N; i++) all.push(limiter.run(task, optionsFor(i)));
              return Promise.all(all);
            },
          },
          {
            floor: index === 0,
            metrics: async () => {
              const fresh = make();
              return { retained: await retainedPerTask((n) => Array.from({ length: n }, (_, i) => fresh.run(task, optionsFor(i)))) };
            },
          },
        );
      });
    },
  );
});
