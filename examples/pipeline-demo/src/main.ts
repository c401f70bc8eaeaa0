import { systemClock } from '@sluice/core';
import { runDemo, type SecondReport } from './demo.js';

const PRODUCER_PER_SECOND = 200;
const CONSUMER_PER_SECOND = 100;
const DURATION_MS = 6_000;

const pad = (value: string | number, width: number) => String(value).padStart(width);

console.log(
  `sluice demo: a producer offering ${PRODUCER_PER_SECOND} jobs/s to a consumer that takes ${CONSUMER_PER_SECOND} jobs/s,\n` +
    'through pipeline(intake, drain). Each job asks tryAcquire(): admitted, or refused with a retry hint.\n',
);
console.log(
  `${pad('second', 6)} ${pad('offered', 8)} ${pad('admitted', 9)} ${pad('refused', 8)} ${pad('retry-after (mean)', 19)} ${pad('pressure', 9)}`,
);

const row = (r: SecondReport) =>
  console.log(
    `${pad(`${r.second}s`, 6)} ${pad(r.offered, 8)} ${pad(r.admitted, 9)} ${pad(r.refused, 8)} ${pad(
      r.meanRetryAfterMs === undefined ? '-' : `${r.meanRetryAfterMs.toFixed(1)} ms`,
      19,
    )} ${pad(r.pressure.toFixed(2), 9)}`,
  );

const summary = await runDemo({
  clock: systemClock,
  durationMs: DURATION_MS,
  producerPerSecond: PRODUCER_PER_SECOND,
  consumerPerSecond: CONSUMER_PER_SECOND,
  onSecond: row,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
});

const seconds = DURATION_MS / 1000;
console.log(
  `\ntotal: offered ${summary.offered}, admitted ${summary.admitted} (${(summary.admitted / seconds).toFixed(1)}/s, the consumer's pace), ` +
    `refused ${summary.refused}, of which ${summary.refusedWithHint} carried a retry-after hint.`,
);
console.log('The pipeline is closed and holds no timers: the process exits by itself.');
