import { describe, expect, it } from 'vitest';
import {
  AllOf,
  BoundedBuffer,
  CircuitBreaker,
  ConcurrencyLimiter,
  DroppingBuffer,
  Gcra,
  InvalidArgumentError,
  KeyedLimiter,
  KeyedLlmLimiter,
  LlmLimiter,
  LoadShedder,
  Pipeline,
  PriorityBuffer,
  QueueMonitor,
  SlidingWindow,
  TokenBucket,
  checkBuffer,
  consecutiveFailures,
  checkClock,
  checkGate,
  overloadProtection,
  passThrough,
  sseStream,
  wrapFetch,
} from '../src/index.js';

/** A clock that can read the time but not set a timer: accepted by none of the components. */
const halfClock = { now: () => 0 } as never;

const MESSAGE_TAIL = 'must be a Clock (an object with now, setTimer and clearTimer); received an object';

const limits = { requestsPerMinute: 60 };

describe('every component that takes a clock checks it at construction, with one message', () => {
  const cases: [string, () => unknown][] = [
    ['TokenBucket', () => new TokenBucket({ ratePerSecond: 1, burst: 1, clock: halfClock })],
    ['Gcra', () => new Gcra({ ratePerSecond: 1, burst: 1, clock: halfClock })],
    ['SlidingWindow', () => new SlidingWindow({ limit: 1, windowMs: 1000, clock: halfClock })],
    ['AllOf', () => new AllOf([new TokenBucket({ ratePerSecond: 1, burst: 1 })], { clock: halfClock })],
    ['KeyedLimiter', () => new KeyedLimiter({ create: () => passThrough(), clock: halfClock })],
    ['ConcurrencyLimiter', () => new ConcurrencyLimiter({ maxConcurrent: 1, clock: halfClock })],
    ['LoadShedder', () => new LoadShedder({ capacity: 10, clock: halfClock })],
    ['CircuitBreaker', () => new CircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfterMs: 50, clock: halfClock })],
    ['overloadProtection', () => overloadProtection({ concurrency: { maxConcurrent: 1 }, clock: halfClock })],
    ['Pipeline', () => new Pipeline([passThrough()], { clock: halfClock })],
    ['LlmLimiter', () => new LlmLimiter({ ...limits, clock: halfClock })],
    ['KeyedLlmLimiter', () => new KeyedLlmLimiter({ limits, clock: halfClock })],
    ['wrapFetch', () => wrapFetch(fetch, new LlmLimiter(limits), { clock: halfClock })],
    ['BoundedBuffer', () => new BoundedBuffer({ capacity: 1, clock: halfClock })],
    ['DroppingBuffer', () => new DroppingBuffer({ capacity: 1, strategy: 'drop-newest', clock: halfClock })],
    ['PriorityBuffer', () => new PriorityBuffer<number>({ capacity: 1, levels: 2, priorityOf: (n) => n, clock: halfClock })],
    ['QueueMonitor', () => new QueueMonitor({ clock: halfClock })],
    ['sseStream', () => sseStream((async function* () {})(), { clock: halfClock })],
  ];
  it.each(cases)('%s', (_name, make) => {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(InvalidArgumentError);
    expect((thrown as Error).message).toMatch(/: clock must be a Clock/);
    expect((thrown as Error).message.endsWith(MESSAGE_TAIL)).toBe(true);
  });
});

describe('checkClock, checkGate, checkBuffer', () => {
  it('accept what they describe and return it', () => {
    const clock = { now: () => 1, setTimer: () => 0, clearTimer: () => {} };
    expect(checkClock('x', clock)).toBe(clock);
    expect(checkClock('x', undefined)).toBeUndefined();
    const gate = passThrough();
    expect(checkGate('x', gate)).toBe(gate);
    const buffer = new BoundedBuffer<number>({ capacity: 1 });
    expect(checkBuffer('x', buffer)).toBe(buffer);
  });

  it('refuse anything else, naming the component, the argument and the value', () => {
    expect(() => checkClock('T', null)).toThrow('T: clock must be a Clock (an object with now, setTimer and clearTimer); received null');
    expect(() => checkGate('throttle', { tryAcquire() {}, acquire() {} })).toThrow(
      'throttle: gate must be a Gate (an object with name, tryAcquire and acquire); received an object',
    );
    expect(() => checkGate('p', 7, 'stages[3]')).toThrow('p: stages[3] must be a Gate');
    expect(() => checkBuffer('toBuffer', { offer() {}, poll() {} })).toThrow(
      'toBuffer: buffer must be an ItemBuffer (an object with offer, poll, put, take and close); received an object',
    );
  });
});
