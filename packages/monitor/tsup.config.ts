import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.preset';

// `./otel` needs `@opentelemetry/api`, an optional peer: kept external, never bundled.
export default defineConfig(libraryBuild({ entry: { index: 'src/index.ts', otel: 'src/otel.ts' }, external: ['@opentelemetry/api'] }));
