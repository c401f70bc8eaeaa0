import fc from 'fast-check';
import { arrivalSchedule, gateOperations, type Arrival, type GateOperation } from '@sluice/testing/arbitraries';

const operations: fc.Arbitrary<GateOperation[]> = gateOperations({ maxCount: 3 });
const arrivals: fc.Arbitrary<Arrival[]> = arrivalSchedule();
const _sample: GateOperation[][] = fc.sample(operations, 1);
void arrivals, _sample;
