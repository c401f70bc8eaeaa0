// Type-level tests: compiled by `pnpm typecheck` (an assertion that fails is a type error).
import { expectTypeOf } from 'vitest';
import {
  Emitter,
  NOT_RUN,
  pipeline,
  passThrough,
  isSluiceError,
  isQueueFullError,
  type AcquireOptions,
  type Gate,
  type ItemBuffer,
  type OfferResult,
  type Outcome,
  type Permit,
  type Refusal,
  type RefusalReason,
  type SluiceError,
  type QueueFullError,
} from '@sluice/core';

declare const gate: Gate;

// tryAcquire is synchronous and narrows on `granted`
const result = gate.tryAcquire();
expectTypeOf(result).toEqualTypeOf<Permit | Refusal>();
if (result.granted) {
  expectTypeOf(result).toEqualTypeOf<Permit>();
  expectTypeOf(result.release).parameter(0).toEqualTypeOf<Outcome | undefined>();
} else {
  expectTypeOf(result).toEqualTypeOf<Refusal>();
  expectTypeOf(result.reason).toEqualTypeOf<RefusalReason>();
  expectTypeOf(result.retryAfterMs).toEqualTypeOf<number | undefined>();
}

// acquire returns a promise of a permit; run returns the function's value
expectTypeOf(gate.acquire()).toEqualTypeOf<Promise<Permit>>();
expectTypeOf(gate.run(() => 42)).toEqualTypeOf<Promise<number>>();
expectTypeOf(gate.run(async () => 'x')).toEqualTypeOf<Promise<string>>();

// options are readonly and reject unknown units
expectTypeOf<AcquireOptions>().toHaveProperty('maxWaitMs');
// @ts-expect-error a wait limit is a number of ms, not a string
gate.acquire(1, { maxWaitMs: '10' });
// @ts-expect-error count is a number
gate.tryAcquire('1');

// NOT_RUN is an Outcome; an outcome is optional on release
expectTypeOf(NOT_RUN).toEqualTypeOf<Outcome>();

// a pipeline is a gate, and nests
expectTypeOf(pipeline(passThrough(), passThrough())).toMatchTypeOf<Gate>();
expectTypeOf(pipeline({ name: 'x' }, pipeline(passThrough()))).toMatchTypeOf<Gate>();

// guards narrow unknown errors
declare const error: unknown;
if (isSluiceError(error)) expectTypeOf(error).toEqualTypeOf<SluiceError>();
if (isQueueFullError(error)) expectTypeOf(error.queueLimit).toEqualTypeOf<number | undefined>();
if (isQueueFullError(error)) expectTypeOf(error).toEqualTypeOf<QueueFullError>();

// emitters are typed by their payloads
const drops = new Emitter<string, number>();
drops.on((item, total) => {
  expectTypeOf(item).toEqualTypeOf<string>();
  expectTypeOf(total).toEqualTypeOf<number>();
});
// @ts-expect-error the payload types are enforced
drops.emit(1, 'x');
new Emitter().emit();

// buffers answer with a closed set of results and iterate asynchronously
declare const buffer: ItemBuffer<{ id: number }>;
expectTypeOf(buffer.offer({ id: 1 })).toEqualTypeOf<OfferResult>();
expectTypeOf(buffer).toMatchTypeOf<AsyncIterable<{ id: number }>>();
expectTypeOf(buffer.close()).toEqualTypeOf<{ id: number }[]>();
