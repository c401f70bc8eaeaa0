import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.preset';

// `./otel` and `./prom-client` bridge to optional peers, kept external, never bundled.
export default defineConfig(
  libraryBuild({
    entry: { index: 'src/index.ts', otel: 'src/otel.ts', 'prom-client': 'src/prom-client.ts' },
    external: ['@opentelemetry/api', 'prom-client'],
  }),
);
