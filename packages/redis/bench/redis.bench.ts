/**
 * Redis-backed rate limiting on a loopback `redis-server` (started here, once for the group, no
 * persistence): sluice's `RedisRateLimiter.gcra(...).take(key)` against rate-limiter-flexible's
 * `RateLimiterRedis.consume(key)`, both with 50 async callers on one ioredis connection, on one
 * hot key and on 50 distinct keys; a floor of bare `ioredis.evalsha(GCRA_TAKE)` (the same script
 * and arguments, without sluice's layer); and the server's ceiling for each script, measured by
 * `redis-benchmark -n 200000` in the same rounds, with `-c 50` (50 connections, one request in
 * flight on each) and with `-c 1 -P 50` (one connection, 50 in flight: the Node rows' shape).
 *
 * Targets: sluice `take` ≥ 90 % of the GCRA_TAKE redis-benchmark ceiling, and ≥ 1.3× the
 * throughput of rate-limiter-flexible.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { Redis } from 'ioredis';
import { GCRA_TAKE, RedisRateLimiter, RedisStore } from '@sluice/redis';
import { gcraParameters } from '@sluice/rate-limit';
import { median, suite, type Metrics } from '../../../bench/harness.ts';
import { startRedis, type RedisServer } from '../../../test-support/redis.ts';

const CALLERS = 50;
const PER_CALLER = 2_000;
/** Operations per Node macro run: 50 callers × 2,000 awaited calls each. */
const OPS = CALLERS * PER_CALLER;
/** Requests per redis-benchmark run. */
const RB_REQUESTS = 200_000;

/** Everything admitted: 10^9 per second, a burst of 10^9 (the TAT moves 10^-6 ms per take). */
const RATE = 1e9;
const BURST = 1e9;
const { emissionMs, toleranceMs } = gcraParameters(RATE, BURST);
/** rate-limiter-flexible: more points per hour than any run can consume. */
const RLF_POINTS = 1e12;
const RLF_DURATION_S = 3_600;
const LIMITER_NAME = 'bench';
/** Units a leasing limiter takes per round trip (the stated overshoot is this per process). */
const LEASE_UNITS = 100;
const HOT = 'hot';
/** Caller c of a 50-key run uses key `k<c>`. */
const KEYS = Array.from({ length: CALLERS }, (_, c) => `k${c}`);

// ---- rate-limiter-flexible, loaded from bench/node_modules (where the pinned peer lives) ----

/** The part of rate-limiter-flexible's `RateLimiterRedis` this bench uses. */
interface RateLimiterRedisLike {
  consume(key: string, points?: number): Promise<unknown>;
}
type RateLimiterRedisConstructor = new (options: Readonly<Record<string, unknown>>) => RateLimiterRedisLike;

function loadRateLimiterRedis(): RateLimiterRedisConstructor {
  const benchRequire = createRequire(new URL('../../../bench/package.json', import.meta.url));
  return (benchRequire('rate-limiter-flexible') as { RateLimiterRedis: RateLimiterRedisConstructor }).RateLimiterRedis;
}

// ---- per-run samples, recorded by the cases themselves for the derived columns ----

/** What one case records per run (the harness's first run of each case is its warm-up). */
interface Samples {
  /** Wall ns per op of each run, timed around the same work the harness times. */
  readonly nsPerOp: number[];
  /** Node process CPU (user + system) ns per op. */
  readonly clientCpu: number[];
  /** redis-server CPU (user + system, from INFO cpu) ns per op. */
  readonly serverCpu: number[];
  /** redis-benchmark rows: its reported requests per second. */
  readonly rps: number[];
  /** redis-benchmark rows: its reported p50 latency, ms. */
  readonly p50Ms: number[];
}

const newSamples = (): Samples => ({ nsPerOp: [], clientCpu: [], serverCpu: [], rps: [], p50Ms: [] });

/** Median of the measured runs (the first, the harness's warm-up, dropped). */
function measured(values: readonly number[]): number {
  return median(values.length > 1 ? values.slice(1) : values);
}

