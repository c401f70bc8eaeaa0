/** `sluice/monitor/prom-client`: `@sluice/monitor/prom-client` (prom-client bridge; `prom-client` is a peer). @module */
export * from '@sluice/monitor/prom-client';
