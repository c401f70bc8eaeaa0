import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { keepAliveAgent, startLoad, type ClientProfile, type LoadCounters, type LoadResult } from './load.js';
import type { FromService, ToService } from './server-process.js';
import type { Mode, ServiceOptions, ServiceStats } from './service.js';

/** Options of {@link runMode}. */
export interface RunModeOptions {
  readonly mode: Mode;
  /** Offered load, requests/s; default 5,000. */
  readonly ratePerSecond?: number;
  /** Measured run, seconds; default 10. */
  readonly seconds?: number;
  /** Warm-up at the same rate on `/warmup` (no backend, no gates) before it, seconds; default 1. */
  readonly warmupSeconds?: number;
  /** Client-side timeout from each request's scheduled time, ms; default 2,000. */
  readonly timeoutMs?: number;
  /** Socket pool of the load generator; default 256. */
  readonly maxSockets?: number;
  /** Backend workers; default 4. */
  readonly workers?: number;
  /** Backend service time, ms; default 40. */
  readonly serviceMs?: number;
  readonly clients?: readonly ClientProfile[];
  /** Extra environment of the service process. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called about once a second while the run is measured. */
  readonly onProgress?: (progress: Progress) => void;
}

/** A progress report. */
export interface Progress {
  readonly mode: Mode;
  readonly elapsedMs: number;
  readonly seconds: number;
  readonly load: Readonly<LoadCounters>;
  /** The service's latest sample. */
  readonly service: ServiceStats | undefined;
}

/** The service's RSS over the measured run, bytes. */
export interface RssSummary {
  /** When the measured run starts (after the warm-up). */
  readonly start: number;
  /** The largest sample (every 250 ms). */
  readonly peak: number;
  /** When every request has ended. */
  readonly end: number;
}

/**
 * The longest either process's event loop was held up during the run, ms: a figure of the
 * machine (a busy or descheduled process), not of the service's design; a latency tail next to
 * a large stall is the machine's.
 */
export interface Stalls {
  /** The load generator (this process). */
  readonly generatorMs: number;
  /** The service process. */
  readonly serviceMs: number;
}

/** What one mode did. */
export interface ModeReport {
  readonly mode: Mode;
  readonly ratePerSecond: number;
  readonly seconds: number;
  readonly workers: number;
  readonly serviceMs: number;
  readonly timeoutMs: number;
  readonly load: LoadResult;
  readonly rss: RssSummary;
  readonly stalls: Stalls;
  /** The service at the end of the run. */
  readonly service: ServiceStats;
  /** The whole mode, service start to exit, ms. */
  readonly wallMs: number;
}

const SAMPLE_EVERY_MS = 250;

/** The service in its own process, driven over IPC. */
class ServiceProcess {
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (stats: ServiceStats) => void; reject: (error: Error) => void }>();
  private readonly exited: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.on('message', (message: FromService) => {
      if (message.type !== 'sample') return;
      this.waiting.get(message.id)?.resolve(message.stats);
      this.waiting.delete(message.id);
    });
    child.once('exit', () => {
      for (const { reject } of this.waiting.values()) reject(new Error('the service process exited'));
      this.waiting.clear();
    });
  }

  /** Forks `server-process.ts` under tsx and waits for it to listen. */
  static async start(options: ServiceOptions, env: Readonly<Record<string, string>> | undefined): Promise<ServiceProcess> {
    const entry = fileURLToPath(new URL('./server-process.ts', import.meta.url));
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const child = fork(entry, [JSON.stringify(options)], {
      execArgv: ['--import', tsx],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error('the service process did not start within 30 s'));
      }, 30_000);
      child.on('message', (message: FromService) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve(message.port);
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the service process exited (code ${code}) before listening`));
      });
    });
    return new ServiceProcess(child, port);
  }

  sample(): Promise<ServiceStats> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.send({ type: 'sample', id });
    });
  }

  /** Asks the service to close and waits for the process to exit (killing it after 5 s). */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.send({ type: 'close' });
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(timer);
    }
  }

  private send(message: ToService): void {
    if (this.child.connected) this.child.send(message);
  }
}

/**
 * One mode of the demo: starts the service (its own process, port 0 on 127.0.0.1), warms up,
 * offers `ratePerSecond` for `seconds` (open loop), samples the service's RSS every 250 ms,
 * waits for every request to end (answered or timed out), and stops the service. Bounded in
 * requests (rate × seconds, plus the warm-up) and in time (warm-up + seconds + timeout, plus
 * process start and stop).
 */
export async function runMode(options: RunModeOptions): Promise<ModeReport> {
  const began = performance.now();
  const ratePerSecond = options.ratePerSecond ?? 5_000;
  const seconds = options.seconds ?? 10;
  const timeoutMs = options.timeoutMs ?? 2_000;
  const maxSockets = options.maxSockets ?? 256;
  const workers = options.workers ?? 10;
  const serviceMs = options.serviceMs ?? 100;
  const service = await ServiceProcess.start({ mode: options.mode, workers, serviceMs }, options.env);
  // one agent for the warm-up and the run: the run starts on warm connections
  const agent = keepAliveAgent(maxSockets);
  const load = { ratePerSecond, timeoutMs, agent, ...(options.clients === undefined ? {} : { clients: options.clients }) };
  let report: Omit<ModeReport, 'wallMs'>;
  try {
    const warmupSeconds = options.warmupSeconds ?? 1;
    if (warmupSeconds > 0) {
      await startLoad({ ...load, port: service.port, durationMs: warmupSeconds * 1000, path: '/warmup' }).finished;
    }

    const first = await service.sample(); // also resets the service's loop-delay maximum
    let latest = first;
    let peak = first.rss;
    let serviceStallMs = 0;
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const run = startLoad({ ...load, port: service.port, durationMs: seconds * 1000 });
    const measuredFrom = performance.now();
    let ticks = 0;
    let sampling = false;
    const sampler = setInterval(() => {
      if (!sampling) {
        sampling = true;
        service.sample().then(
          (stats) => {
            sampling = false;
            latest = stats;
            peak = Math.max(peak, stats.rss);
            serviceStallMs = Math.max(serviceStallMs, stats.loopDelayMaxMs);
          },
          () => {
            sampling = false;
          },
        );
      }
      if (++ticks % (1000 / SAMPLE_EVERY_MS) === 0) {
        options.onProgress?.({
          mode: options.mode,
          elapsedMs: performance.now() - measuredFrom,
          seconds,
          load: run.counters,
          service: latest,
        });
      }
    }, SAMPLE_EVERY_MS);
    let result: LoadResult;
    try {
      result = await run.finished;
    } finally {
      clearInterval(sampler);
      loopDelay.disable();
    }
    const last = await service.sample();
    peak = Math.max(peak, last.rss);
    serviceStallMs = Math.max(serviceStallMs, last.loopDelayMaxMs);
    report = {
      mode: options.mode,
      ratePerSecond,
      seconds,
      workers,
      serviceMs,
      timeoutMs,
      load: result,
      rss: { start: first.rss, peak, end: last.rss },
      stalls: { generatorMs: loopDelay.max / 1e6, serviceMs: serviceStallMs },
      service: last,
    };
  } finally {
    agent.destroy();
    await service.stop();
  }
  return { ...report, wallMs: performance.now() - began };
}
