#!/usr/bin/env node
// Every publishable package runs this as its `prepack` script, so `pnpm pack`, `npm pack` and a
// publish refuse to make a tarball without the package's built entry points. It builds nothing
// itself (a package's declarations need the packages it depends on built first, which is the
// workspace build's job): it names what is missing and how to build it.
//
// `node scripts/prepack.mjs [packageDir]` (default: the current directory, as npm and pnpm run
// lifecycle scripts in the package's own directory). Exits 1 with the list of problems.
import { packProblems } from './lib.mjs';

const { name, problems } = packProblems(process.argv[2] ?? process.cwd());
if (problems.length > 0) {
  console.error(
    `${name}: refusing to pack without a current build:\n- ${problems.join('\n- ')}\n` +
      `Build first: \`npm run setup\` at the repository root (or \`npm run pnpm -- --filter "${name}..." run build\`).`,
  );
  process.exit(1);
}
