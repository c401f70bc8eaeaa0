import {
  Emitter,
  InvalidArgumentError,
  checkNumber,
  systemClock,
  optionKeys,
  checkOptions,
  type Clock,
  type Disposer,
  checkClock,
} from '@sluice/core';
import type { RedisScriptClient } from './client.js';
import type { LuaScript } from './scripts.js';

/** Options of a {@link RedisStore}. */
export interface RedisStoreOptions {
  /** The connection: an ioredis `Redis`/`Cluster`, or any {@link RedisScriptClient}. */
  readonly client: RedisScriptClient;
  /** First part of every key; default `'sluice'`. Keys look like `sluice:{limiter:key}:field`. */
  readonly prefix?: string;
  /**
   * Longest a script call may take before it counts as a store failure, in ms; default 250.
   * The limiter's failure policy then decides. A call that timed out may still run on the server
   * later (its effect — a debit — stands), so a timeout errs on the side of less capacity.
   */
  readonly timeoutMs?: number;
  /** Clock of the timeouts; default `systemClock`. */
  readonly clock?: Clock;
}

/** Why a script call failed: the server's error, the timeout, or the connection. */
export class StoreCallError extends Error {
  /** Name of the script that failed. */
  readonly script: string;
  /** True when the call ran past `timeoutMs`. */
  readonly timedOut: boolean;
  constructor(script: string, message: string, timedOut: boolean, cause?: unknown) {
    super(`${script}: ${message}`, cause === undefined ? undefined : { cause });
    this.script = script;
    this.timedOut = timedOut;
  }
}
Object.defineProperty(StoreCallError.prototype, 'name', { value: 'StoreCallError', writable: true });

/** CRC16 (XMODEM) table, as Redis Cluster hashes keys. */
const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/**
 * The Redis Cluster hash slot of `key` (0 … 16383): CRC16 of its hash tag — the part between the
 * first `{` and the next `}` when that part is not empty — or of the whole key.
 */
export function hashSlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  const bytes = new TextEncoder().encode(hashed);
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number);
  return crc % 16384;
}

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

const REDIS_STORE_KEYS = optionKeys<RedisStoreOptions>()({ client: true, prefix: true, timeoutMs: true, clock: true });

/**
 * The shared part of every Redis-backed limiter: a client, a key prefix, and script calls by
 * EVALSHA with the `NOSCRIPT` fallback to EVAL (which also loads the script, so the next call
 * is an EVALSHA again), each bounded by a timeout. Keys are hash-tagged per limiter key, so one
 * script touches one cluster slot.
 *
 * @example
 * ```ts
 * import Redis from 'ioredis';
 * const store = new RedisStore({ client: new Redis(6379, '127.0.0.1'), timeoutMs: 100 });
 * ```
 */
export class RedisStore {
  /** The connection. */
  readonly client: RedisScriptClient;
  /** First part of every key. */
  readonly prefix: string;
  /** Timeout of each call, ms. */
  readonly timeoutMs: number;
  /** Clock of the timeouts. */
  readonly clock: Clock;
  /**
   * Whether the client talks to a Redis Cluster, so one script may only touch keys of one slot:
   * ioredis's `isCluster`, else assumed (coalesced calls are then grouped by slot).
   */
  readonly cluster: boolean;
  private readonly noScript = new Emitter<string, void>();

  /** @throws InvalidArgumentError for a missing client or a bad prefix or timeout. */
  constructor(options: RedisStoreOptions) {
    checkOptions('RedisStore', options, REDIS_STORE_KEYS);
    const client = (options as Partial<RedisStoreOptions>).client;
    if (typeof client !== 'object' || client === null || typeof client.evalsha !== 'function' || typeof client.eval !== 'function') {
      throw new InvalidArgumentError(
        'RedisStore',
        'client',
        'a Redis client with evalsha and eval (ioredis, or fromNodeRedis(client))',
        client,
      );
    }
    const prefix = options.prefix ?? 'sluice';
    if (typeof prefix !== 'string' || prefix.length === 0 || /[{}]/.test(prefix)) {
      throw new InvalidArgumentError('RedisStore', 'prefix', 'a non-empty string without braces', prefix);
    }
    this.client = client;
    this.prefix = prefix;
    this.timeoutMs = checkNumber('RedisStore', 'timeoutMs', options.timeoutMs ?? 250, { min: 0, exclusiveMin: true, allowInfinity: true });
    this.clock = checkClock('RedisStore', options.clock) ?? systemClock;
    this.cluster = (client as { readonly isCluster?: unknown }).isCluster !== false;
  }

  /**
   * The key of `field` of `key` in limiter `limiter`: `prefix:{limiter:key}:field`. The part in
   * braces is the cluster hash tag, so every field of one limiter key lives in one slot.
   */
  key(limiter: string, key: string, field: string): string {
    return `${this.prefix}:{${limiter}:${key}}:${field}`;
  }

  /** Subscribes to `NOSCRIPT` recoveries (the script's name); returns an unsubscriber. */
  onNoScript(listener: (script: string) => void): Disposer {
    return this.noScript.on(listener);
  }

  /**
   * Runs `script` with `keys` and `args`: EVALSHA, then EVAL if the server answered `NOSCRIPT`.
   * Rejects with a {@link StoreCallError} on a server or connection error, or after `timeoutMs`.
   */
  run(script: LuaScript, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    const call = this.client.evalsha(script.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      this.noScript.emit(script.name, undefined);
      return this.client.eval(script.source, keys.length, ...keys, ...args);
    });
    return this.bounded(script.name, call);
  }

  private bounded(name: string, call: Promise<unknown>): Promise<unknown> {
    if (this.timeoutMs === Infinity) return call.catch((error: unknown) => Promise.reject(wrap(name, error)));
    return new Promise((resolve, reject) => {
      const timer = this.clock.setTimer(
        () => reject(new StoreCallError(name, `no answer within ${this.timeoutMs} ms`, true)),
        this.timeoutMs,
      );
      call.then(
        (value) => {
          this.clock.clearTimer(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.clock.clearTimer(timer);
          reject(wrap(name, error));
        },
      );
    });
  }
}

function wrap(name: string, error: unknown): StoreCallError {
  if (error instanceof StoreCallError) return error;
  return new StoreCallError(name, error instanceof Error ? error.message : String(error), false, error);
}
