// The whole setup: a provider, the gateway in front of it, clients offering more than the
// provider's quota, and the measurements the demo prints and the test checks.

import http from 'node:http';
import { systemClock } from '@sluice/core';
import { runLoad, type ClientSpec, type LoadResult, type RequestResult } from './clients.js';
import { Gateway, type GatewayStats } from './gateway.js';
import { MockProvider, type MockProviderStats } from './provider.js';

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  /** Arrivals last this long, s. */
  readonly seconds: number;
  /** The TPM measurement starts this long after the start, s (the initial full bucket spent). */
  readonly warmupSeconds: number;
  /** The provider's quota. */
  readonly tokensPerMinute: number;
  readonly requestsPerMinute: number;
  /** Offered load as a multiple of the TPM quota, counted in tokens the requests would bill. */
  readonly demandFactor: number;
  /** Share of the offered load from interactive clients; the rest is batch. */
  readonly interactiveShare: number;
  /** Client sizes (prompt and max_tokens ranges); default {@link DEMO_SIZES}. */
  readonly sizes?: ClientSizes;
  /** `x-max-wait-ms` the clients send, per class. */
  readonly maxWaitMs: { readonly interactive: number; readonly batch: number };
  /** The gateway limiter's headroom; default 0.02. */
  readonly headroom?: number;
  /** Provider generation pace, ms per token; default 4. */
  readonly msPerToken?: number;
  /** Send the batch backlog that spends the provider's initial bucket; default true. */
  readonly backlog?: boolean;
  /** Seed of sizes and arrivals; default 7. */
  readonly seed?: number;
  /** See `LoadOptions.drainTimeoutMs`. */
  readonly drainTimeoutMs?: number;
  /** Called once everything is measured, before the servers close: extra checks and reads. */
  readonly beforeClose?: (stack: Stack, load: LoadResult) => void | Promise<void>;
}

/** Prompt and `max_tokens` ranges per client. */
export interface ClientSizes {
  readonly chat: { readonly prompt: readonly [number, number]; readonly maxTokens: readonly [number, number] };
  readonly batch: { readonly prompt: readonly [number, number]; readonly maxTokens: readonly [number, number] };
}

/** Sizes of the demo's clients. */
export const DEMO_SIZES: ClientSizes = {
  chat: { prompt: [20, 200], maxTokens: [64, 256] },
  batch: { prompt: [100, 600], maxTokens: [64, 384] },
};

/** The provider's share of `max_tokens` really generated, drawn uniformly per request. */
export const OUTPUT_SHARE: readonly [number, number] = [0.25, 1];

/** Provider and gateway, started together. */
export interface Stack {
  readonly provider: MockProvider;
  readonly gateway: Gateway;
}

/** Per-class results. */
export interface ClassReport {
  readonly sent: number;
  readonly completed: number;
  readonly refused: number;
  readonly failed: number;
  readonly cancelled: number;
  /** Completed requests sent in the measurement window (the TTFT sample). */
  readonly windowCompleted: number;
  /** Time to first token at the client, ms: completed requests sent in the measurement window (steady state). */
  readonly ttftP50Ms: number | undefined;
  readonly ttftP99Ms: number | undefined;
}

/** Everything a run measured. */
export interface ScenarioReport {
  readonly options: ScenarioOptions;
  readonly clients: readonly ClientSpec[];
  readonly load: LoadResult;
  readonly byClass: Readonly<Record<'interactive' | 'batch', ClassReport>>;
  readonly gateway: GatewayStats;
  readonly provider: MockProviderStats;
  /** Tokens offered per minute (backlog aside), counted as the requests would bill on average. */
  readonly offeredTokensPerMinute: number;
  readonly tpm: TpmUse;
  /**
   * The limiter's and the provider's TPM bucket once every stream settled, and the gap
   * expected between them if every reservation was reconciled (see {@link expectedGap}).
   */
  readonly remainingAfter: {
    readonly limiter: number;
    readonly provider: number;
    readonly atMs: number;
    readonly expectedGap: number;
    /**
     * Unused output the provider refunded for the streams the gateway read to the end: what
     * reconciliation gives back to the limiter (without it, the gap would be this much larger).
     */
    readonly reconciledRefunds: number;
  };
  /** Refused requests that carried a Retry-After header. */
  readonly refusedWithRetryAfter: number;
  readonly metricsText: string;
  readonly wallMs: number;
}

