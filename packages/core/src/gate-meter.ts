import { InvalidArgumentError } from './errors.js';
import { ACQUIRE_NOW, NOT_RUN, hasAcquireNow, type AcquireNow, type AcquireOptions, type Gate, type Permit } from './gate.js';
import { checkCount, checkFunction, checkNumber, checkOptions, optionKeys } from './validate.js';

/** Options of a {@link GateMeter}. */
export interface GateMeterOptions<T> {
  /**
   * Units one item costs, in the gate's unit (bytes, tokens, requests): an integer from 0 to the
   * gate's `capacity`, computed once per item. Default: 1 per item. An item of cost 0 passes
   * without asking the gate.
   */
  readonly cost?: ((item: T) => number) | undefined;
  /**
   * Units to take from the gate at once when it can grant them right now (its synchronous fast
   * path); the following items are paid from that credit without calling the gate. Default 1:
   * every item asks for its own cost. When the gate cannot grant a whole batch now, items fall
   * back to asking for their own cost, so batching never adds waiting. Capped at the gate's
   * capacity. An integer ≥ 1.
   */
  readonly batch?: number | undefined;
  /** Priority of the meter's requests, any finite number, larger is more urgent; default 0. */
  readonly priority?: number | undefined;
  /** Longest an item may wait for the gate, in ms, before `pass` rejects with `WaitTimeoutError`; default `Infinity`. */
  readonly maxWaitMs?: number | undefined;
}

const GATE_METER_KEYS = optionKeys<GateMeterOptions<never>>()({ cost: true, batch: true, priority: true, maxWaitMs: true });

/**
 * Lets items through a gate one at a time, in order — the engine of the stream adapters
 * (`throttle` in `@sluice/web-streams` and `@sluice/node-streams`). Each item pays its cost from
 * a batch credit when one is held, else on the gate's synchronous fast path, else after an
 * `acquire`. Every permit is released exactly once: a per-item permit right after the item was
 * delivered (the gate meters passage; it does not hold a slot while the consumer works), a
 * credit once used up or when the meter closes or stops — with `{ cost: used }` when part of it
 * was not spent, so a gate that reconciles costs refunds the rest.
 *
 * The fast path is the `ACQUIRE_NOW` protocol rather than `tryAcquire`, so an item that has to
 * wait is counted once by the gate (as the `acquire` it then makes), not as a refusal too.
 *
 * @example
 * ```ts
 * const meter = new GateMeter('upload', bucket, { cost: (chunk: Uint8Array) => chunk.byteLength, batch: 64 * 1024 });
 * for await (const chunk of source) await meter.pass(chunk, send);
 * meter.close();
 * ```
 */
export class GateMeter<T> {
  private readonly cost: ((item: T) => number) | undefined;
  private readonly batch: number;
  private readonly priority: number;
  private readonly fast: AcquireNow | undefined;
  private readonly controller = new AbortController();
  private readonly waitOptions: AcquireOptions;
  private credit: Permit | undefined = undefined;
  /** Units the held credit was granted. */
  private granted = 0;
  /** Units of the held credit not spent yet; 0 without a credit (so cost-0 items pass free). */
  private left = 0;
  private stopped = false;
  private reason: unknown = undefined;

  /**
   * @param where - name used in error messages (the adapter's name).
   * @param gate - the gate every item passes.
   * @throws InvalidArgumentError naming a bad `cost`, `batch`, `priority` or `maxWaitMs`, or an
   *   unknown option.
   */
  constructor(
    private readonly where: string,
    private readonly gate: Gate,
    options: GateMeterOptions<T> = {},
  ) {
    checkOptions<GateMeterOptions<never>>(where, options, GATE_METER_KEYS);
    checkFunction(where, 'cost', options.cost, true);
    this.cost = options.cost;
    this.batch = checkNumber(where, 'batch', options.batch ?? 1, { min: 1, integer: true });
    this.priority = checkNumber(where, 'priority', options.priority ?? 0);
    const maxWaitMs = checkNumber(where, 'maxWaitMs', options.maxWaitMs ?? Infinity, { min: 0, allowInfinity: true });
    this.fast = hasAcquireNow(gate) ? gate : undefined;
    this.waitOptions = { priority: this.priority, maxWaitMs, signal: this.controller.signal };
  }

  /**
   * Calls `deliver(item)` once `item` is paid for: at once (returns `undefined`) or after a wait
   * (returns a promise that rejects with the gate's error, or the stop reason). Call it for one
   * item at a time. A throw from `cost` or `deliver` propagates.
   */
  pass(item: T, deliver: (item: T) => void): void | Promise<void> {
    if (this.stopped) throw this.reason;
    const count = this.cost === undefined ? 1 : this.costOf(item);
    if (count <= this.left) {
      this.left -= count;
      deliver(item);
      if (this.left === 0 && this.credit !== undefined) this.returnCredit();
      return undefined;
    }
    const gate = this.gate;
    checkCount(count, gate.capacity, gate.name);
    if (this.credit !== undefined) this.returnCredit();
    const fast = this.fast;
    if (fast !== undefined) {
      const batch = Math.min(this.batch, gate.capacity);
      if (batch > count) {
        const credit = fast[ACQUIRE_NOW](batch, this.priority);
        if (credit !== undefined) {
          this.credit = credit;
          this.granted = batch;
          this.left = batch - count;
          deliver(item);
          return undefined;
        }
      }
      const permit = fast[ACQUIRE_NOW](count, this.priority);
      if (permit !== undefined) return this.deliverUnder(permit, item, deliver);
    }
    return gate.acquire(count, this.waitOptions).then((permit) => {
      if (this.stopped) {
        permit.release(NOT_RUN);
        throw this.reason;
      }
      this.deliverUnder(permit, item, deliver);
    });
  }

  /** Gives back what is left of a batch credit. Idempotent. */
  close(): void {
    this.returnCredit();
  }

  /** Withdraws a pending `acquire` (it rejects with `reason`) and gives back the credit. Idempotent. */
  stop(reason: unknown): void {
    if (this.stopped) return;
    this.stopped = true;
    this.reason = reason;
    this.controller.abort(reason);
    this.returnCredit();
  }

  private costOf(item: T): number {
    const count = (this.cost as (item: T) => number)(item);
    if (!Number.isInteger(count) || count < 0) {
      throw new InvalidArgumentError(this.where, 'cost', 'a function returning an integer ≥ 0', count);
    }
    return count;
  }

  private deliverUnder(permit: Permit, item: T, deliver: (item: T) => void): void {
    try {
      deliver(item);
    } catch (error) {
      permit.release(NOT_RUN);
      throw error;
    }
    permit.release();
  }

  private returnCredit(): void {
    const credit = this.credit;
    if (credit === undefined) return;
    const granted = this.granted;
    const used = granted - this.left;
    this.credit = undefined;
    this.granted = 0;
    this.left = 0;
    credit.release(used === granted ? undefined : { cost: used });
  }
}
