import { LoadShedder, loadShedder } from '@sluice/shedder';
import type { Permit, Refusal } from '@sluice/core';

const shedder: LoadShedder = loadShedder({ capacity: 100 });
const answer: Permit | Refusal = shedder.tryAcquire(1, { priority: -1 });
const _utilisation: number = new LoadShedder({ capacity: 10 }).utilisation;
void answer, _utilisation;