/**
 * Share of the provider's TPM quota used, measured at the provider. Window: from `warmupSeconds`
 * after the start (once the bucket the provider starts with is spent) to the end of arrivals.
 * Used: tokens billed (prompt + completion) by the completions the provider admitted in the
 * window, counted after they finished. Available: the quota's refill over the window, plus what
 * the bucket still held above the limiter's headroom reserve when the window opened (quota
 * carried in: a lull in arrivals before the window lets it build up, and it is spent in the
 * window). Quota left in the bucket when the window closes counts as unused.
 */
export interface TpmUse {
  readonly windowStartMs: number;
  readonly windowEndMs: number;
  readonly usedTokens: number;
  readonly refillTokens: number;
  /** The provider's bucket above `headroom × TPM` when the window opened. */
  readonly carriedInTokens: number;
  /** usedTokens / (refillTokens + carriedInTokens). */
  readonly share: number;
  /** The provider's bucket when the window opened (low: the starting burst was spent). */
  readonly bucketAtStart: number;
  readonly bucketAtEnd: number;
  /** Whole run: tokens billed / (the full starting bucket + refill over the run). */
  readonly wholeRunShare: number;
}

/** Starts a provider and a gateway configured for its quota. */
export async function startStack(
  options: Pick<ScenarioOptions, 'tokensPerMinute' | 'requestsPerMinute' | 'headroom' | 'msPerToken' | 'seed'>,
): Promise<Stack> {
  const provider = await MockProvider.start({
    tokensPerMinute: options.tokensPerMinute,
    requestsPerMinute: options.requestsPerMinute,
    msPerToken: options.msPerToken ?? 4,
    outputShare: OUTPUT_SHARE,
    seed: options.seed ?? 7,
  });
  try {
    const gateway = await Gateway.start({
      providerUrl: provider.url,
      tokensPerMinute: options.tokensPerMinute,
      requestsPerMinute: options.requestsPerMinute,
      headroom: options.headroom ?? 0.02,
      clients: { 'chat-web': 'interactive', 'chat-mobile': 'interactive', 'nightly-batch': 'batch', evals: 'batch' },
    });
    return { provider, gateway };
  } catch (error) {
    await provider.close();
    throw error;
  }
}

/** Closes the gateway, then the provider. */
export async function closeStack(stack: Stack): Promise<void> {
  await stack.gateway.close();
  await stack.provider.close();
}

/**
 * The clients: two interactive (`chat-web`, `chat-mobile`) and two batch (`nightly-batch`,
 * `evals`), with Poisson arrivals adding up to `demandFactor` × the TPM quota; `nightly-batch`
 * also starts with a backlog of large documents worth ~96 % of the provider's bucket, which
 * spends the bucket the provider starts with in the first moments.
 */
