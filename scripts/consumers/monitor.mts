import { ConcurrencyLimiter } from '@sluice/concurrency';
import { QueueMonitor, depthAbove, prometheusFetchHandler, prometheusText } from '@sluice/monitor';

const monitor = new QueueMonitor({ sampleEveryMs: 1_000 });
monitor.watch('jobs', new ConcurrencyLimiter({ maxConcurrent: 1, queueLimit: 100 }));
monitor.alert('jobs', depthAbove(2), { onFire: (event) => console.log(event.component) });
const text: string = prometheusText(monitor);
const handler: (request?: Request) => Response = prometheusFetchHandler(monitor);
const _response: Response = handler(new Request('https://example.com/metrics'));
void text, _response;
