/**
 * Goodput against a provider's quota: 10 virtual minutes of demand at 2× the TPM quota sent
 * through a client-side limiter to `ProviderSimulator` (continuous RPM/TPM buckets charged up
 * front with input + max_tokens, 429 with retry-after when a bucket has no room). Reported per
 * limiter: the share of the provider's capacity actually used, and the share of calls answered
 * 429. Target for sluice: ≥ 95 % of TPM used, ≤ 0.5 % answered 429.
 *
 * Everything runs on one fake clock (`@sinonjs/fake-timers` fakes `setTimeout` and `Date` for
 * the timer-based peers; sluice and the simulator take it as their `Clock`), so ten minutes run
 * in well under a second and every run is the same.
 */
import type { Clock, TimerHandle } from '@sluice/core';
import { LlmLimiter } from '@sluice/llm';
import { ProviderSimulator, createRandom, type SimulatedResponse } from '@sluice/testing';
import { suite } from '../../../bench/harness.ts';
import { Bottleneck, FakeTimers, PQueue } from '../../../bench/peers.ts';

const TPM = 100_000;
const RPM = 1_000;
const MINUTES = 10;
const MAX_OUTPUT = 1_000;
/** Mean tokens a call really uses: ~1,000 input + ~500 output. */
const MEAN_USE = 1_500;
const MAX_ATTEMPTS = 3;

/** What a client-side limiter must do for the shared client loop. */
interface Contender {
  /** Waits for the limiter's go-ahead for a call estimated at `estimate` input tokens; rejects to shed it. */
  admit(estimate: number, maxOutput: number): Promise<{ settle(response: SimulatedResponse): void }>;
  close(): void;
}

interface Goodput {
  readonly used: number;
  readonly throttled: number;
  readonly attempts: number;
  readonly answered: number;
  readonly shed: number;
}

async function simulate(build: (clock: Clock) => Contender): Promise<Goodput> {
  const fake = FakeTimers.install({
    now: 1_800_000_000_000,
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'],
  });
  try {
    const clock: Clock = {
      now: () => fake.now,
      setTimer: (callback, ms) => fake.setTimeout(callback, Math.max(0, ms)) as unknown as TimerHandle,
      clearTimer: (handle) => fake.clearTimeout(handle as never),
    };
    const random = createRandom(11);
    const provider = new ProviderSimulator({
      clock,
      requestsPerMinute: RPM,
      tokensPerMinute: TPM,
      latencyMs: (r) => r.uniform(300, 1_500),
      seed: 5,
    });
    const contender = build(clock);
    let throttled = 0;
    let attempts = 0;
    let shed = 0;
    const sleep = (ms: number) => new Promise<void>((resolve) => clock.setTimer(resolve, ms));
    const call = async (input: number): Promise<void> => {
      const estimate = Math.round(input * random.uniform(0.85, 1.15)); // a chars/4-style estimate
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const ticket = await contender.admit(estimate, MAX_OUTPUT);
        attempts++;
        const response = await provider.call({ inputTokens: input, maxOutputTokens: MAX_OUTPUT });
        ticket.settle(response);
        if (response.status === 200) return;
        throttled++;
        await sleep(Number(response.headers['retry-after-ms']));
      }
    };
    const meanGapMs = 60_000 / ((2 * TPM) / MEAN_USE);
    const start = fake.now; // an epoch-like start: some peers misbehave at time 0
    const end = MINUTES * 60_000;
    const calls: Promise<void>[] = [];
    const arrive = (): void => {
      calls.push(call(random.int(500, 1_500)).catch(() => void shed++));
      const next = random.exponential(meanGapMs);
      if (fake.now + next < start + end) clock.setTimer(arrive, next);
    };
    clock.setTimer(arrive, random.exponential(meanGapMs));
    await fake.tickAsync(end);
    const used = provider.stats().tokensUsed;
    const answered = provider.stats().ok;
    contender.close();
    // let what is in flight finish or fail (nothing of it counts); calls a peer dropped on close
    // without settling them (p-queue's clear) are left behind
    await fake.tickAsync(10 * 60_000);
    return { used, throttled, attempts, answered, shed };
  } finally {
    fake.uninstall();
  }
}

