import { Agent, request } from 'node:http';

/** One client of the load: who it is (`x-client-id`), how important (`x-priority`), how much it sends. */
export interface ClientProfile {
  readonly id: string;
  readonly priority: 'high' | 'normal' | 'low';
  /** Its share of the requests, in any unit (the shares are normalised). */
  readonly share: number;
  readonly note: string;
}

/** The load's clients: one abusive scraper sends most of it. */
export const CLIENTS: readonly ClientProfile[] = [
  { id: 'scraper', priority: 'normal', share: 60, note: 'abusive' },
  { id: 'web', priority: 'normal', share: 20, note: 'browser front-end' },
  { id: 'mobile', priority: 'normal', share: 10, note: 'mobile app' },
  { id: 'partner', priority: 'high', share: 6, note: 'paying API customer' },
  { id: 'batch', priority: 'low', share: 4, note: 'nightly export' },
];

/** Options of {@link startLoad}. */
export interface LoadOptions {
  /** Port of the service on 127.0.0.1. */
  readonly port: number;
  /** Requests offered per second, on schedule whether or not earlier ones were answered. */
  readonly ratePerSecond: number;
  /** How long requests are offered, ms. The run ends at most `timeoutMs` later. */
  readonly durationMs: number;
  /** A request not answered this long after its scheduled time is abandoned (a timeout), ms. */
  readonly timeoutMs: number;
  /**
   * The keep-alive agent to send through (left open at the end: its owner destroys it). Default:
   * an agent of its own with `maxSockets` sockets, destroyed when the run ends.
   */
  readonly agent?: Agent;
  /** Most sockets open to the service at once, for an agent of its own; default 256. */
  readonly maxSockets?: number;
  /** Default {@link CLIENTS}. */
  readonly clients?: readonly ClientProfile[];
  /** Default `/`. */
  readonly path?: string;
}

/** Outcomes of one client's requests. */
export interface ClientTally {
  offered: number;
  /** 2xx. */
  admitted: number;
  /** 429 with `Retry-After`. */
  refused429: number;
  /** 503 with `Retry-After`. */
  refused503: number;
  /** Anything else: other statuses, refusals without `Retry-After`, timeouts, socket errors. */
  failed: number;
}

/** Counters of a load run, live while it runs. */
export interface LoadCounters {
  /** Requests sent so far. */
  sent: number;
  /** Requests that have ended (answered, timed out or failed). */
  settled: number;
  admitted: number;
  refused429: number;
  refused503: number;
  /** Sum of the `retry-after-ms` hints of the 429s and of the 503s (for their means). */
  retryAfterMsSum429: number;
  retryAfterMsSum503: number;
  /** 429/503 answers without a `Retry-After` header (counted as errors). */
  refusedWithoutRetryAfter: number;
  /** Answers with any other status (5xx from the backend, …). */
  otherStatus: number;
  /** Abandoned after `timeoutMs`. */
  timeouts: number;
  /** Connection errors (reset, refused). */
  socketErrors: number;
  /** Latest any request was sent after its scheduled time, ms (the generator falling behind). */
  maxSendLagMs: number;
}

/** What a load run did. */
export interface LoadResult extends LoadCounters {
  /** `sent` per second of `durationMs` (sending stops then): the offered rate actually achieved. */
  readonly achievedPerSecond: number;
  /** From the first scheduled request to the last one answered, ms. */
  readonly elapsedMs: number;
  /** Latency of the admitted (2xx) requests, scheduled time → response end, ms, ascending. */
  readonly admittedLatencies: readonly number[];
  readonly perClient: Readonly<Record<string, ClientTally>>;
  /**
   * Second by second, by when each request was scheduled: admitted, refused (429/503 with
   * Retry-After) and failed (timeouts, errors) counts, and the admitted requests' p50/p99
   * latency in ms (0 when none was admitted that second).
   */
  readonly timeline: readonly TimelineSecond[];
}

/** One second of {@link LoadResult.timeline}. */
export interface TimelineSecond {
  readonly second: number;
  readonly admitted: number;
  readonly refused: number;
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

/** A load run under way. */
export interface LoadRun {
  /** The counters, updated as responses arrive. */
  readonly counters: Readonly<LoadCounters>;
  /** Resolves when every request sent has ended (answered or abandoned). */
  readonly finished: Promise<LoadResult>;
}

/** A keep-alive agent with a bounded socket pool: at most `maxSockets` connections, the rest of the requests wait for one. */
export function keepAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, maxFreeSockets: maxSockets });
}

/** Smooth weighted round-robin: the clients interleaved in proportion to their shares. */
export function interleave(clients: readonly ClientProfile[]): ClientProfile[] {
  const total = clients.reduce((sum, c) => sum + c.share, 0);
  const current = clients.map(() => 0);
  const order: ClientProfile[] = [];
  for (let n = 0; n < total; n++) {
    let best = 0;
    for (let i = 0; i < clients.length; i++) {
      current[i] = (current[i] as number) + (clients[i] as ClientProfile).share;
      if ((current[i] as number) > (current[best] as number)) best = i;
    }
    current[best] = (current[best] as number) - total;
    order.push(clients[best] as ClientProfile);
  }
  return order;
}

/** The `p`-th percentile (0…1, nearest rank) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] as number;
}

/**
 * An open-loop load generator: request `i` is sent at `start + i / ratePerSecond` whether or not
 * the earlier ones were answered (a closed loop would slow down with the service and hide its
 * collapse), through a keep-alive agent with a bounded socket pool. Latency is measured from
 * the scheduled time, so time spent waiting for a socket counts. Bounded: `ratePerSecond ×
 * durationMs / 1000` requests at most, none sent after `durationMs`, each abandoned `timeoutMs`
 * after its scheduled time; its own agent is destroyed at the end.
 */
