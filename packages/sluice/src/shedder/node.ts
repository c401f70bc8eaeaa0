/** `sluice/shedder/node` (Node only): `@sluice/shedder/node` (event-loop lag signal). @module */
export * from '@sluice/shedder/node';
