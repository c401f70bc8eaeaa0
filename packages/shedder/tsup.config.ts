import { defineConfig } from 'tsup';
import { libraryBuild } from '../../tsup.preset';

// Two builds into one dist: the browser-safe main entry (platform neutral, so a Node import
// fails it) and the Node-only `./node` entry (event-loop lag). The build script empties dist
// first, as two builds cleaning one folder at once would race.
export default defineConfig([
  libraryBuild({ entry: { index: 'src/index.ts' }, clean: false }),
  libraryBuild({ entry: { node: 'src/node.ts' }, platform: 'node', clean: false, tsconfig: 'tsconfig.node.json' }),
]);
