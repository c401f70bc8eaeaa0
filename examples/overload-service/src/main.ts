import { runMode, type ModeReport, type Progress } from './harness.js';
import { CLIENTS } from './load.js';
import { protectionFor } from './protection.js';
import { clientTable, collapse, progressLine, table, verdict } from './report.js';

/** `--name N` or the environment variable `env`, else `fallback`. */
function option(name: string, env: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const raw = at >= 0 ? process.argv[at + 1] : process.env[env];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} (${env}) must be a positive number, got ${raw}`);
  return value;
}

const SECONDS = option('seconds', 'DEMO_SECONDS', 10);
const RATE = option('rate', 'DEMO_RATE', 5_000);
const WORKERS = 10;
const SERVICE_MS = 100;
const TIMEOUT_MS = 2_000;
const MAX_SOCKETS = 256;

const began = performance.now();
const capacity = (WORKERS * 1000) / SERVICE_MS;
const settings = protectionFor(WORKERS);
const share = CLIENTS.reduce((sum, c) => sum + c.share, 0);
console.log(`sluice demo — the Traffic Dam
A Node HTTP service whose backend does ${capacity} requests/s (${WORKERS} workers × ${SERVICE_MS} ms), offered ${RATE.toLocaleString('en-US')} requests/s
(${Math.round(RATE / capacity)}× its capacity) for ${SECONDS} s from 127.0.0.1: open loop, keep-alive pool of ${MAX_SOCKETS} sockets, ${TIMEOUT_MS / 1000} s client timeout.
Clients: ${CLIENTS.map((c) => `${c.id} ${Math.round((100 * c.share) / share)}% (${c.priority})`).join(', ')}.
1. unprotected: every request waits for the backend, in an unbounded queue.
2. protected:   per-client quota (${settings.standardQuota.ratePerSecond}/s; ${settings.paidClients.join(', ')} ${settings.paidQuota.ratePerSecond}/s) → breaker → priority shedder → concurrency ${WORKERS}, no queue.
The service runs in a process of its own; each mode starts a fresh one, warms up for 1 s, then runs.
`);

const tty = process.stdout.isTTY === true;
let lastPrinted = -1;
const onProgress = (p: Progress) => {
  const second = Math.round(p.elapsedMs / 1000);
  if (tty) process.stdout.write(`\r${progressLine(p)}\x1b[K`);
  else if (second % 2 === 0 && second !== lastPrinted) console.log(progressLine(p));
  lastPrinted = second;
};

const reports: ModeReport[] = [];
for (const mode of ['unprotected', 'protected'] as const) {
  lastPrinted = -1;
  const report = await runMode({
    mode,
    ratePerSecond: RATE,
    seconds: SECONDS,
    workers: WORKERS,
    serviceMs: SERVICE_MS,
    timeoutMs: TIMEOUT_MS,
    maxSockets: MAX_SOCKETS,
    onProgress,
  });
  if (tty) process.stdout.write('\n');
  console.log(`${mode.padEnd(11)} done in ${(report.wallMs / 1000).toFixed(1)} s (service start to exit)`);
  reports.push(report);
}
const [unprotectedRun, protectedRun] = reports as [ModeReport, ModeReport];

console.log(`\n${table(reports)}\n`);
console.log(`protected, per client (${SECONDS} s):\n${clientTable(protectedRun, CLIENTS)}\n`);
const result = verdict(protectedRun);
console.log(`verdict, protected: ${result.pass ? 'every target met' : 'a target was missed'}`);
for (const line of result.lines) console.log(line);
console.log('unprotected: the collapse');
for (const line of collapse(unprotectedRun, protectedRun)) console.log(line);
console.log(`\ntotal ${((performance.now() - began) / 1000).toFixed(1)} s`);
