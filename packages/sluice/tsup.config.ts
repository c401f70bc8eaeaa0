import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.preset';

// Every entry only re-exports its @sluice package (a dependency, so external: nothing is copied
// in, and a user's bundler still sees each package's `sideEffects: false`).
//
// One build per entry: declarations bundled for several entries at once come out with
// side-effect imports of the other entries' packages (`import '@sluice/testing/contract';` in
// index.d.ts), which would make the root types load vitest's and the Node-only packages' types.
// Browser-safe entries build for platform neutral (a Node import fails the build), the Node-only
// ones — package.json `sluice.nodeEntries` — for Node with Node types. The build script empties
// dist first, as several builds cleaning one folder at once would race.
const browserEntries = {
  index: 'src/index.ts',
  testing: 'src/testing.ts',
  'testing/contract': 'src/testing/contract.ts',
  'testing/arbitraries': 'src/testing/arbitraries.ts',
  'monitor/otel': 'src/monitor/otel.ts',
  'monitor/prom-client': 'src/monitor/prom-client.ts',
};
const nodeEntries = { 'node-streams': 'src/node-streams.ts', redis: 'src/redis.ts', 'shedder/node': 'src/shedder/node.ts' };

export default defineConfig([
  ...Object.entries(browserEntries).map(([name, file]) => libraryBuild({ entry: { [name]: file }, clean: false })),
  ...Object.entries(nodeEntries).map(([name, file]) =>
    libraryBuild({ entry: { [name]: file }, platform: 'node', clean: false, tsconfig: 'tsconfig.node.json' }),
  ),
]);