/** The seed's design: RPM and TPM buckets, `waitAndConsume` polling every 100 ms, no reconciliation. */
class PollingTwoBuckets {
  private requests = RPM;
  private tokens = TPM;
  private at = 0;
  private closed = false;
  constructor(private readonly clock: Clock) {
    this.at = clock.now();
  }
  private refill(): void {
    const now = this.clock.now();
    this.requests = Math.min(RPM, this.requests + ((now - this.at) * RPM) / 60_000);
    this.tokens = Math.min(TPM, this.tokens + ((now - this.at) * TPM) / 60_000);
    this.at = now;
  }
  async waitAndConsume(tokens: number): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('closed');
      this.refill();
      if (this.requests >= 1 && this.tokens >= tokens) {
        this.requests -= 1;
        this.tokens -= tokens;
        return;
      }
      await new Promise<void>((resolve) => this.clock.setTimer(resolve, 100));
    }
  }
  close(): void {
    this.closed = true;
  }
}

const noop = { settle(): void {} };

suite('llm', (s) => {
  s.group(
    'goodput at 2x the quota',
    {
      note:
        `10 virtual minutes, demand at 2× a ${TPM.toLocaleString('en')} TPM / ${RPM} RPM quota (Poisson arrivals, input 500–1,500 ` +
        `tokens estimated within ±15 %, max_tokens ${MAX_OUTPUT}, real output 20–80 % of it, latency 0.3–1.5 s), against ` +
        '`ProviderSimulator`; a 429 is retried after its retry-after, up to 3 attempts. TPM used = tokens the provider served ' +
        'in the 10 minutes / (its full bucket + 10 minutes of refill). sluice: `LlmLimiter` reserving input + max_tokens, ' +
        'observing every response, releasing with the usage. Seed design: RPM+TPM buckets, `waitAndConsume(input + ' +
        'max_tokens)` polling every 100 ms, no reconciliation. p-queue: `intervalCap` = TPM / 1,500 per 60 s. bottleneck: ' +
        'reservoir of TPM refreshed every 60 s, job weight input + max_tokens.',
      added: true,
      columns: [
        { key: 'tpmUsed', label: 'TPM used', format: 'percent' },
        { key: 'throttled', label: 'calls answered 429', format: 'percent' },
        { key: 'answered', label: 'calls answered 200', format: 'count' },
      ],
    },
    (g) => {
      const row = (result: Goodput) => ({
        tpmUsed: result.used / (TPM + TPM * MINUTES),
        throttled: result.attempts === 0 ? 0 : result.throttled / result.attempts,
        answered: result.answered,
      });
      g.metrics('sluice LlmLimiter', async () =>
        row(
          await simulate((clock) => {
            const limiter = new LlmLimiter({ requestsPerMinute: RPM, tokensPerMinute: TPM, clock });
            return {
              async admit(estimate, maxOutput) {
                const permit = await limiter.acquire({ inputTokens: estimate, maxOutputTokens: maxOutput }, { maxWaitMs: 120_000 });
                return {
                  settle(response) {
                    limiter.observe(response, response.body);
                    permit.release(response.usage !== undefined ? { ok: true, usage: response.usage } : { ok: false, cost: 0 });
                  },
                };
              },
              close: () => limiter.close(),
            };
          }),
        ),
      );
      g.metrics('seed design: two buckets, polling, no reconciliation', async () =>
        row(
          await simulate((clock) => {
            const buckets = new PollingTwoBuckets(clock);
            return {
              admit: async (estimate, maxOutput) => {
                await buckets.waitAndConsume(estimate + maxOutput);
                return noop;
              },
              close: () => buckets.close(),
            };
          }),
        ),
      );
      g.metrics('p-queue intervalCap (TPM / 1,500 per minute)', async () =>
        row(
          await simulate(() => {
            const queue = new PQueue({ intervalCap: Math.floor(TPM / MEAN_USE), interval: 60_000 });
            return {
              admit: () => queue.add(async () => noop) as Promise<typeof noop>,
              close: () => queue.clear(),
            };
          }),
        ),
      );
      g.metrics('bottleneck reservoir (TPM per minute)', async () =>
        row(
          await simulate(() => {
            const limiter = new Bottleneck({ reservoir: TPM, reservoirRefreshAmount: TPM, reservoirRefreshInterval: 60_000 });
            return {
              admit: (estimate, maxOutput) => limiter.schedule({ weight: estimate + maxOutput }, async () => noop),
              close: () => void limiter.stop({ dropWaitingJobs: true }).catch(() => {}),
            };
          }),
        ),
      );
    },
  );
});
