import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ClosedError, InvalidArgumentError, NOT_RUN, TooLargeError, WaitTimeoutError, type Refusal } from '@sluice/core';
import { ProviderSimulator, VirtualClock, createRandom, track, type TrackedPromise } from '@sluice/testing';
import { LlmLimiter } from '../src/llm-limiter.js';
import { LlmRouter, type LlmRoute } from '../src/router.js';

const routed = (result: LlmRoute | Refusal): LlmRoute => {
  if (!result.granted) throw new Error(`expected a route, got a refusal (${result.reason})`);
  return result;
};

describe('LlmRouter: choosing', () => {
  it('prefers the deployment with the most headroom, relative to its capacity', () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'big', limiter: { tokensPerMinute: 100_000 } },
        { name: 'small', limiter: { tokensPerMinute: 10_000 } },
      ],
    });
    const request = { inputTokens: 1_000, maxOutputTokens: 1_000 };
    expect(router.choose(request).name).toBe('big'); // both full: 98 % left after it against 80 %
    router.deployment('big')?.limiter.tryAcquire(50_000);
    expect(router.choose(request).name).toBe('small'); // 48 % left against 80 %, though 48k > 8k
    // every enforced dimension counts: requests too
    const byRequests = new LlmRouter({
      clock,
      deployments: [
        { name: 'few-requests', limiter: { requestsPerMinute: 10, tokensPerMinute: 100_000 } },
        { name: 'many-requests', limiter: { requestsPerMinute: 1_000, tokensPerMinute: 50_000 } },
      ],
    });
    for (let i = 0; i < 8; i++) byRequests.deployment('few-requests')?.limiter.tryAcquire(1);
    expect(byRequests.choose(request).name).toBe('many-requests');
    router.close();
    byRequests.close();
  });

  it('prefers the deployment that can admit soonest, then weight, then the order given', () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'a', limiter: { tokensPerMinute: 60_000 } },
        { name: 'b', limiter: { tokensPerMinute: 6_000 } },
        { name: 'c', limiter: { tokensPerMinute: 6_000 } },
      ],
    });
    const a = router.deployment('a')?.limiter as LlmLimiter;
    a.tryAcquire(60_000); // full: 1,000 tokens take 1 s
    router.deployment('b')?.limiter.tryAcquire(5_900); // 100 left: 900 more take 9 s
    router.deployment('c')?.limiter.tryAcquire(6_000); // 1,000 take 10 s
    expect(router.choose({ inputTokens: 1_000 }).name).toBe('a');
    expect(router.choose({ inputTokens: 50 }).name).toBe('b'); // fits now in b only

    const tied = new LlmRouter({
      clock,
      deployments: [
        { name: 'first', limiter: { tokensPerMinute: 1_000 } },
        { name: 'second', limiter: { tokensPerMinute: 1_000 }, weight: 1 },
        { name: 'heavy', limiter: { tokensPerMinute: 1_000 }, weight: 3 },
      ],
    });
    expect(tied.choose({ inputTokens: 10 }).name).toBe('heavy');
    tied.deployment('heavy')?.limiter.close();
    expect(tied.choose({ inputTokens: 10 }).name).toBe('first'); // closed comes last; then order
    router.close();
    tied.close();
  });

  it('skips deployments a request can never fit, and refuses at once one that fits none', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'small', limiter: { tokensPerMinute: 4_000 } },
        { name: 'large', limiter: { tokensPerMinute: 32_000, outputTokensPerMinute: 8_000 } },
      ],
    });
    expect(router.choose({ inputTokens: 5_000 }).name).toBe('large');
    expect(routed(router.tryAcquire({ inputTokens: 5_000 })).deployment.name).toBe('large');

    expect(() => router.choose({ inputTokens: 40_000 })).toThrow(TooLargeError);
    expect(() => router.tryAcquire({ inputTokens: 40_000 })).toThrow(TooLargeError);
    const tooLarge = track(router.acquire({ inputTokens: 40_000 }));
    await Promise.resolve();
    await Promise.resolve();
    expect(tooLarge.state).toBe('rejected');
    expect(tooLarge.error).toBeInstanceOf(TooLargeError);
    expect((tooLarge.error as TooLargeError).capacity).toBe(32_000); // the largest limit, to shrink to
    expect(clock.now()).toBe(0);
    // too large in one dimension of one, too large in tokens for the other
    await expect(router.acquire({ inputTokens: 1_000, maxOutputTokens: 9_000 })).rejects.toBeInstanceOf(TooLargeError);
    for (const d of router.deployments) expect(d.limiter.stats()).toMatchObject({ waiting: 0 });
    await expect(router.acquire({ inputTokens: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => router.choose({ maxOutputTokens: 1.5 })).toThrow(/maxOutputTokens/);
    router.close();
  });
});

