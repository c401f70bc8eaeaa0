import { Registry } from 'prom-client';
import { QueueMonitor } from '@sluice/monitor';
import { registerPromClient } from '@sluice/monitor/prom-client';

const unregister: () => void = registerPromClient(new QueueMonitor(), new Registry());
unregister();
