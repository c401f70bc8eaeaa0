import { BoundedBuffer, DroppingBuffer } from '@sluice/buffer';
import type { ItemBuffer, OfferResult } from '@sluice/core';

const jobs: ItemBuffer<string> = new BoundedBuffer<string>({ capacity: 4, highWaterMark: 3, lowWaterMark: 1 });
const offered: OfferResult = jobs.offer('a');
const latest = new DroppingBuffer<number>({ capacity: 2, strategy: 'drop-oldest' });
const _next: number | undefined = latest.poll();
const _taken: Promise<string> = jobs.take({ signal: AbortSignal.timeout(100) });
void offered, _next, _taken;
