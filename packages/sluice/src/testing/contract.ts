/** `sluice/testing/contract`: `@sluice/testing/contract` (the gate contract suite; needs vitest and fast-check). @module */
export * from '@sluice/testing/contract';
