/** `sluice/redis` (Node only): `@sluice/redis`. @module */
export * from '@sluice/redis';
