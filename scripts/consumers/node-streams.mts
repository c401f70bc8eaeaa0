import { Readable, type Transform, type Duplex } from 'node:stream';
import { DroppingBuffer } from '@sluice/buffer';
import { TokenBucket } from '@sluice/rate-limit';
import { bufferStream, fromBuffer, throttle } from '@sluice/node-streams';

const paced: Transform = throttle(new TokenBucket({ ratePerSecond: 100, burst: 10 }));
const latest = new DroppingBuffer<number>({ capacity: 10, strategy: 'drop-oldest' });
const duplex: Duplex = bufferStream(latest);
const readable: Readable = Readable.from([1, 2, 3]).pipe(duplex).pipe(paced);
const _again: Readable = fromBuffer(latest);
void readable, _again;