/** redis-server's CPU time so far (user + system, all threads), ns. */
async function serverCpuNs(client: Redis): Promise<number> {
  const info = await client.info('cpu');
  const read = (field: string): number => Number(new RegExp(`^${field}:([0-9.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (read('used_cpu_user') + read('used_cpu_sys')) * 1e9;
}

/** redis-server's `total_error_replies` so far. */
async function errorReplies(client: Redis): Promise<number> {
  const info = await client.info('stats');
  return Number(/^total_error_replies:(\d+)/m.exec(info)?.[1] ?? NaN);
}

/**
 * One `redis-benchmark` run (options first: after the command they would be arguments of it).
 * Resolves with its reported requests per second and p50 latency (from `--csv`).
 */
function redisBenchmark(port: number, options: readonly string[], command: readonly string[]): Promise<{ rps: number; p50Ms: number }> {
  return new Promise((resolve, reject) => {
    const args = ['-h', '127.0.0.1', '-p', String(port), '-n', String(RB_REQUESTS), '--csv', ...options, ...command];
    const child = spawn('redis-benchmark', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",...
      const row = out
        .split('\n')
        .map((line) => line.trim())
        .find((line) => line.startsWith('"') && !line.startsWith('"test"'));
      const cells = row?.split('","').map((cell) => cell.replace(/"/g, ''));
      const rps = Number(cells?.[1]);
      const p50Ms = Number(cells?.[4]);
      if (code !== 0 || !(rps > 0)) {
        reject(new Error(`redis-benchmark ${args.join(' ')} failed (exit ${String(code)}): ${out.trim()} ${err.trim()}`));
        return;
      }
      resolve({ rps, p50Ms });
    });
  });
}

suite('redis', (s) => {
  s.group(
    'rate limiting on loopback redis-server, 50 callers',
    {
      note:
        `One op = one admitted decision. Node rows: ${CALLERS} async callers on one ioredis connection, each awaiting ` +
        `${PER_CALLER.toLocaleString('en-US')} calls in turn (${OPS.toLocaleString('en-US')} ops per run); keys = 1: every caller ` +
        `uses the same key; keys = 50: caller c uses key k<c>. sluice: \`RedisRateLimiter.gcra({ ratePerSecond: 1e9, burst: 1e9, ` +
        `onStoreError: 'fail-closed' }).take(key)\` (default store, 250 ms timeout per call): by default the takes one process ` +
        `asks for in one event-loop turn share one EVALSHA of GCRA_TAKE_MANY (decided in arrival order, as separate calls would ` +
        `be); \`coalesce: false\` sends one EVALSHA of GCRA_TAKE per take; \`lease: { units: 100 }\` takes 100 units per round ` +
        `trip and spends them locally (stated overshoot: burst + rate × t + 100 per process in any window). ` +
        `rate-limiter-flexible: \`RateLimiterRedis({ storeClient: ioredis, useRedisPackage: false, points: 1e12, duration: 3600 })` +
        `.consume(key)\` (one EVALSHA of its SET NX EX + INCRBY + PTTL script). Floor: bare \`ioredis.evalsha(GCRA_TAKE.sha, 1, ` +
        `key, emissionMs, toleranceMs, 1, 0)\`. redis-benchmark rows: \`-n ${RB_REQUESTS.toLocaleString('en-US')}\`, EVALSHA of the ` +
        `same script with the same arguments (50 keys: \`-r 50\` on the key), either \`-c 50\` (50 connections, one request in ` +
        `flight on each) or \`-c 1 -P 50\` (one connection, batches of 50 in flight, the shape of the Node rows), run as cases of ` +
        `the same rounds; their ns/op is the wall time of the process, "reported ops/s" what redis-benchmark printed. "% of its ` +
        `script's ceiling": the row's ops/s over the reported ops/s of its own script (GCRA_TAKE for sluice and the floor, the ` +
        `rate-limiter-flexible script for it) with the same keys. "× rate-limiter-flexible": its ops/s over the ops/s of ` +
        `rate-limiter-flexible with the same keys. "client CPU/op": this Node process (user + system); "server CPU/op": ` +
        `redis-server (INFO cpu). Ratios and % are medians of the measured rounds of the same runs. Targets: sluice ≥ 90 % of the ` +
        `GCRA_TAKE ceiling (-c 50) and ≥ 1.3× rate-limiter-flexible. Client, server and redis-benchmark share the machine's cores.`,
      param: 'keys',
      floorLabel: '× bare evalsha (time)',
      columns: [
        { key: 'ofCeiling', label: "% of its script's ceiling (redis-benchmark -c 50)", format: 'percent' },
        { key: 'ofPipelined', label: "% of its script's ceiling (redis-benchmark -c 1 -P 50)", format: 'percent' },
        { key: 'vsRlf', label: '× rate-limiter-flexible (ops/s)', format: 'ratio' },
        { key: 'reported', label: 'redis-benchmark reported ops/s', format: 'count' },
        { key: 'p50', label: 'redis-benchmark p50', format: 'ns' },
        { key: 'clientCpu', label: 'client CPU/op', format: 'ns' },
        { key: 'serverCpu', label: 'server CPU/op', format: 'ns' },
        { key: 'overshoot', label: 'stated overshoot (units per process)', format: 'count' },
      ],
    },
    async (g) => {
      // ---- the server and the connections (once for the group) ----
      const server: RedisServer = await startRedis();
      // A last resort if the process ends without the teardown (the server would outlive it).
      const killOnExit = (): void => {
        try {
          if (server.pid > 0) process.kill(server.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      process.once('exit', killOnExit);
      const admin = new Redis(server.port, server.host);
      const sluiceClient = new Redis(server.port, server.host);
      const rawClient = new Redis(server.port, server.host);
      const rlfClient = new Redis(server.port, server.host);
      let limiter: RedisRateLimiter | undefined;
      g.teardown(async () => {
        await limiter?.close();
        for (const client of [admin, sluiceClient, rawClient, rlfClient]) client.disconnect();
        await server.stop();
        process.removeListener('exit', killOnExit);
      });
      await Promise.all([admin.ping(), sluiceClient.ping(), rawClient.ping(), rlfClient.ping()]);

      const store = new RedisStore({ client: sluiceClient });
      const sluice = RedisRateLimiter.gcra({ store, name: LIMITER_NAME, ratePerSecond: RATE, burst: BURST, onStoreError: 'fail-closed' });
      limiter = sluice;
      const separate = RedisRateLimiter.gcra({
        store,
        name: `${LIMITER_NAME}-separate`,
        ratePerSecond: RATE,
        burst: BURST,
        onStoreError: 'fail-closed',
        coalesce: false,
      });
      const leased = RedisRateLimiter.gcra({
        store,
        name: `${LIMITER_NAME}-lease`,
        ratePerSecond: RATE,
        burst: BURST,
        onStoreError: 'fail-closed',
        lease: { units: LEASE_UNITS },
      });
      g.teardown(async () => {
        separate.close();
        await leased.close();
      });
      const RateLimiterRedis = loadRateLimiterRedis();
      const rlf = new RateLimiterRedis({
        storeClient: rlfClient,
        useRedisPackage: false,
        keyPrefix: 'rlflx',
        points: RLF_POINTS,
        duration: RLF_DURATION_S,
      });

      // The scripts, loaded before anything is timed (redis-benchmark cannot fall back to EVAL).
      const gcraSha = String(await admin.script('LOAD', GCRA_TAKE.source));
      if (gcraSha !== GCRA_TAKE.sha) throw new Error(`SCRIPT LOAD returned ${gcraSha}, GCRA_TAKE.sha is ${GCRA_TAKE.sha}`);
      const rlfSource = (rlf as unknown as { _incrTtlLuaScript?: unknown })._incrTtlLuaScript;
      const rlfSha = typeof rlfSource === 'string' ? String(await admin.script('LOAD', rlfSource)) : undefined;

      // Keys as each library writes them, for the floor and redis-benchmark.
      const hotTat = store.key(LIMITER_NAME, HOT, 'tat');
      const keyTats = KEYS.map((key) => store.key(LIMITER_NAME, key, 'tat'));
      const gcraArgs = [String(emissionMs), String(toleranceMs), '1', '0'];

      // Sanity: the same call answers "admitted" through every path before anything is timed.
      const direct = (await rawClient.evalsha(GCRA_TAKE.sha, 1, hotTat, emissionMs, toleranceMs, 1, 0)) as unknown[];
      if (direct[0] !== 1) throw new Error(`GCRA_TAKE did not admit: ${JSON.stringify(direct)}`);
      const first = await sluice.take(HOT);
      if (!first.granted || first.decidedBy !== 'redis') throw new Error(`sluice take did not admit: ${JSON.stringify(first)}`);
      await rlf.consume(HOT);

      const samples = new Map<string, Samples>();
      const samplesOf = (id: string): Samples => {
        let found = samples.get(id);
        if (found === undefined) samples.set(id, (found = newSamples()));
        return found;
      };
      /** Untimed before each Node run: the server's CPU counter. */
      let serverCpuBefore = 0;
      const before = async (): Promise<void> => {
        serverCpuBefore = await serverCpuNs(admin);
      };
      /** Records one Node run; throws when anything was refused (then the run measured something else). */
      const finish = async (id: string, started: bigint, cpu: NodeJS.CpuUsage, refused: number): Promise<void> => {
        const wall = Number(process.hrtime.bigint() - started);
        const used = process.cpuUsage(cpu);
        const serverCpu = (await serverCpuNs(admin)) - serverCpuBefore;
        if (refused > 0) throw new Error(`${id}: ${refused} of ${OPS} calls were refused`);
        const mine = samplesOf(id);
        mine.nsPerOp.push(wall / OPS);
        mine.clientCpu.push(((used.user + used.system) * 1e3) / OPS);
        mine.serverCpu.push(serverCpu / OPS);
      };

      // ---- Node rows: each case its own body (V8 keeps type feedback per function literal) ----

      g.macro(
        'bare ioredis evalsha(GCRA_TAKE)',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const caller = async (): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const reply = (await rawClient.evalsha(GCRA_TAKE.sha, 1, hotTat, emissionMs, toleranceMs, 1, 0)) as unknown[];
                if (reply[0] !== 1) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(caller());
            await Promise.all(callers);
            await finish('raw-1', started, cpu, refused);
          },
        },
        { param: 1, floor: true, metrics: () => nodeMetrics('raw-1', 'gcra', 1, 'rlf-1') },
      );
      g.macro(
        'sluice RedisRateLimiter.gcra take (coalesced, the default)',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const caller = async (): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await sluice.take(HOT);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(caller());
            await Promise.all(callers);
            await finish('sluice-1', started, cpu, refused);
          },
        },
        { param: 1, metrics: () => nodeMetrics('sluice-1', 'gcra', 1, 'rlf-1') },
      );
      g.macro(
        'sluice gcra take, coalesce: false',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const caller = async (): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await separate.take(HOT);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(caller());
            await Promise.all(callers);
            await finish('separate-1', started, cpu, refused);
          },
        },
        { param: 1, metrics: () => ({ ...nodeMetrics('separate-1', 'gcra', 1, 'rlf-1') }) },
      );
      g.macro(
        'sluice gcra take, lease: { units: 100 }',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const caller = async (): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await leased.take(HOT);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(caller());
            await Promise.all(callers);
            await finish('lease-1', started, cpu, refused);
          },
        },
        { param: 1, metrics: () => ({ ...nodeMetrics('lease-1', 'gcra', 1, 'rlf-1'), overshoot: LEASE_UNITS }) },
      );
      g.macro(
        'rate-limiter-flexible RateLimiterRedis.consume',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            const caller = async (): Promise<void> => {
              // consume rejects (with a RateLimiterRes) when refused: that rejects the run
              for (let i = 0; i < PER_CALLER; i++) await rlf.consume(HOT);
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(caller());
            await Promise.all(callers);
            await finish('rlf-1', started, cpu, 0);
          },
        },
        { param: 1, metrics: () => nodeMetrics('rlf-1', 'rlf', 1, undefined) },
      );

      g.macro(
        'bare ioredis evalsha(GCRA_TAKE)',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const callerOnKey = async (tat: string): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const reply = (await rawClient.evalsha(GCRA_TAKE.sha, 1, tat, emissionMs, toleranceMs, 1, 0)) as unknown[];
                if (reply[0] !== 1) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(callerOnKey(keyTats[c] as string));
            await Promise.all(callers);
            await finish('raw-50', started, cpu, refused);
          },
        },
        { param: 50, floor: true, metrics: () => nodeMetrics('raw-50', 'gcra', 50, 'rlf-50') },
      );
      g.macro(
        'sluice RedisRateLimiter.gcra take (coalesced, the default)',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const callerOnKey = async (key: string): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await sluice.take(key);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(callerOnKey(KEYS[c] as string));
            await Promise.all(callers);
            await finish('sluice-50', started, cpu, refused);
          },
        },
        { param: 50, metrics: () => nodeMetrics('sluice-50', 'gcra', 50, 'rlf-50') },
      );
      g.macro(
        'sluice gcra take, coalesce: false',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const callerOnKey = async (key: string): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await separate.take(key);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(callerOnKey(KEYS[c] as string));
            await Promise.all(callers);
            await finish('separate-50', started, cpu, refused);
          },
        },
        { param: 50, metrics: () => ({ ...nodeMetrics('separate-50', 'gcra', 50, 'rlf-50') }) },
      );
      g.macro(
        'sluice gcra take, lease: { units: 100 }',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            let refused = 0;
            const callerOnKey = async (key: string): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) {
                const result = await leased.take(key);
                if (!result.granted) refused++;
              }
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(callerOnKey(KEYS[c] as string));
            await Promise.all(callers);
            await finish('lease-50', started, cpu, refused);
          },
        },
        { param: 50, metrics: () => ({ ...nodeMetrics('lease-50', 'gcra', 50, 'rlf-50'), overshoot: LEASE_UNITS }) },
      );
      g.macro(
        'rate-limiter-flexible RateLimiterRedis.consume',
        {
          ops: OPS,
          before,
          run: async () => {
            const started = process.hrtime.bigint();
            const cpu = process.cpuUsage();
            const callerOnKey = async (key: string): Promise<void> => {
              for (let i = 0; i < PER_CALLER; i++) await rlf.consume(key);
            };
            const callers: Promise<void>[] = [];
            for (let c = 0; c < CALLERS; c++) callers.push(callerOnKey(KEYS[c] as string));
            await Promise.all(callers);
            await finish('rlf-50', started, cpu, 0);
          },
        },
        { param: 50, metrics: () => nodeMetrics('rlf-50', 'rlf', 50, undefined) },
      );

      // ---- redis-benchmark rows: the server's ceiling for each script ----
      // `-c 50`: 50 connections, one request in flight on each (the ceiling the brief names).
      // `-c 1 -P 50`: one connection with 50 requests in flight, as the Node rows have (batches of 50).

      const benchmarkCase = (id: string, options: readonly string[], command: readonly string[]) => ({
        ops: RB_REQUESTS,
        before,
        run: async (): Promise<void> => {
          const errorsBefore = await errorReplies(admin);
          const { rps, p50Ms } = await redisBenchmark(server.port, options, command);
          const serverCpu = (await serverCpuNs(admin)) - serverCpuBefore;
          const errors = (await errorReplies(admin)) - errorsBefore;
          if (errors > 0) throw new Error(`redis-benchmark ${id}: ${errors} error replies`);
          const mine = samplesOf(id);
          mine.rps.push(rps);
          mine.p50Ms.push(p50Ms);
          mine.serverCpu.push(serverCpu / RB_REQUESTS);
        },
      });
      const benchmarkMetrics = (id: string) => (): Metrics => {
        const mine = samplesOf(id);
        return { reported: measured(mine.rps), p50: measured(mine.p50Ms) * 1e6, serverCpu: measured(mine.serverCpu) };
      };
      const CONNECTIONS = ['-c', String(CALLERS)];
      const PIPELINED = ['-c', '1', '-P', String(CALLERS)];
      // -r 50: __rand_int__ becomes one of 50 numbers (zero-padded), so 50 distinct keys
      const RANDOM_KEYS = ['-r', String(CALLERS)];
      const gcraHot = ['EVALSHA', GCRA_TAKE.sha, '1', hotTat, ...gcraArgs];
      const gcraKeys = ['EVALSHA', GCRA_TAKE.sha, '1', store.key(LIMITER_NAME, 'k__rand_int__', 'tat'), ...gcraArgs];
      g.macro('redis-benchmark EVALSHA GCRA_TAKE -c 50', benchmarkCase('gcra-c50-1', CONNECTIONS, gcraHot), {
        param: 1,
        metrics: benchmarkMetrics('gcra-c50-1'),
      });
      g.macro('redis-benchmark EVALSHA GCRA_TAKE -c 1 -P 50', benchmarkCase('gcra-p50-1', PIPELINED, gcraHot), {
        param: 1,
        metrics: benchmarkMetrics('gcra-p50-1'),
      });
      g.macro('redis-benchmark EVALSHA GCRA_TAKE -c 50', benchmarkCase('gcra-c50-50', [...CONNECTIONS, ...RANDOM_KEYS], gcraKeys), {
        param: 50,
        metrics: benchmarkMetrics('gcra-c50-50'),
      });
      g.macro('redis-benchmark EVALSHA GCRA_TAKE -c 1 -P 50', benchmarkCase('gcra-p50-50', [...PIPELINED, ...RANDOM_KEYS], gcraKeys), {
        param: 50,
        metrics: benchmarkMetrics('gcra-p50-50'),
      });
      if (rlfSha !== undefined) {
        const rlfArgs = ['1', String(RLF_DURATION_S), String(RLF_POINTS), String(RLF_DURATION_S)];
        const rlfHot = ['EVALSHA', rlfSha, '1', `rlflx:${HOT}`, ...rlfArgs];
        const rlfKeys = ['EVALSHA', rlfSha, '1', 'rlflx:k__rand_int__', ...rlfArgs];
        g.macro('redis-benchmark EVALSHA rlf script -c 50', benchmarkCase('rlf-c50-1', CONNECTIONS, rlfHot), {
          param: 1,
          metrics: benchmarkMetrics('rlf-c50-1'),
        });
        g.macro('redis-benchmark EVALSHA rlf script -c 1 -P 50', benchmarkCase('rlf-p50-1', PIPELINED, rlfHot), {
          param: 1,
          metrics: benchmarkMetrics('rlf-p50-1'),
        });
        g.macro('redis-benchmark EVALSHA rlf script -c 50', benchmarkCase('rlf-c50-50', [...CONNECTIONS, ...RANDOM_KEYS], rlfKeys), {
          param: 50,
          metrics: benchmarkMetrics('rlf-c50-50'),
        });
        g.macro('redis-benchmark EVALSHA rlf script -c 1 -P 50', benchmarkCase('rlf-p50-50', [...PIPELINED, ...RANDOM_KEYS], rlfKeys), {
          param: 50,
          metrics: benchmarkMetrics('rlf-p50-50'),
        });
      } else {
        g.skip('redis-benchmark EVALSHA rlf script', 'not run: RateLimiterRedis no longer exposes its script', { param: 1 });
      }

      /**
       * Columns of a Node row: its share of its script's two ceilings (same keys), its ops/s
       * ratio to rate-limiter-flexible's row of the same keys, and CPU per op.
       */
      function nodeMetrics(id: string, script: 'gcra' | 'rlf', keys: 1 | 50, rlfRow: string | undefined): Metrics {
        const mine = samplesOf(id);
        const opsPerSecond = 1e9 / measured(mine.nsPerOp);
        const shareOf = (ceilingId: string): number | undefined => {
          const rps = samplesOf(ceilingId).rps;
          return rps.length === 0 ? undefined : opsPerSecond / measured(rps);
        };
        const rlfNs = rlfRow === undefined ? [] : samplesOf(rlfRow).nsPerOp;
        return {
          ofCeiling: shareOf(`${script}-c50-${keys}`),
          ofPipelined: shareOf(`${script}-p50-${keys}`),
          vsRlf: rlfNs.length === 0 ? undefined : measured(rlfNs) / measured(mine.nsPerOp),
          clientCpu: measured(mine.clientCpu),
          serverCpu: measured(mine.serverCpu),
        };
      }
    },
  );
});
