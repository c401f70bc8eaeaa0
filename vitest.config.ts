import { defineConfig } from 'vitest/config';
import { projects } from './vitest.workspace.ts';

// Vitest 4 does not read vitest.workspace.ts by itself: the list is passed here.
export default defineConfig({
  test: {
    projects,
    // Tests run in virtual time; a test that needs more than this real time is stuck.
    testTimeout: 20_000,
    reporters: ['default'],
  },
});