export function scenarioClients(options: ScenarioOptions): ClientSpec[] {
  const sizes = options.sizes ?? DEMO_SIZES;
  const meanShare = (OUTPUT_SHARE[0] + OUTPUT_SHARE[1]) / 2;
  const billed = (s: { prompt: readonly [number, number]; maxTokens: readonly [number, number] }): number =>
    (s.prompt[0] + s.prompt[1]) / 2 + 6 + ((s.maxTokens[0] + s.maxTokens[1]) / 2) * meanShare;
  const perSecond = (options.demandFactor * options.tokensPerMinute) / 60;
  const chatRate = (perSecond * options.interactiveShare) / billed(sizes.chat);
  const batchRate = (perSecond * (1 - options.interactiveShare)) / billed(sizes.batch);
  const backlogDocs = 10;
  const docMaxTokens = 256;
  const docPrompt = Math.floor((0.96 * options.tokensPerMinute) / backlogDocs) - docMaxTokens - 6;
  return [
    {
      id: 'chat-web',
      klass: 'interactive',
      requestsPerSecond: chatRate * 0.6,
      promptTokens: sizes.chat.prompt,
      maxTokens: sizes.chat.maxTokens,
      maxWaitMs: options.maxWaitMs.interactive,
    },
    {
      id: 'chat-mobile',
      klass: 'interactive',
      requestsPerSecond: chatRate * 0.4,
      promptTokens: sizes.chat.prompt,
      maxTokens: sizes.chat.maxTokens,
      maxWaitMs: options.maxWaitMs.interactive,
    },
    {
      id: 'nightly-batch',
      klass: 'batch',
      requestsPerSecond: batchRate * 0.5,
      promptTokens: sizes.batch.prompt,
      maxTokens: sizes.batch.maxTokens,
      maxWaitMs: options.maxWaitMs.batch,
      ...(options.backlog === false ? {} : { backlog: { count: backlogDocs, promptTokens: docPrompt, maxTokens: docMaxTokens } }),
    },
    {
      id: 'evals',
      klass: 'batch',
      requestsPerSecond: batchRate * 0.5,
      promptTokens: sizes.batch.prompt,
      maxTokens: sizes.batch.maxTokens,
      maxWaitMs: options.maxWaitMs.batch,
    },
  ];
}

