/** `sluice/node-streams` (Node only): `@sluice/node-streams`. @module */
export * from '@sluice/node-streams';
