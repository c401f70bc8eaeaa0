/** `sluice/testing`: `@sluice/testing` (virtual clock, controlled gates, load simulator). @module */
export * from '@sluice/testing';
