import { eventLoopLag, type EventLoopLagSignal } from '@sluice/shedder/node';
import { LoadShedder } from '@sluice/shedder';

const lag: EventLoopLagSignal = eventLoopLag();
const lagMs: number = lag.lagMs;
const _shedder = new LoadShedder({ capacity: 100, signals: [lag] });
lag.close();
void lagMs, _shedder;
