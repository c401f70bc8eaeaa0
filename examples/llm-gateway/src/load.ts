// `npm run demo`: a mock provider, the gateway in front of it, and simulated clients offering
// 1.75× the provider's TPM quota for 25 s; then the report.
//
//   tsx src/load.ts [--seconds 25] [--warmup 3] [--tpm 60000] [--rpm 1000] [--factor 1.75] [--seed 7]

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runScenario, type ClassReport, type ScenarioOptions, type ScenarioReport } from './scenario.js';

export { runLoad, type ClientSpec, type LoadOptions, type LoadResult, type RequestResult } from './clients.js';

/** The demo's parameters; every one but the sizes can be changed from the command line. */
export const DEMO: ScenarioOptions = {
  seconds: 25,
  warmupSeconds: 3,
  tokensPerMinute: 120_000,
  requestsPerMinute: 2_000,
  demandFactor: 1.75,
  interactiveShare: 0.35,
  maxWaitMs: { interactive: 3_000, batch: 8_000 },
  headroom: 0.02,
  msPerToken: 4,
  seed: 7,
};

const n = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ms = (value: number | undefined): string => (value === undefined ? '-' : `${n(value)} ms`);
const pct = (value: number): string => `${(value * 100).toFixed(1)} %`;

/** The report as the demo prints it. */
export function formatReport(report: ScenarioReport): string {
  const o = report.options;
  const lines: string[] = [];
  const all = report.load.results;
  const count = (outcome: string): number => all.filter((r) => r.outcome === outcome).length;
  lines.push(
    `sent ${all.length} requests in ${o.seconds} s (${n(report.offeredTokensPerMinute)} tokens/min offered = ` +
      `${(report.offeredTokensPerMinute / o.tokensPerMinute).toFixed(2)}× the quota, plus a ${n(report.clients.find((c) => c.backlog)?.backlog?.count ?? 0)}-document backlog at the start)`,
  );
  lines.push(
    `gateway:  completed ${count('completed')}, refused ${count('refused')} (${report.refusedWithRetryAfter} with Retry-After; by reason: ` +
      `${
        Object.entries(report.gateway.refusals)
          .map(([reason, k]) => `${reason} ${k}`)
          .join(', ') || 'none'
      }), failed ${count('failed')}, abandoned when the load stopped ${count('cancelled')}`,
  );
  lines.push(
    `provider: admitted ${report.provider.admitted}, completed ${report.provider.completed}, 429s sent ${report.provider.rateLimited}, ` +
      `5xx ${report.provider.serverErrors}, billed ${n(report.provider.tokensUsed)} tokens, refunded ${n(report.provider.tokensRefunded)} unused reserved tokens`,
  );
  const t = report.tpm;
  lines.push(
    `TPM use:  ${pct(t.share)} of the quota available from ${(t.windowStartMs / 1000).toFixed(1)} s to ${(t.windowEndMs / 1000).toFixed(1)} s: ` +
      `${n(t.usedTokens)} tokens billed / (${n(t.refillTokens)} refilled + ${n(t.carriedInTokens)} carried in); ` +
      `provider bucket ${n(t.bucketAtStart)} tokens at the window's start, ${n(t.bucketAtEnd)} at its end (limiter headroom ${pct(o.headroom ?? 0.02)} = ${n((o.headroom ?? 0.02) * o.tokensPerMinute)})`,
  );
  lines.push(`          whole run: ${pct(t.wholeRunShare)} of (the full starting bucket + ${o.seconds} s of refill)`);
  const row = (name: string, c: ClassReport): string =>
    `  ${name.padEnd(12)} sent ${String(c.sent).padStart(4)}  completed ${String(c.completed).padStart(4)}  refused ${String(c.refused).padStart(4)}  ` +
    `abandoned ${String(c.cancelled).padStart(3)}  TTFT p50 ${ms(c.ttftP50Ms).padStart(9)}  p99 ${ms(c.ttftP99Ms).padStart(9)} (n=${c.windowCompleted})`;
  lines.push(`per class (TTFT at the client, over the completed requests sent in the window, i.e. after ${o.warmupSeconds} s):`);
  lines.push(row('interactive', report.byClass.interactive));
  lines.push(row('batch', report.byClass.batch));
  const r = report.remainingAfter;
  const gap = r.provider - r.limiter;
  lines.push(
    `reconciliation: reserved ${n(report.gateway.reservedTokens)} tokens upstream, the streams reported ${n(report.gateway.usedTokens)} used. ` +
      `Once all settled: provider bucket ${n(r.provider)}, limiter bucket ${n(r.limiter)}: gap ${n(gap)}, expected ${n(r.expectedGap)} ` +
      `(headroom, the limiter's slower refill, streams cut off); without reconciliation it would be ${n(r.expectedGap + r.reconciledRefunds)}`,
  );
  lines.push('/metrics (excerpt):');
  const wanted = [
    /^sluice_queue_depth\{component="llm"\}/,
    /^sluice_available\{component="llm"\}/,
    /^sluice_wait_seconds_count\{component="llm"\}/,
    /^sluice_refused_total\{component="llm"\}/,
    /^sluice_breaker_state\{component="provider",state="closed"\}/,
    /^gateway_requests_total\{class="interactive",outcome="completed"\}/,
    /^gateway_requests_total\{class="batch",outcome="refused"\}/,
    /^gateway_provider_429_total/,
    /^gateway_tokens_total/,
    /^gateway_tokens_remaining/,
  ];
  for (const line of report.metricsText.split('\n')) if (wanted.some((w) => w.test(line))) lines.push(`  ${line}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string' },
      warmup: { type: 'string' },
      tpm: { type: 'string' },
      rpm: { type: 'string' },
      factor: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const number = (text: string | undefined, fallback: number, name: string, max = Infinity): number => {
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!(value > 0 && value <= max)) throw new RangeError(`--${name} must be a number > 0${max < Infinity ? ` and ≤ ${max}` : ''}`);
    return value;
  };
  const options: ScenarioOptions = {
    ...DEMO,
    seconds: number(values.seconds, DEMO.seconds, 'seconds', 600),
    warmupSeconds: number(values.warmup, DEMO.warmupSeconds, 'warmup'),
    tokensPerMinute: number(values.tpm, DEMO.tokensPerMinute, 'tpm'),
    requestsPerMinute: number(values.rpm, DEMO.requestsPerMinute, 'rpm'),
    demandFactor: number(values.factor, DEMO.demandFactor, 'factor', 20),
    seed: Math.floor(number(values.seed, DEMO.seed ?? 7, 'seed')),
  };
  if (options.warmupSeconds >= options.seconds) throw new RangeError('--warmup must be shorter than --seconds');
  console.log(
    `llm-gateway demo: clients → gateway (sluice LlmLimiter + CircuitBreaker, SSE) → mock provider enforcing ` +
      `${n(options.tokensPerMinute)} TPM / ${n(options.requestsPerMinute)} RPM on 127.0.0.1.\n` +
      `Offering ${options.demandFactor}× the TPM quota for ${options.seconds} s: chat-web + chat-mobile (interactive, priority 10, ` +
      `max wait ${options.maxWaitMs.interactive} ms), nightly-batch + evals (batch, priority 0, max wait ${options.maxWaitMs.batch} ms).\n`,
  );
  const report = await runScenario(options);
  console.log(formatReport(report));
  console.log(`\ndone in ${(report.wallMs / 1000).toFixed(1)} s; servers, agents, limiter, breaker and monitor closed.`);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href;
if (invokedDirectly) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