describe('LlmRouter: a 429 shifts traffic', () => {
  it('pauses only the deployment that answered 429; new requests go to the others until it resumes', async () => {
    const clock = new VirtualClock();
    const eastProvider = new ProviderSimulator({ clock, requestsPerMinute: 100, tokensPerMinute: 20_000, refundUnused: false });
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'east', limiter: { requestsPerMinute: 100, tokensPerMinute: 20_000 } },
        { name: 'west', limiter: { requestsPerMinute: 100, tokensPerMinute: 10_000 } },
      ],
    });
    // another client of east's key drains most of its quota behind the router's back
    await clock.settle(eastProvider.call({ inputTokens: 15_000, maxOutputTokens: 4_000 }));
    const request = { inputTokens: 3_000, maxOutputTokens: 1_000 };
    const first = routed(router.tryAcquire(request));
    expect(first.deployment.name).toBe('east'); // locally it looks idle
    const throttled = await clock.settle(eastProvider.call(request));
    expect(throttled.status).toBe(429);
    const observation = router.observe('east', throttled, throttled.body);
    first.permit.release(NOT_RUN);
    expect(observation.triage).toMatchObject({ action: 'retry-after', reason: 'rate-limited' });
    expect(observation.corrected).toContain('tokens'); // and the real headers lowered east's bucket
    const pausedForMs = (observation.triage as { retryAfterMs: number }).retryAfterMs;
    expect(pausedForMs).toBeGreaterThan(0);

    const east = router.deployment('east')?.limiter as LlmLimiter;
    expect(east.isPaused).toBe(true);
    expect(router.choose({ inputTokens: 10 }).name).toBe('west');
    const next = await router.acquire(request);
    expect(next.deployment.name).toBe('west');
    next.permit.release(); // the reservation stands
    // west has to wait now, east only until its pause ends: a paused deployment is still the last resort
    router.deployment('west')?.limiter.tryAcquire(6_000);
    expect(router.deployment('west')?.limiter.waitEstimateMs(request)).toBeGreaterThan(pausedForMs);
    expect(router.choose(request).name).toBe('west');
    await clock.advance(pausedForMs);
    expect(east.isPaused).toBe(false);
    await clock.advance(60_000); // both full again: east has the most headroom
    expect(router.choose(request).name).toBe('east');
    router.close();
  });

  it('when every deployment is paused, refuses with `paused` and waits on the one that resumes first', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'a', limiter: { tokensPerMinute: 10_000 } },
        { name: 'b', limiter: { tokensPerMinute: 10_000 } },
      ],
    });
    router.observe('a', { status: 429, headers: { 'retry-after-ms': '8000' } });
    router.observe('b', { status: 429, headers: { 'retry-after-ms': '3000', 'x-ratelimit-remaining-tokens': 'not a number' } });
    expect(router.tryAcquire({ inputTokens: 10 })).toMatchObject({
      granted: false,
      reason: 'paused',
      gate: 'llm-router',
      retryAfterMs: 3_000,
    });
    const waiting = track(router.acquire({ inputTokens: 10 }));
    await clock.advance(2_999);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.value?.deployment.name).toBe('b');
    router.close();
  });

  it('forwards observe by name: an unknown name throws, malformed headers never do', () => {
    const router = new LlmRouter({ clock: new VirtualClock(), deployments: [{ name: 'a', limiter: { tokensPerMinute: 10_000 } }] });
    expect(() => router.observe('nope', { status: 200, headers: {} })).toThrow(InvalidArgumentError);
    const observation = router.observe('a', {
      status: 429,
      headers: { 'x-ratelimit-limit-tokens': 'lots', 'x-ratelimit-reset-tokens': '-5 parsecs', 'retry-after': 'soon' },
    });
    expect(observation.corrected).toEqual([]);
    expect(router.observe('a', { 'x-ratelimit-remaining-tokens': '2000' }).corrected).toEqual(['tokens']); // headers alone
    router.close();
  });
});

