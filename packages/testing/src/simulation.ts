import {
  checkNumber,
  checkOptions,
  optionKeys,
  refusalReasonOf,
  type AcquireOptions,
  type Gate,
  type Permit,
  type TimerHandle,
} from '@sluice/core';
import { createRandom, type Random } from './random.js';
import type { VirtualClock } from './virtual-clock.js';

/** Count, mean, percentiles and maximum of a set of samples (ms). */
export interface Summary {
  /** Number of samples. */
  readonly count: number;
  /** Arithmetic mean. */
  readonly mean: number;
  /** Median (nearest rank). */
  readonly p50: number;
  /** 90th percentile (nearest rank). */
  readonly p90: number;
  /** 99th percentile (nearest rank). */
  readonly p99: number;
  /** Largest sample. */
  readonly max: number;
}

/**
 * Summarises samples with nearest-rank percentiles; all fields are 0 for no samples.
 *
 * @example
 * ```ts
 * summarize([5, 1, 3]); // { count: 3, mean: 3, p50: 3, p90: 5, p99: 5, max: 5 }
 * ```
 */
export function summarize(samples: readonly number[]): Summary {
  const count = samples.length;
  if (count === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = Float64Array.from(samples).sort();
  // the 1e-9 keeps float dust (0.07 × 100 = 7.000000000000001) from rounding a rank up
  const rank = (p: number): number => sorted[Math.min(count - 1, Math.max(0, Math.ceil(p * count - 1e-9) - 1))] as number;
  let sum = 0;
  for (const value of sorted) sum += value;
  return { count, mean: sum / count, p50: rank(0.5), p90: rank(0.9), p99: rank(0.99), max: sorted[count - 1] as number };
}

/** One simulated request as the load generator sees it. */
export interface SimulatedRequest {
  /** Sequence number, from 0. */
  readonly index: number;
  /** Virtual time of arrival, in ms. */
  readonly arrivedAt: number;
}

/** What {@link LoadSimulationOptions.requestOptions} returns for one request. */
export interface SimulatedRequestOptions extends AcquireOptions {
  /** Units the request asks for; default 1. */
  readonly count?: number;
}

/** Options of {@link simulateLoad}. */
export interface LoadSimulationOptions {
  /** The virtual clock everything runs on (the gate must use it too). */
  readonly clock: VirtualClock;
  /** Seed of the arrival and service-time randomness; default 1. */
  readonly seed?: number;
  /** How long requests arrive, in virtual ms. */
  readonly durationMs: number;
  /** Offered load: mean arrivals per second (a Poisson process). */
  readonly arrivalsPerSecond: number;
  /** Backend service time in ms: a constant, or drawn per request. */
  readonly serviceTimeMs: number | ((random: Random) => number);
  /** Requests the backend works on at once; the rest wait in its own FIFO queue. Default 1. */
  readonly servers?: number;
  /** Probability that the backend fails a request (released with `ok: false`). Default 0. */
  readonly failureRate?: number;
  /**
   * Admission in front of the backend. Without it every request goes straight to the backend's
   * queue (the unprotected case).
   */
  readonly gate?: Gate;
  /** `try`: refuse at once when the gate says no; `wait`: `acquire` with `acquireOptions`. Default `try`. */
  readonly admission?: 'try' | 'wait';
  /** Per-request count and acquire options (priority, maxWaitMs). Default count 1, no options. */
  readonly requestOptions?: (request: SimulatedRequest, random: Random) => SimulatedRequestOptions;
  /**
   * A client gives up on a request whose response takes longer than this (ms from arrival); the
   * backend still does the work. Counted in `timedOut`. Default: clients wait forever.
   */
  readonly clientTimeoutMs?: number;
  /** Sample the backend queue depth this often, in virtual ms. Default 1,000. */
  readonly sampleEveryMs?: number;
  /** After arrivals stop, let in-flight work finish for at most this long; default 60,000 ms. */
  readonly drainMs?: number;
}

/** What {@link simulateLoad} measured. */
export interface LoadSimulationResult {
  /** Requests that arrived. */
  readonly offered: number;
  /** Requests the gate admitted (all of them without a gate). */
  readonly admitted: number;
  /** Requests the gate refused or rejected, by refusal reason (`exhausted`, `shed`, `timeout`, …; `error` for anything else). */
  readonly refused: Readonly<Record<string, number>>;
  /** Total of `refused`. */
  readonly refusedTotal: number;
  /** Admitted requests the backend finished (successfully or not) before the simulation ended. */
  readonly completed: number;
  /** Completed requests the backend failed. */
  readonly failed: number;
  /** Completed requests whose response came after the client's timeout. */
  readonly timedOut: number;
  /** Admitted requests still queued or running when the simulation ended. */
  readonly unfinished: number;
  /** Arrival → response, for completed requests, in ms. */
  readonly latency: Summary;
  /** Arrival → admission, for admitted requests, in ms. */
  readonly admissionWait: Summary;
  /** Admission → response, for completed requests, in ms: what the work took once let in (backend queueing included). */
  readonly serviceLatency: Summary;
  /** Largest backend queue (waiting, not running) seen. */
  readonly maxBackendQueue: number;
  /** Backend queue depth at each sample: `[timeMs, depth]`. */
  readonly backendQueueSamples: readonly (readonly [number, number])[];
  /** Virtual time when the simulation ended. */
  readonly endedAt: number;
}

interface BackendJob {
  readonly request: SimulatedRequest;
  readonly permit: Permit | undefined;
  /** When the gate admitted it: the permit's duration runs from here (backend queueing included). */
  readonly admittedAt: number;
}

const LOAD_SIMULATION_KEYS = optionKeys<LoadSimulationOptions>()({
  clock: true,
  seed: true,
  durationMs: true,
  arrivalsPerSecond: true,
  serviceTimeMs: true,
  servers: true,
  failureRate: true,
  gate: true,
  admission: true,
  requestOptions: true,
  clientTimeoutMs: true,
  sampleEveryMs: true,
  drainMs: true,
});

/**
 * Runs a seeded open-loop load test in virtual time: Poisson arrivals at `arrivalsPerSecond` for
 * `durationMs`, optionally admitted by `gate`, served by a backend with `servers` workers and a
 * FIFO queue. Permits are released when the backend finishes, with the outcome (`ok`, and
 * `durationMs` from admission to response, time queued at the backend included), so gates that
 * learn from outcomes see the latency their admissions cause.
 *
 * Same seed, same options: same result.
 *
 * @example
 * ```ts
 * const clock = new VirtualClock();
 * const result = await simulateLoad({
 *   clock, durationMs: 60_000, arrivalsPerSecond: 500, serviceTimeMs: 10, servers: 1,
 *   gate: new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 5, clock }),
 * });
 * result.latency.p99; // bounded, while without the gate it grows with the run
 * ```
 */
export async function simulateLoad(options: LoadSimulationOptions): Promise<LoadSimulationResult> {
  const o = checkOptions('simulateLoad', options, LOAD_SIMULATION_KEYS);
  const clock = options.clock;
  const durationMs = checkNumber('simulateLoad', 'durationMs', o.durationMs, { min: 0 });
  const arrivalsPerSecond = checkNumber('simulateLoad', 'arrivalsPerSecond', o.arrivalsPerSecond, { min: 0, exclusiveMin: true });
  const servers = checkNumber('simulateLoad', 'servers', o.servers ?? 1, { min: 1, integer: true });
  const failureRate = checkNumber('simulateLoad', 'failureRate', o.failureRate ?? 0, { min: 0, max: 1 });
  const sampleEveryMs = checkNumber('simulateLoad', 'sampleEveryMs', o.sampleEveryMs ?? 1_000, { min: 1 });
  const drainMs = checkNumber('simulateLoad', 'drainMs', o.drainMs ?? 60_000, { min: 0 });
  const clientTimeoutMs = checkNumber('simulateLoad', 'clientTimeoutMs', o.clientTimeoutMs ?? Infinity, {
    min: 0,
    allowInfinity: true,
  });
  const random = createRandom(checkNumber('simulateLoad', 'seed', o.seed ?? 1, { integer: true }));
  const serviceTime =
    typeof o.serviceTimeMs === 'function'
      ? o.serviceTimeMs
      : (() => {
          const constant = checkNumber('simulateLoad', 'serviceTimeMs', o.serviceTimeMs, { min: 0 });
          return () => constant;
        })();
  const gate = options.gate;
  const admission = o.admission ?? 'try';

  const start = clock.now();
  const endOfArrivals = start + durationMs;
  const refused: Record<string, number> = {};
  const latencies: number[] = [];
  const serviceLatencies: number[] = [];
  const admissionWaits: number[] = [];
  const samples: [number, number][] = [];
  const backendQueue: BackendJob[] = [];
  let queueHead = 0;
  let offered = 0;
  let admitted = 0;
  let completed = 0;
  let failed = 0;
  let timedOut = 0;
  let busy = 0;
  let maxBackendQueue = 0;
  let arrivalsDone = false;

  const startJob = (job: BackendJob): void => {
    busy++;
    const ms = Math.max(0, serviceTime(random));
    const fails = failureRate > 0 && random.chance(failureRate);
    clock.setTimer(() => {
      busy--;
      completed++;
      const now = clock.now();
      const latency = now - job.request.arrivedAt;
      latencies.push(latency);
      serviceLatencies.push(now - job.admittedAt);
      if (latency > clientTimeoutMs) timedOut++;
      if (fails) failed++;
      // the gate's view: from admission to response, time queued at the backend included
      job.permit?.release({ ok: !fails, durationMs: now - job.admittedAt });
      const next = backendQueue[queueHead];
      if (next !== undefined) {
        backendQueue[queueHead++] = undefined as unknown as BackendJob;
        if (queueHead > 4096 && queueHead * 2 > backendQueue.length) {
          backendQueue.splice(0, queueHead);
          queueHead = 0;
        }
        startJob(next);
      }
    }, ms);
  };

  const submit = (request: SimulatedRequest, permit: Permit | undefined): void => {
    admitted++;
    admissionWaits.push(clock.now() - request.arrivedAt);
    const job: BackendJob = { request, permit, admittedAt: clock.now() };
    if (busy < servers) startJob(job);
    else {
      backendQueue.push(job);
      maxBackendQueue = Math.max(maxBackendQueue, backendQueue.length - queueHead);
    }
  };

  const recordRefusal = (code: string): void => {
    refused[code] = (refused[code] ?? 0) + 1;
  };

  const arrive = (): void => {
    const request: SimulatedRequest = { index: offered++, arrivedAt: clock.now() };
    const requestOptions = o.requestOptions?.(request, random);
    const count = requestOptions?.count ?? 1;
    if (gate === undefined) {
      submit(request, undefined);
    } else if (admission === 'try') {
      const result = gate.tryAcquire(count, requestOptions);
      if (result.granted) submit(request, result);
      else recordRefusal(result.reason);
    } else {
      gate.acquire(count, requestOptions).then(
        (permit) => submit(request, permit),
        (error: unknown) => recordRefusal(refusalReasonOf(error) ?? 'error'),
      );
    }
  };

  const scheduleArrival = (): void => {
    const gap = random.exponential(1000 / arrivalsPerSecond);
    if (clock.now() + gap >= endOfArrivals) {
      arrivalsDone = true;
      return;
    }
    clock.setTimer(() => {
      arrive();
      scheduleArrival();
    }, gap);
  };

  let sampling: TimerHandle | undefined;
  const sample = (): void => {
    sampling = undefined;
    samples.push([clock.now() - start, backendQueue.length - queueHead]);
    if (!arrivalsDone || busy > 0) sampling = clock.setTimer(sample, sampleEveryMs);
  };

  scheduleArrival();
  sampling = clock.setTimer(sample, sampleEveryMs);
  await clock.advance(durationMs);
  const deadline = clock.now() + drainMs;
  while ((busy > 0 || backendQueue.length > queueHead) && clock.now() < deadline) {
    const next = clock.nextTimerAt;
    if (next === undefined) break;
    await clock.advance(Math.min(deadline, next) - clock.now());
  }
  // the sampler outlives the run by at most one period: stop it, so the run leaves no timer of its own
  if (sampling !== undefined) clock.clearTimer(sampling);
  const unfinished = busy + (backendQueue.length - queueHead);
  const refusedTotal = Object.values(refused).reduce((a, b) => a + b, 0);
  return {
    offered,
    admitted,
    refused,
    refusedTotal,
    completed,
    failed,
    timedOut,
    unfinished,
    latency: summarize(latencies),
    admissionWait: summarize(admissionWaits),
    serviceLatency: summarize(serviceLatencies),
    maxBackendQueue,
    backendQueueSamples: samples,
    endedAt: clock.now(),
  };
}
