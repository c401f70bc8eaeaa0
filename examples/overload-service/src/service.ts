import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { isSluiceError } from '@sluice/core';
import { Backend, type BackendStats } from './backend.js';
import { PRIORITIES, createProtection, protectionFor, type Protection, type ProtectionSettings } from './protection.js';

/** `unprotected`: every request waits for the backend. `protected`: sluice in front of it. */
export type Mode = 'unprotected' | 'protected';

/** Options of {@link createService}. */
export interface ServiceOptions {
  readonly mode: Mode;
  /** Backend workers; default 10. */
  readonly workers?: number;
  /** Backend service time per request, ms; default 100 (10 × 100 ms = 100 requests/s). */
  readonly serviceMs?: number;
  /** Overrides of the protection settings (protected mode). */
  readonly protection?: Partial<ProtectionSettings>;
}

/** A snapshot of the service, for the load generator's report. */
export interface ServiceStats {
  readonly mode: Mode;
  /** Resident set size of this process, bytes. */
  readonly rss: number;
  readonly heapUsed: number;
  /** Longest the event loop was held up since the last sample, ms (a busy or descheduled process). */
  readonly loopDelayMaxMs: number;
  readonly backend: BackendStats;
  /** Backend work finished for a client that had already hung up (its answer went nowhere). */
  readonly wasted: number;
  /** Refusals by the layer that refused (`per-client`, `shedder`, `concurrency`, `breaker`). */
  readonly refusedBy: Readonly<Record<string, number>>;
  /** The breaker's state (protected mode). */
  readonly breaker: string | undefined;
}

/** A running service. */
export interface Service {
  readonly server: Server;
  readonly backend: Backend;
  /** The sluice stack (protected mode). */
  readonly protection: Protection | undefined;
  /** Listens on 127.0.0.1, port 0 (any free port); resolves with the port. */
  listen(): Promise<number>;
  stats(): ServiceStats;
  /** Closes the server and every connection, the gates, and the backend (dropping its queue). */
  close(): Promise<void>;
}

/** `Retry-After` when a refusal cannot say when a retry would succeed (`retryAfterMs` undefined). */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Answers a refusal: `status` (429 for the client's own quota, 503 when the service is full or
 * its backend is failing) with `Retry-After` in whole seconds (at least 1, as HTTP has it) and
 * the exact hint in `retry-after-ms`, both from the refusal's `retryAfterMs`.
 */
function refuse(res: ServerResponse, status: 429 | 503, gate: string, reason: string, retryAfterMs: number | undefined): void {
  const ms = Math.ceil(retryAfterMs ?? DEFAULT_RETRY_AFTER_MS);
  const body = `{"error":"${reason}","gate":"${gate}","retryAfterMs":${ms}}`;
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'retry-after': String(Math.max(1, Math.ceil(ms / 1000))),
    'retry-after-ms': String(ms),
    'x-refused-by': gate,
  });
  res.end(body);
}

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/**
 * The service: `GET /` does one backend call and answers 200 — directly in `unprotected` mode,
 * through the sluice stack in `protected` mode (see `createProtection`). `GET /warmup` answers
 * 204 without touching either (the load generator's warm-up). Clients name themselves in
 * `x-client-id` and their priority in `x-priority` (`high`, `normal`, `low`).
 */
export function createService(options: ServiceOptions): Service {
  const backend = new Backend({ workers: options.workers ?? 10, serviceMs: options.serviceMs ?? 100 });
  const protection =
    options.mode === 'protected' ? createProtection({ ...protectionFor(backend.workers), ...options.protection }) : undefined;
  let wasted = 0;
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  const refusedBy: Record<string, number> = {};
  const countRefusal = (gate: string) => {
    const layer = gate.startsWith('per-client') ? 'per-client' : gate;
    refusedBy[layer] = (refusedBy[layer] ?? 0) + 1;
  };

  const answered = (res: ServerResponse) => {
    if (res.destroyed || res.socket === null || res.socket.destroyed) {
      wasted++;
      return false;
    }
    return true;
  };

  /** Unprotected: wait for the backend, however long its queue. */
  async function plain(res: ServerResponse): Promise<void> {
    try {
      await backend.call();
      if (answered(res)) reply(res, 200, '{"ok":true}');
    } catch {
      if (answered(res)) reply(res, 500, '{"error":"backend"}');
    }
  }

  /** Protected: the client's quota, then breaker → shedder → concurrency, then the backend. */
  async function guarded(req: IncomingMessage, res: ServerResponse, guard: Protection): Promise<void> {
    const client = header(req.headers['x-client-id']) ?? req.socket.remoteAddress ?? 'unknown';
    const priority = PRIORITIES[header(req.headers['x-priority']) ?? 'normal'] ?? 0;

    const quota = guard.perClient.tryAcquire(client);
    if (!quota.granted) {
      countRefusal(quota.gate);
      refuse(res, 429, quota.gate, quota.reason, quota.retryAfterMs);
      return;
    }
    try {
      // never waits: every layer answers now (no queue anywhere in front of the backend)
      await guard.door.run(() => backend.call(), { priority });
    } catch (error) {
      if (isSluiceError(error)) {
        guard.perClient.get(client)?.refund(1); // the work never ran: the client keeps its token
        const gate = error.gate ?? guard.door.name;
        countRefusal(gate);
        refuse(res, 503, gate, error.code, error.retryAfterMs);
      } else if (answered(res)) {
        reply(res, 500, '{"error":"backend"}'); // counted by the breaker
      }
      return;
    }
    if (answered(res)) reply(res, 200, '{"ok":true}');
  }

  const server = createServer((req, res) => {
    if (req.url === '/warmup') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (protection === undefined) void plain(res);
    else void guarded(req, res, protection);
  });
  server.keepAliveTimeout = 10_000;

  return {
    server,
    backend,
    protection,
    listen() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => {
          server.off('error', reject);
          loopDelay.enable();
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    stats() {
      const memory = process.memoryUsage();
      const loopDelayMaxMs = loopDelay.max / 1e6;
      loopDelay.reset();
      return {
        mode: options.mode,
        rss: memory.rss,
        heapUsed: memory.heapUsed,
        loopDelayMaxMs,
        backend: backend.stats(),
        wasted,
        refusedBy: { ...refusedBy },
        breaker: protection?.door.breaker?.state,
      };
    },
    close() {
      loopDelay.disable();
      backend.close();
      protection?.close();
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
