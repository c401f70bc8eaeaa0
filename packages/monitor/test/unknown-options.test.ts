import { describeInvalidOptions, type InvalidOptionsCase } from '@sluice/testing/contract';
import {
  EwmaRate,
  LogLinearHistogram,
  QueueMonitor,
  collectFamilies,
  prometheusFetchHandler,
  prometheusHandler,
  prometheusText,
} from '@sluice/monitor';
import { registerOpenTelemetry } from '@sluice/monitor/otel';
import { registerPromClient } from '@sluice/monitor/prom-client';
import { tokenBucket } from '@sluice/rate-limit';

function watched(): QueueMonitor {
  const monitor = new QueueMonitor();
  monitor.watch('api', tokenBucket({ ratePerSecond: 1, burst: 1 }));
  return monitor;
}
const table: InvalidOptionsCase[] = [
  [
    'QueueMonitor',
    () => new QueueMonitor({ sampleEveryMS: 5 } as never),
    'QueueMonitor: unknown option "sampleEveryMS"; did you mean "sampleEveryMs"?',
  ],
  [
    'QueueMonitor.watch',
    () => new QueueMonitor().watch('api', tokenBucket({ ratePerSecond: 1, burst: 1 }), { label: {} } as never),
    'QueueMonitor.watch: unknown option "label"; did you mean "labels"?',
  ],
  [
    'QueueMonitor.alert',
    () => watched().alert('api', () => true, { onfire: () => {} } as never),
    'QueueMonitor.alert: unknown option "onfire"; did you mean "onFire"?',
  ],
  [
    'QueueMonitor.alert, far off',
    () => watched().alert('api', () => true, { severity: 'page' } as never),
    'QueueMonitor.alert: unknown option "severity"',
  ],
  ['EwmaRate', () => new EwmaRate({ windowMS: 5 } as never), 'EwmaRate: unknown option "windowMS"; did you mean "windowMs"?'],
  [
    'LogLinearHistogram',
    () => new LogLinearHistogram({ subBucket: 8 } as never),
    'LogLinearHistogram: unknown option "subBucket"; did you mean "subBuckets"?',
  ],
  [
    'prometheusText',
    () => prometheusText(watched(), { prefx: 'x' } as never),
    'prometheusText: unknown option "prefx"; did you mean "prefix"?',
  ],
  ['collectFamilies', () => collectFamilies(watched(), { namespace: 'x' } as never), 'collectFamilies: unknown option "namespace"'],
  [
    'prometheusHandler',
    () => prometheusHandler(watched(), { Prefix: 'x' } as never),
    'prometheusHandler: unknown option "Prefix"; did you mean "prefix"?',
  ],
  [
    'prometheusFetchHandler',
    () => prometheusFetchHandler(watched(), { prefixes: 'x' } as never),
    'prometheusFetchHandler: unknown option "prefixes"; did you mean "prefix"?',
  ],
  [
    'registerPromClient',
    () => registerPromClient(watched(), { registerCollector: () => {} } as never, { pre: 'x' } as never),
    'registerPromClient: unknown option "pre"; did you mean "prefix"?',
  ],
  [
    'registerOpenTelemetry',
    () => registerOpenTelemetry(watched(), {} as never, { prefixx: 'x' } as never),
    'registerOpenTelemetry: unknown option "prefixx"; did you mean "prefix"?',
  ],
];

describeInvalidOptions('unknown options', table);
