#!/usr/bin/env node
// Typechecks the whole workspace twice over:
// 1. the root tsconfig: every package's sources, tests, benches and the examples, with Node
//    types, resolving @sluice/* to sources (the same view the tests run with);
// 2. each package's own tsconfig: its sources alone, resolving other @sluice packages through
//    their built declarations as a user would, and — for browser-safe packages — with no Node
//    types at all, so a stray `process` or `Buffer` fails here (Node-only entries are excluded
//    there and checked by the package's tsconfig.node.json, which, like a Node-only package's
//    tsconfig.json, has Node types and no DOM lib); and each browser-safe package once more
//    without the DOM lib but with Node types: together the two views admit only globals that
//    exist both in the DOM lib and in @types/node (no `RequestInfo`, no `process`), so the
//    declarations built from them hold in a browser project and in a Node-only one alike;
// 3. every published entry point as a user compiles it: the built declarations, in a Node-only,
//    a DOM and a mixed project, for node16/nodenext/bundler, as ESM and CommonJS
//    (scripts/consumer-types.mjs; needs the build, which `npm test` runs first).
// It also checks that the root tsconfig maps every published entry point to its source.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { consumerPrograms } from './consumer-types.mjs';
import { captureAsync, pool, root, step, workspacePackages } from './lib.mjs';

const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const packages = workspacePackages();

const rootConfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
const paths = rootConfig.compilerOptions?.paths ?? {};
const missing = [];
for (const { manifest } of packages) {
  for (const subpath of Object.keys(manifest.exports ?? {})) {
    if (subpath === './package.json') continue;
    const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
    if (!(specifier in paths)) missing.push(specifier);
  }
}
if (missing.length > 0) {
  console.error(`tsconfig.json "paths" lacks: ${missing.join(', ')} (map each to its src/*.ts)`);
  process.exit(1);
}

// Every complete example in a package README (a ```ts block; fragments are marked ```ts fragment)
// is compiled as its own module against the sources, so the READMEs cannot drift from the API.
const examplesDir = join(root, '.cache', 'readme-examples');
rmSync(examplesDir, { recursive: true, force: true });
mkdirSync(examplesDir, { recursive: true });
const exampleFiles = [];
for (const { name, dir } of packages) {
  let readme;
  try {
    readme = readFileSync(join(dir, 'README.md'), 'utf8');
  } catch {
    console.error(`packages/${name} has no README.md`);
    process.exit(1);
  }
  [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].forEach((match, index) => {
    const file = join(examplesDir, `${name}-${index + 1}.ts`);
    writeFileSync(file, `${match[1]}\nexport {};\n`);
    exampleFiles.push(file);
  });
}
writeFileSync(
  join(examplesDir, 'tsconfig.json'),
  JSON.stringify({ extends: '../../tsconfig.json', compilerOptions: { noUnusedLocals: false }, include: ['*.ts'] }, null, 2),
);

const projects = [
  { label: 'workspace (tsconfig.json)', config: join(root, 'tsconfig.json') },
  { label: `README examples (${exampleFiles.length})`, config: join(examplesDir, 'tsconfig.json') },
].concat(
  packages.flatMap(({ name, dir, manifest }) => [
    { label: `packages/${name}`, config: join(dir, 'tsconfig.json') },
    // a package with Node-only entries checks them (and the rest) once more with Node types
    ...(existsSync(join(dir, 'tsconfig.node.json')) ? [{ label: `packages/${name} (node)`, config: join(dir, 'tsconfig.node.json') }] : []),
    // a browser-safe package is checked once more as a Node-only project sees it
    ...(existsSync(join(dir, 'tsconfig.node.json')) || manifest.sluice?.platform === 'node'
      ? []
      : [
          {
            label: `packages/${name} (no DOM, Node types)`,
            config: join(dir, 'tsconfig.json'),
            args: ['--lib', 'ES2022', '--types', 'node'],
          },
        ]),
  ]),
);

let consumers;
try {
  consumers = consumerPrograms();
} catch (error) {
  console.error(`consumer types: ${error.message}`);
  process.exit(1);
}

// tsc is single-threaded: two at once on the two cores CI has.
const plain = ({ status, stdout, stderr }) => ({ ok: status === 0, output: stdout + stderr });
const results = await pool([...projects, ...consumers], 2, async ({ label, config, args = [], verdict = plain }) => {
  const result = await captureAsync(process.execPath, [tsc, '-p', config, '--noEmit', '--pretty', 'false', ...args]);
  return { label, ...verdict(result) };
});
let failed = false;
for (const { label, ok, output } of results) {
  step(`tsc ${label}: ${ok ? 'ok' : 'errors'}`);
  if (!ok) {
    failed = true;
    process.stdout.write(output);
  }
}
process.exit(failed ? 1 : 0);
