import { describeGateContract, type GateContractOptions } from '@sluice/testing/contract';
import { TokenBucket } from '@sluice/rate-limit';

const options: GateContractOptions = {
  create: ({ clock }) => ({ gate: new TokenBucket({ ratePerSecond: 1, burst: 2, clock }), initial: 2, queueLimit: 0, refillMs: 1_000 }),
};
const _register: (name: string, options: GateContractOptions) => void = describeGateContract;
void options, _register;
