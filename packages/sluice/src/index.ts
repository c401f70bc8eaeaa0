/**
 * `sluice`: every browser-safe sluice package from one import. Plain `export *` re-exports of
 * ESM packages marked `sideEffects: false`, so a bundler keeps only what is imported.
 *
 * The packages export disjoint names (a name exported by two of them would be a TS2308 error
 * here, to be settled with an explicit `export { name } from '...'`). Node-only parts and the
 * testing helpers are subpaths: `sluice/node-streams`, `sluice/redis`, `sluice/shedder/node`,
 * `sluice/testing`, `sluice/testing/contract`, `sluice/testing/arbitraries`,
 * `sluice/monitor/otel`, `sluice/monitor/prom-client`.
 *
 * @module
 */
export * from '@sluice/core';
export * from '@sluice/buffer';
export * from '@sluice/rate-limit';
export * from '@sluice/concurrency';
export * from '@sluice/shedder';
export * from '@sluice/breaker';
export * from '@sluice/overload';
export * from '@sluice/llm';
export * from '@sluice/monitor';
export * from '@sluice/web-streams';