/** Runs provider + gateway + load, measures, closes everything. */
export async function runScenario(options: ScenarioOptions): Promise<ScenarioReport> {
  const wallStart = systemClock.now();
  const stack = await startStack(options);
  const { provider, gateway } = stack;
  try {
    const clients = scenarioClients(options);
    // the provider's bucket at the window's edges
    const windowStartAt = systemClock.now() + options.warmupSeconds * 1000;
    let bucketAtStart = Number.NaN;
    const probe = setTimeout(
      () => {
        bucketAtStart = provider.remaining().tokens;
      },
      Math.max(0, windowStartAt - systemClock.now()),
    );
    let bucketAtEnd = Number.NaN;
    const load = await runLoad({
      gatewayUrl: gateway.url,
      onStop: () => {
        bucketAtEnd = provider.remaining().tokens;
      },
      clients,
      seconds: options.seconds,
      seed: options.seed ?? 7,
      ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    });
    clearTimeout(probe);
    const windowStartMs = load.startedAt + options.warmupSeconds * 1000;
    const tpm = measureTpm(
      provider,
      options.tokensPerMinute,
      windowStartMs,
      load.stoppedAt,
      load.startedAt,
      bucketAtStart,
      bucketAtEnd,
      options.headroom ?? 0.02,
    );

    // every client request has settled; let cut-off relays and streams finish on both sides
    // (bounded), then compare the two views of the TPM bucket
    for (
      let i = 0;
      i < 100 && (gateway.stats().active > 0 || provider.stats().admitted > provider.stats().completed + provider.stats().cancelled);
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const atMs = systemClock.now() - load.startedAt;
    const remainingAfter = {
      limiter: gateway.limiter.remaining('tokens'),
      provider: provider.remaining().tokens,
      atMs,
      expectedGap: expectedGap(provider, gateway.cutOffStreamIds(), options.tokensPerMinute, options.headroom ?? 0.02, atMs),
      reconciledRefunds: reconciledRefunds(provider, gateway.cutOffStreamIds()),
    };
    const metricsText = await fetchText(`${gateway.url}/metrics`);
    const byClass = {
      interactive: classReport(
        load.results.filter((r) => r.klass === 'interactive'),
        windowStartMs,
      ),
      batch: classReport(
        load.results.filter((r) => r.klass === 'batch'),
        windowStartMs,
      ),
    };
    const offeredTokens = load.results
      .filter((r) => !r.backlog)
      .reduce((sum, r) => sum + r.promptTokens + 6 + r.maxTokens * ((OUTPUT_SHARE[0] + OUTPUT_SHARE[1]) / 2), 0);
    await options.beforeClose?.(stack, load);
    return {
      options,
      clients,
      load,
      byClass,
      gateway: gateway.stats(),
      provider: provider.stats(),
      offeredTokensPerMinute: (offeredTokens / ((load.stoppedAt - load.startedAt) / 1000)) * 60,
      tpm,
      remainingAfter,
      refusedWithRetryAfter: load.results.filter((r) => r.outcome === 'refused' && r.retryAfterS !== undefined && r.retryAfterS >= 1)
        .length,
      metricsText,
      wallMs: systemClock.now() - wallStart,
    };
  } finally {
    await closeStack(stack);
  }
}

/** See {@link TpmUse}. */
export function measureTpm(
  provider: MockProvider,
  tokensPerMinute: number,
  windowStartMs: number,
  windowEndMs: number,
  runStartMs: number,
  bucketAtStart: number,
  bucketAtEnd: number,
  headroom: number,
): TpmUse {
  let usedTokens = 0;
  let wholeRun = 0;
  for (const record of provider.records()) {
    const billed = record.promptTokens + record.completionTokens;
    if (record.admittedAt <= windowEndMs) wholeRun += billed;
    if (record.admittedAt >= windowStartMs && record.admittedAt <= windowEndMs) usedTokens += billed;
  }
  const refillTokens = (tokensPerMinute * (windowEndMs - windowStartMs)) / 60_000;
  const carriedInTokens = Math.max(0, bucketAtStart - headroom * tokensPerMinute);
  const wholeRunCapacity = tokensPerMinute + (tokensPerMinute * (windowEndMs - runStartMs)) / 60_000;
  return {
    windowStartMs: windowStartMs - runStartMs,
    windowEndMs: windowEndMs - runStartMs,
    usedTokens,
    refillTokens,
    carriedInTokens,
    share: usedTokens / (refillTokens + carriedInTokens),
    bucketAtStart,
    bucketAtEnd,
    wholeRunShare: wholeRun / wholeRunCapacity,
  };
}

/**
 * The gap expected between the provider's TPM bucket and the limiter's once every call has
 * settled, if every reservation whose usage arrived was reconciled: the headroom the limiter
 * keeps (its capacity is `(1 − headroom) × TPM`), plus what its slower refill (`(1 − headroom)
 * × TPM` per minute) fell behind since the start, plus the unused output of the streams the
 * gateway did not read to the end (`cutOffIds`): their usage never reached the limiter, which
 * rightly keeps those reservations whole, while the provider refunded them. Without
 * reconciliation the gap would also hold every unused reservation of the streams read in full.
 */
export function expectedGap(
  provider: MockProvider,
  cutOffIds: readonly string[],
  tokensPerMinute: number,
  headroom: number,
  msSinceStart: number,
): number {
  const records = new Map(provider.records().map((r) => [r.id, r]));
  let cutOff = 0;
  for (const id of new Set(cutOffIds)) {
    const record = records.get(id);
    if (record !== undefined) cutOff += record.maxTokens - record.completionTokens;
  }
  return headroom * tokensPerMinute * (1 + msSinceStart / 60_000) + cutOff;
}

/** Unused output refunded by the provider for completions the gateway read to the end. */
export function reconciledRefunds(provider: MockProvider, cutOffIds: readonly string[]): number {
  const cut = new Set(cutOffIds);
  let total = 0;
  for (const record of provider.records())
    if (record.state === 'done' && !cut.has(record.id)) total += record.maxTokens - record.completionTokens;
  return total;
}

/** Nearest-rank percentile of `values` (`undefined` when empty). */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

function classReport(results: readonly RequestResult[], windowStartMs: number): ClassReport {
  const ttft = results
    .filter((r) => r.sentAt >= windowStartMs && r.outcome === 'completed' && r.firstTokenAt !== undefined)
    .map((r) => (r.firstTokenAt as number) - r.sentAt);
  return {
    sent: results.length,
    completed: results.filter((r) => r.outcome === 'completed').length,
    refused: results.filter((r) => r.outcome === 'refused').length,
    failed: results.filter((r) => r.outcome === 'failed').length,
    cancelled: results.filter((r) => r.outcome === 'cancelled').length,
    windowCompleted: ttft.length,
    ttftP50Ms: percentile(ttft, 50),
    ttftP99Ms: percentile(ttft, 99),
  };
}

function fetchText(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve(text));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}