describe('LlmRouter: waiting', () => {
  it('when every deployment is full, waits on the one that can admit soonest and is admitted then', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'slow', limiter: { tokensPerMinute: 6_000 } }, // 100 tokens/s
        { name: 'fast', limiter: { tokensPerMinute: 12_000 } }, // 200 tokens/s
      ],
    });
    router.deployment('slow')?.limiter.tryAcquire(6_000);
    router.deployment('fast')?.limiter.tryAcquire(12_000);
    expect(router.tryAcquire({ inputTokens: 1_200 })).toMatchObject({ granted: false, reason: 'exhausted', retryAfterMs: 6_000 });
    const waiting = track(router.acquire({ inputTokens: 1_200 }));
    await clock.advance(0);
    expect(router.deployment('fast')?.limiter.stats().waiting).toBe(1);
    await clock.advance(5_999);
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.value?.deployment.name).toBe('fast');
    expect(waiting.value?.permit).toMatchObject({ granted: true, inputTokens: 1_200 });
    // a later request sees fast's queue and bucket: slow is sooner now
    expect(router.choose({ inputTokens: 1_200 }).name).toBe('slow');
    router.close();
  });

  it('stays with the deployment it waits on: a pause meanwhile delays it, it does not move', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'a', limiter: { tokensPerMinute: 6_000 } },
        { name: 'b', limiter: { tokensPerMinute: 6_000 } },
      ],
    });
    router.deployment('a')?.limiter.tryAcquire(6_000);
    router.deployment('b')?.limiter.tryAcquire(5_000);
    const waiting = track(router.acquire({ inputTokens: 1_500 })); // b: 5 s, a: 15 s
    await clock.advance(1_000);
    router.observe('b', { status: 429, headers: { 'retry-after': '20' } });
    await clock.advance(19_999); // a could have served it long ago (at 15 s)
    expect(waiting.done).toBe(false);
    await clock.advance(1);
    expect(waiting.value?.deployment.name).toBe('b');
    router.close();
  });

  it('respects signal, maxWaitMs and priority while waiting', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({ clock, deployments: [{ name: 'only', limiter: { tokensPerMinute: 600 } }] });
    router.deployment('only')?.limiter.tryAcquire(600);
    await expect(router.acquire({ inputTokens: 100 }, { maxWaitMs: 1_000 })).rejects.toBeInstanceOf(WaitTimeoutError);
    const aborted = new AbortController();
    aborted.abort(new Error('before'));
    await expect(router.acquire({ inputTokens: 1 }, { signal: aborted.signal })).rejects.toThrow('before');
    const controller = new AbortController();
    const cancelled = track(router.acquire({ inputTokens: 100 }, { signal: controller.signal }));
    const order: string[] = [];
    const low = router.acquire({ inputTokens: 10 }).then(() => order.push('low'));
    const high = router.acquire({ inputTokens: 10 }, { priority: 5 }).then(() => order.push('high'));
    await clock.advance(100);
    controller.abort(new Error('gave up'));
    await clock.settle(Promise.all([low, high]));
    expect(cancelled.error).toMatchObject({ message: 'gave up' });
    expect(order).toEqual(['high', 'low']);
    await expect(router.acquire({ inputTokens: 1 }, { maxWaitMs: -1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(() => router.tryAcquire({ inputTokens: 1 }, { priority: Number.NaN })).toThrow(InvalidArgumentError);
    router.close();
  });

  it('close rejects the waiters and refuses from then on', async () => {
    const clock = new VirtualClock();
    const router = new LlmRouter({ clock, deployments: [{ name: 'a', limiter: { tokensPerMinute: 600 } }] });
    router.deployment('a')?.limiter.tryAcquire(600);
    const waiting = track(router.acquire({ inputTokens: 100 }));
    router.close();
    router.close();
    await clock.advance(0);
    expect(waiting.error).toBeInstanceOf(ClosedError);
    expect(router.tryAcquire({ inputTokens: 1 })).toMatchObject({ granted: false, reason: 'closed' });
    await expect(router.acquire({ inputTokens: 1 })).rejects.toBeInstanceOf(ClosedError);
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('LlmRouter: options', () => {
  it('rejects bad options at construction', () => {
    const limiter = { tokensPerMinute: 1_000 };
    expect(() => new LlmRouter(undefined as never)).toThrow(/deployments/);
    expect(() => new LlmRouter({ deployments: [] })).toThrow(/deployments must be a non-empty array/);
    expect(() => new LlmRouter({ deployments: 'a' as never })).toThrow(InvalidArgumentError);
    expect(() => new LlmRouter({ deployments: [null as never] })).toThrow(/deployments\[0\]/);
    expect(() => new LlmRouter({ deployments: [{ name: '', limiter }] })).toThrow(/deployments\[0\]\.name/);
    expect(
      () =>
        new LlmRouter({
          deployments: [
            { name: 'a', limiter },
            { name: 'a', limiter },
          ],
        }),
    ).toThrow(/deployments\[1\]\.name/);
    for (const weight of [0, -1, Number.NaN, Infinity, '2' as never]) {
      expect(() => new LlmRouter({ deployments: [{ name: 'a', limiter, weight }] })).toThrow(/weight/);
    }
    expect(() => new LlmRouter({ deployments: [{ name: 'a', limiter: undefined as never }] })).toThrow(/limiter/);
    expect(() => new LlmRouter({ deployments: [{ name: 'a', limiter: {} }] })).toThrow(/at least one of/);
    const shared = new LlmLimiter({ tokensPerMinute: 1_000 });
    expect(
      () =>
        new LlmRouter({
          deployments: [
            { name: 'a', limiter: shared },
            { name: 'b', limiter: shared },
          ],
        }),
    ).toThrow(/deployments\[1\]\.limiter/);
    expect(() => new LlmRouter({ deployments: [{ name: 'a', limiter }], name: '' })).toThrow(/name/);
    expect(() => new LlmRouter({ deployments: [{ name: 'a', limiter }], clock: { now: 5 } as never })).toThrow(/clock/);
    try {
      new LlmRouter({ deployments: [] });
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('takes limiters as given or made from options, named after the deployment, on the router clock', async () => {
    const clock = new VirtualClock();
    const given = new LlmLimiter({ tokensPerMinute: 1_000, clock, name: 'mine' });
    const router = new LlmRouter({
      clock,
      deployments: [
        { name: 'given', limiter: given, weight: 2 },
        { name: 'made', limiter: { tokensPerMinute: 600 } },
      ],
    });
    expect(router.deployments.map((d) => [d.name, d.limiter.name, d.weight])).toEqual([
      ['given', 'mine', 2],
      ['made', 'made', 1],
    ]);
    expect(router.deployment('given')?.limiter).toBe(given);
    const made = router.deployment('made')?.limiter as LlmLimiter;
    made.tryAcquire(600);
    const waiting = track(made.acquire(10));
    await clock.advance(1_000); // on the virtual clock: 10 tokens per second
    expect(waiting.state).toBe('fulfilled');
    router.close();
    expect(given.isClosed).toBe(true);
  });
});

// ---- property: never more than each deployment's bucket allows, and every acquire settles ----

const deploymentArb = fc.record({
  tpm: fc.integer({ min: 1_000, max: 8_000 }),
  rpm: fc.integer({ min: 3, max: 60 }),
  weight: fc.constantFrom(1, 2),
});

const settleArb = fc.constantFrom('keep', 'not-run', 'hold');

const opArb = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('acquire' as const),
      input: fc.integer({ min: 0, max: 2_500 }),
      output: fc.integer({ min: 0, max: 1_500 }),
      maxWaitMs: fc.option(fc.integer({ min: 0, max: 30_000 }), { nil: undefined }),
      abortAfterMs: fc.option(fc.integer({ min: 0, max: 20_000 }), { nil: undefined }),
      priority: fc.constantFrom(0, 1),
      settle: settleArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('try' as const),
      input: fc.integer({ min: 0, max: 2_500 }),
      output: fc.integer({ min: 0, max: 1_500 }),
      settle: settleArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 15_000 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('429' as const), deployment: fc.nat(), retryAfterMs: fc.integer({ min: 0, max: 10_000 }) }),
  },
);

describe('LlmRouter: properties', () => {
  it('never admits more on a deployment than its buckets allow (burst + rate × t, by reservations), and every acquire settles', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(deploymentArb, { minLength: 1, maxLength: 3 }),
        fc.array(opArb, { minLength: 10, maxLength: 60, size: 'max' }),
        async (specs, ops) => {
          const clock = new VirtualClock({ stallReportMs: false });
          const router = new LlmRouter({
            clock,
            deployments: specs.map((s, i) => ({
              name: `d${i}`,
              limiter: { requestsPerMinute: s.rpm, tokensPerMinute: s.tpm },
              weight: s.weight,
            })),
          });
          const largest = Math.max(...specs.map((s) => s.tpm));
          const net = new Map(specs.map((s, i) => [`d${i}`, { tokens: 0, requests: 0, spec: s }]));
          const violations: string[] = [];
          const admitted = (route: LlmRoute, settle: string): void => {
            const account = net.get(route.deployment.name);
            if (account === undefined) throw new Error(`unknown deployment ${route.deployment.name}`);
            const cost = route.permit.inputTokens + route.permit.maxOutputTokens;
            account.tokens += cost;
            account.requests += 1;
            const minutes = clock.now() / 60_000;
            const tokenBound = account.spec.tpm * (1 + minutes);
            const requestBound = account.spec.rpm * (1 + minutes);
            if (account.tokens > tokenBound + 1e-6 || account.requests > requestBound + 1e-9) {
              violations.push(
                `${route.deployment.name} at ${clock.now()} ms: ${account.tokens}/${tokenBound} tokens, ${account.requests}/${requestBound} requests`,
              );
            }
            if (settle === 'not-run') {
              route.permit.release(NOT_RUN); // everything comes back, the request too
              account.tokens -= cost;
              account.requests -= 1;
            } else if (settle === 'keep') {
              route.permit.release(); // no usage: the reservation stands
            }
          };
          const acquires: TrackedPromise<unknown>[] = [];
          for (const op of ops) {
            if (op.kind === 'advance') {
              await clock.advance(op.ms);
            } else if (op.kind === '429') {
              const name = `d${op.deployment % specs.length}`;
              router.observe(name, { status: 429, headers: { 'retry-after-ms': String(op.retryAfterMs) } });
            } else if (op.kind === 'try') {
              const request = { inputTokens: op.input, maxOutputTokens: op.output };
              if (op.input + op.output > largest) {
                expect(() => router.tryAcquire(request)).toThrow(TooLargeError);
                continue;
              }
              const result = router.tryAcquire(request);
              if (result.granted) admitted(result, op.settle);
            } else {
              const request = { inputTokens: op.input, maxOutputTokens: op.output };
              const controller = op.abortAfterMs === undefined ? undefined : new AbortController();
              if (controller !== undefined) clock.setTimer(() => controller.abort(new Error('aborted')), op.abortAfterMs as number);
              const options = {
                priority: op.priority,
                ...(op.maxWaitMs === undefined ? {} : { maxWaitMs: op.maxWaitMs }),
                ...(controller === undefined ? {} : { signal: controller.signal }),
              };
              const tracked = track(router.acquire(request, options).then((route) => admitted(route, op.settle)));
              acquires.push(tracked);
              if (op.input + op.output > largest) {
                await Promise.resolve();
                await Promise.resolve();
                expect(tracked.error).toBeInstanceOf(TooLargeError); // at once, no time passing
              }
            }
          }
          await clock.runUntilIdle();
          expect(violations).toEqual([]);
          expect(acquires.filter((a) => !a.done)).toEqual([]);
          for (const a of acquires) {
            if (a.state === 'rejected' && !(a.error instanceof Error && a.error.message === 'aborted')) {
              expect(a.error).toBeInstanceOf(Error);
              expect((a.error as { code?: string }).code).toMatch(/TOO_LARGE|TIMEOUT|QUEUE_FULL/);
            }
          }
          router.close();
          expect(clock.pendingTimers).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  }, 60_000);
});

// ---- end to end: two provider deployments behind one router ----

const MINUTES = 5;
const QUOTAS = [
  { name: 'eastus', tokensPerMinute: 60_000, requestsPerMinute: 600, seed: 3 },
  { name: 'westeurope', tokensPerMinute: 30_000, requestsPerMinute: 300, seed: 4 },
] as const;

/**
 * Five virtual minutes of demand at 1.5× the combined quota through one LlmRouter whose
 * limiters mirror two providers' quotas. Clients estimate input within ±15 %, reserve input +
 * max_tokens, release with the provider's usage, observe every response, and retry a 429 (through
 * the router again) after its hint.
 */
async function simulate() {
  const clock = new VirtualClock({ stallReportMs: false });
  const random = createRandom(21);
  const providers = new Map<string, ProviderSimulator>(
    QUOTAS.map((q) => [
      q.name,
      new ProviderSimulator({
        clock,
        requestsPerMinute: q.requestsPerMinute,
        tokensPerMinute: q.tokensPerMinute,
        latencyMs: (r) => r.uniform(300, 1_500),
        seed: q.seed,
      }),
    ]),
  );
  const router = new LlmRouter({
    clock,
    deployments: QUOTAS.map((q) => ({
      name: q.name,
      limiter: { requestsPerMinute: q.requestsPerMinute, tokensPerMinute: q.tokensPerMinute },
    })),
  });
  const combined = QUOTAS.reduce((sum, q) => sum + q.tokensPerMinute, 0);
  // mean actual use ≈ 1,000 input + 500 output (half of max_tokens): 1.5 × quota ≈ 90 requests a minute
  const arrivalsPerMs = (1.5 * combined) / 1_500 / 60_000;
  let attempts = 0;
  let throttled = 0;
  let shed = 0;
  const calls: Promise<void>[] = [];
  const callOnce = async (inputTokens: number, maxOutputTokens: number): Promise<void> => {
    const estimate = Math.round(inputTokens * random.uniform(0.85, 1.15));
    for (let attempt = 0; attempt < 3; attempt++) {
      const { deployment, permit } = await router.acquire({ inputTokens: estimate, maxOutputTokens }, { maxWaitMs: 60_000 });
      attempts++;
      const provider = providers.get(deployment.name) as ProviderSimulator; // every deployment has one
      const response = await provider.call({ inputTokens, maxOutputTokens });
      router.observe(deployment.name, response, response.body);
      if (response.usage !== undefined) {
        permit.release({ ok: true, usage: response.usage });
        return;
      }
      throttled++;
      permit.release({ ok: false, cost: 0 }); // refused by the provider: nothing was charged
      await new Promise<void>((resolve) => clock.setTimer(resolve, Number(response.headers['retry-after-ms'])));
    }
  };
  const end = MINUTES * 60_000;
  for (let at = random.exponential(1 / arrivalsPerMs); at < end; at += random.exponential(1 / arrivalsPerMs)) {
    await clock.advance(at - clock.now());
    calls.push(
      callOnce(random.int(500, 1_500), 1_000).catch(() => {
        shed++; // backpressure: waited past maxWaitMs or the queue was full; the caller sheds it
      }),
    );
  }
  await clock.advance(end - clock.now());
  const used = new Map<string, number>([...providers].map(([name, provider]) => [name, provider.stats().tokensUsed]));
  await clock.settle(Promise.all(calls));
  router.close();
  const total = [...used.values()].reduce((a, b) => a + b, 0);
  return {
    // the most the providers could have served: full buckets at the start plus the refill
    utilisation: total / (combined + combined * MINUTES),
    throttledShare: throttled / attempts,
    shares: QUOTAS.map((q) => ({ name: q.name, share: (used.get(q.name) as number) / total, quotaShare: q.tokensPerMinute / combined })),
    attempts,
    throttled,
    shed,
  };
}

describe('LlmRouter: two provider deployments at 1.5× their combined quota (virtual time)', () => {
  it('uses ≥ 90 % of the combined TPM, ≤ 0.5 % of calls answered 429, split by quota', async () => {
    const result = await simulate();
    expect(result.utilisation).toBeGreaterThanOrEqual(0.9);
    expect(result.throttledShare).toBeLessThanOrEqual(0.005);
    for (const { share, quotaShare } of result.shares) {
      expect(Math.abs(share - quotaShare)).toBeLessThanOrEqual(0.15 * quotaShare);
    }
    expect(result.shed).toBeGreaterThan(0); // the excess demand is shed at the client, not by the providers
  }, 60_000);
});
