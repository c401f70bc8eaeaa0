import {
  PassThroughGate,
  pipeline,
  passThrough,
  systemClock,
  type Clock,
  type Gate,
  type Permit,
  type Refusal,
  type TimerHandle,
} from '@sluice/core';

const clock: Clock = systemClock;
const timer: TimerHandle = clock.setTimer(() => {}, 10);
clock.clearTimer(timer);
const gate: Gate = pipeline(passThrough({ name: 'a' }), new PassThroughGate({ name: 'b' }));
const answer: Permit | Refusal = gate.tryAcquire();
if (answer.granted) answer.release({ ok: true, durationMs: 1 });
const controller = new AbortController();
const waiting: Promise<Permit> = gate.acquire(1, { signal: controller.signal, maxWaitMs: 100 });
void waiting;
