import { CircuitBreaker, consecutiveFailures, type BreakerState } from '@sluice/breaker';

const breaker = new CircuitBreaker({ trip: consecutiveFailures(3), halfOpenAfterMs: 30_000 });
const state: BreakerState = breaker.state;
const _body: Promise<string> = breaker.run(async () => 'body');
void state, _body;
