import { defineConfig } from 'vite';

// The @sluice packages resolve through the workspace to their built `dist/`, exactly as they
// would from npm, so build them first (`pnpm run build` at the repository root).
export default defineConfig({
  build: { target: 'es2022' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
});
