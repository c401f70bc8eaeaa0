/** `sluice/testing/arbitraries`: `@sluice/testing/arbitraries` (fast-check arbitraries; needs fast-check). @module */
export * from '@sluice/testing/arbitraries';