export function startLoad(options: LoadOptions): LoadRun {
  const { port, ratePerSecond, durationMs, timeoutMs } = options;
  const path = options.path ?? '/';
  const order = interleave(options.clients ?? CLIENTS);
  const headers = order.map((c) => ({ 'x-client-id': c.id, 'x-priority': c.priority }));
  const ownAgent = options.agent === undefined;
  const agent = options.agent ?? keepAliveAgent(options.maxSockets ?? 256);
  const total = Math.floor((ratePerSecond * durationMs) / 1000);
  const intervalMs = 1000 / ratePerSecond;

  const counters: LoadCounters = {
    sent: 0,
    settled: 0,
    admitted: 0,
    refused429: 0,
    refused503: 0,
    retryAfterMsSum429: 0,
    retryAfterMsSum503: 0,
    refusedWithoutRetryAfter: 0,
    otherStatus: 0,
    timeouts: 0,
    socketErrors: 0,
    maxSendLagMs: 0,
  };
  const perClient: Record<string, ClientTally> = {};
  for (const c of order) perClient[c.id] ??= { offered: 0, admitted: 0, refused429: 0, refused503: 0, failed: 0 };
  const latencies: number[] = [];
  /** Per scheduled second: admitted latencies, refusals, failures. */
  const seconds: { latencies: number[]; refused: number; failed: number }[] = [];
  const secondOf = (scheduledAt: number) =>
    (seconds[Math.max(0, Math.floor((scheduledAt - start) / 1000))] ??= { latencies: [], refused: 0, failed: 0 });
  const start = performance.now();
  let lastSettledAt = start;
  let sendingDone = false;
  let finish: (result: LoadResult) => void = () => {};
  const finished = new Promise<LoadResult>((resolve) => {
    finish = resolve;
  });

  const maybeFinish = () => {
    if (!sendingDone || counters.settled < counters.sent) return;
    if (ownAgent) agent.destroy();
    latencies.sort((a, b) => a - b);
    const timeline = Array.from(seconds, (entry, second) => {
      const sorted = (entry?.latencies ?? []).sort((a, b) => a - b);
      return {
        second,
        admitted: sorted.length,
        refused: entry?.refused ?? 0,
        failed: entry?.failed ?? 0,
        p50Ms: sorted.length === 0 ? 0 : percentile(sorted, 0.5),
        p99Ms: sorted.length === 0 ? 0 : percentile(sorted, 0.99),
      };
    });
    finish({
      ...counters,
      achievedPerSecond: (counters.sent * 1000) / durationMs,
      elapsedMs: lastSettledAt - start,
      admittedLatencies: latencies,
      perClient,
      timeline,
    });
  };

  const send = (index: number, scheduledAt: number) => {
    const profile = order[index % order.length] as ClientProfile;
    const tally = perClient[profile.id] as ClientTally;
    tally.offered++;
    let ended = false;
    const end = () => {
      ended = true;
      clearTimeout(timer);
      counters.settled++;
      lastSettledAt = performance.now();
      maybeFinish();
    };
    const req = request({ host: '127.0.0.1', port, path, agent, headers: headers[index % headers.length] });
    const timer = setTimeout(
      () => {
        if (ended) return;
        counters.timeouts++;
        tally.failed++;
        secondOf(scheduledAt).failed++;
        end();
        req.destroy();
      },
      Math.max(0, scheduledAt + timeoutMs - performance.now()),
    );
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      const hasRetryAfter = res.headers['retry-after'] !== undefined;
      const retryAfterMs = Number(res.headers['retry-after-ms'] ?? 0) || 0;
      res.on('end', () => {
        if (ended) return;
        if (status >= 200 && status < 300) {
          counters.admitted++;
          tally.admitted++;
          const latency = performance.now() - scheduledAt;
          latencies.push(latency);
          secondOf(scheduledAt).latencies.push(latency);
        } else if ((status === 429 || status === 503) && hasRetryAfter) {
          secondOf(scheduledAt).refused++;
          if (status === 429) {
            counters.refused429++;
            counters.retryAfterMsSum429 += retryAfterMs;
            tally.refused429++;
          } else {
            counters.refused503++;
            counters.retryAfterMsSum503 += retryAfterMs;
            tally.refused503++;
          }
        } else {
          if (status === 429 || status === 503) counters.refusedWithoutRetryAfter++;
          else counters.otherStatus++;
          tally.failed++;
          secondOf(scheduledAt).failed++;
        }
        end();
      });
      res.on('error', () => {});
      res.resume();
    });
    req.on('error', () => {
      if (ended) return;
      counters.socketErrors++;
      tally.failed++;
      secondOf(scheduledAt).failed++;
      end();
    });
    req.end();
  };

  const tick = () => {
    const now = performance.now();
    if (now - start >= durationMs) {
      sendingDone = true;
      maybeFinish();
      return;
    }
    const due = Math.min(total, Math.floor((now - start) / intervalMs) + 1);
    while (counters.sent < due) {
      const scheduledAt = start + counters.sent * intervalMs;
      const lag = now - scheduledAt;
      if (lag > counters.maxSendLagMs) counters.maxSendLagMs = lag;
      send(counters.sent++, scheduledAt);
    }
    if (counters.sent >= total) {
      sendingDone = true;
      maybeFinish();
    } else {
      setTimeout(tick, 1);
    }
  };
  tick();
  return { counters, finished };
}
