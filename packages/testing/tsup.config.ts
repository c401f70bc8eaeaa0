import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.preset';

export default defineConfig(
  libraryBuild({
    entry: { index: 'src/index.ts', contract: 'src/contract.ts', arbitraries: 'src/arbitraries.ts' },
    external: ['vitest', 'fast-check', '@sluice/core'],
  }),
);
