#!/usr/bin/env node
// Typechecks the whole workspace twice over:
// 1. the root tsconfig: every package's sources, tests, benches and the examples, with Node
//    types, resolving @sluice/* to sources (the same view the tests run with);
// 2. each package's own tsconfig: its sources alone, resolving other @sluice packages through
//    their built declarations as a user would, and — for browser-safe packages — with no Node
//    types at all, so a stray `process` or `Buffer` fails here (Node-only entries are excluded
//    there and checked by the package's tsconfig.node.json);
// It also checks that the root tsconfig maps every published entry point to its source.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, pool, root, step, workspacePackages } from './lib.mjs';

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
  packages.flatMap(({ name, dir }) => [
    { label: `packages/${name}`, config: join(dir, 'tsconfig.json') },
    // a package with Node-only entries checks them (and the rest) once more with Node types
    ...(existsSync(join(dir, 'tsconfig.node.json')) ? [{ label: `packages/${name} (node)`, config: join(dir, 'tsconfig.node.json') }] : []),
  ]),
);

const results = await pool(projects, 2, async ({ label, config }) => {
  const result = capture(process.execPath, [tsc, '-p', config, '--noEmit', '--pretty', 'false']);
  return { label, ...result };
});
let failed = false;
for (const { label, status, stdout, stderr } of results) {
  step(`tsc ${label}: ${status === 0 ? 'ok' : 'errors'}`);
  if (status !== 0) {
    failed = true;
    process.stdout.write(stdout + stderr);
  }
}
process.exit(failed ? 1 : 0);
