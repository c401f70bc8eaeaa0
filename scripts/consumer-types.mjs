// The published declarations as a user compiles them: every entry point of every non-private
// package (each `exports` subpath, the `sluice` umbrella's included), consumed from a scratch
// project whose node_modules links to the BUILT packages, so `dist/*.d.ts` is resolved through
// the `exports` maps. Strict, `skipLibCheck: false`, in the matrix
//   environment: node (lib es2022, types [node]) | dom (lib es2022 + dom, no Node types)
//                | dom+node (both, as in a full-stack app)
//   module:      node16 | nodenext | bundler (module esnext) | bundler (module preserve)
//   format:      ESM (.mts) and CommonJS (.cts, the same text) in every program.
// Node-only entries (a package's `"sluice": { "platform": "node" }` or `nodeEntries`) need Node
// types, so the `dom` environment leaves their consumers out (they run in `node` and
// `dom+node`); a `dom` program that still loads @types/node (through a peer) is an error, as it
// would no longer prove anything about a project without Node types.
//
// The consumers are scripts/consumers/*.mts (see the README there); `typecheck.mjs` runs the
// programs this returns.
import { existsSync, mkdirSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { root, workspacePackages } from './lib.mjs';

const consumersDir = join(root, 'scripts', 'consumers');
const scratch = join(root, '.cache', 'consumer-types');

const ENVIRONMENTS = {
  node: { lib: ['es2022'], types: ['node'], nodeEntries: true },
  dom: { lib: ['es2022', 'dom'], types: [], nodeEntries: false },
  'dom+node': { lib: ['es2022', 'dom'], types: ['node'], nodeEntries: true },
};
const MODULES = {
  node16: { module: 'node16', moduleResolution: 'node16' },
  nodenext: { module: 'nodenext', moduleResolution: 'nodenext' },
  'bundler-esnext': { module: 'esnext', moduleResolution: 'bundler' },
  'bundler-preserve': { module: 'preserve', moduleResolution: 'bundler' },
};

/** `@sluice/x` + `./sub` → `@sluice/x/sub`. */
const specifierOf = (name, subpath) => (subpath === '.' ? name : `${name}/${subpath.slice(2)}`);

/**
 * Writes the scratch project and returns its tsc programs as `{ label, config, args, verdict }`
 * (`verdict(result)` → `{ ok, output }`), or throws when a published entry has no consumer or a
 * package is not built.
 */
export function consumerPrograms() {
  const packages = workspacePackages().filter(({ manifest }) => manifest.private !== true);
  const entries = packages.flatMap(({ dir, manifest }) =>
    Object.entries(manifest.exports ?? {})
      .filter(([subpath]) => subpath !== './package.json')
      .map(([subpath, target]) => ({
        dir,
        specifier: specifierOf(manifest.name, subpath),
        nodeOnly: manifest.sluice?.platform === 'node' || (manifest.sluice?.nodeEntries ?? []).includes(subpath),
        types: [target.import?.types, target.require?.types].filter((t) => t !== undefined).map((t) => join(dir, t)),
      })),
  );
  const unbuilt = entries.flatMap(({ types }) => types.filter((file) => !existsSync(file)));
  if (unbuilt.length > 0) throw new Error(`not built (run pnpm build first): ${unbuilt.map((f) => f.replace(`${root}/`, '')).join(', ')}`);
  const nodeOnly = new Set(entries.filter((e) => e.nodeOnly).map((e) => e.specifier));

  // The umbrella's entries re-export @sluice packages (`export * from '@sluice/x'`): its
  // consumers are the packages' consumers with each import pointed at the umbrella subpath.
  const umbrella = packages.find(({ manifest }) => manifest.name === 'sluice');
  const toUmbrella = new Map();
  for (const [subpath] of Object.entries(umbrella.manifest.exports)) {
    if (subpath === './package.json') continue;
    const source = readFileSync(join(umbrella.dir, 'src', `${subpath === '.' ? 'index' : subpath.slice(2)}.ts`), 'utf8');
    for (const [, from] of source.matchAll(/^export \* from '([^']+)';$/gm)) toUmbrella.set(from, specifierOf('sluice', subpath));
  }

  const consumers = [];
  for (const file of readdirSync(consumersDir)
    .filter((f) => f.endsWith('.mts'))
    .sort()) {
    const text = readFileSync(join(consumersDir, file), 'utf8');
    const name = file.slice(0, -'.mts'.length);
    consumers.push({ name, text });
    const unmapped = [];
    const rewritten = text.replace(/from '(@sluice\/[^']+)'/g, (match, from) => {
      const to = toUmbrella.get(from);
      if (to === undefined) unmapped.push(from);
      return to === undefined ? match : `from '${to}'`;
    });
    if (unmapped.length > 0) throw new Error(`scripts/consumers/${file}: the sluice umbrella does not re-export ${unmapped.join(', ')}`);
    consumers.push({ name: `sluice.${name}`, text: rewritten });
  }
  for (const consumer of consumers) {
    consumer.imports = [...consumer.text.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
    consumer.nodeOnly = consumer.imports.some((s) => nodeOnly.has(s) || s.startsWith('node:'));
  }
  const used = new Set(consumers.flatMap((c) => c.imports));
  const uncovered = entries.filter((e) => !used.has(e.specifier)).map((e) => e.specifier);
  if (uncovered.length > 0) throw new Error(`published entries without a consumer in scripts/consumers/: ${uncovered.join(', ')}`);

  // node_modules as a user's: the packages (their own dependencies resolve from their real
  // directories, as pnpm lays them out), @types/node, and the peers the entries need.
  rmSync(scratch, { recursive: true, force: true });
  const modules = join(scratch, 'node_modules');
  const link = (name, target) => {
    mkdirSync(dirname(join(modules, name)), { recursive: true });
    if (!existsSync(join(modules, name))) symlinkSync(realpathSync(target), join(modules, name), 'dir');
  };
  for (const { dir, manifest } of packages) link(manifest.name, dir);
  link('@types/node', join(root, 'node_modules', '@types', 'node'));
  for (const { dir, manifest } of packages) {
    for (const peer of Object.keys(manifest.peerDependencies ?? {})) {
      const installed = [join(dir, 'node_modules', peer), join(root, 'node_modules', peer)].find((p) => existsSync(p));
      if (installed !== undefined) link(peer, installed);
    }
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify({ name: 'sluice-consumer', private: true }, null, 2));
  mkdirSync(join(scratch, 'src'));
  for (const { name, text } of consumers) {
    const header = `// generated by scripts/consumer-types.mjs from scripts/consumers/${name.replace(/^sluice\./, '')}.mts\n`;
    writeFileSync(join(scratch, 'src', `${name}.mts`), header + text);
    writeFileSync(join(scratch, 'src', `${name}.cts`), header + text);
  }

  const programs = [];
  for (const [environment, env] of Object.entries(ENVIRONMENTS)) {
    const files = consumers.filter((c) => env.nodeEntries || !c.nodeOnly).flatMap((c) => [`src/${c.name}.mts`, `src/${c.name}.cts`]);
    for (const [moduleLabel, moduleOptions] of Object.entries(MODULES)) {
      const config = join(scratch, `tsconfig.${environment}.${moduleLabel}.json`);
      const compilerOptions = {
        ...moduleOptions,
        target: 'es2022',
        lib: env.lib,
        types: env.types,
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        noUnusedLocals: false,
      };
      writeFileSync(config, JSON.stringify({ compilerOptions, files }, null, 2));
      programs.push({
        label: `consumers ${environment} ${moduleLabel} (${files.length} files)`,
        config,
        args: ['--listFiles'],
        verdict: (result) => verdict(environment, result),
      });
    }
  }
  return programs;
}

/**
 * The verdict on one program's tsc run (with `--listFiles`): tsc's errors, plus an error when a
 * `dom` program loaded @types/node. Returns `{ ok, output }`.
 */
function verdict(environment, { status, stdout, stderr }) {
  const lines = stdout.split('\n');
  const diagnostics = lines.filter((line) => !line.startsWith('/')).join('\n');
  const loadedNode = lines.some((line) => /\/@types\/node\/|\/@types\+node@/.test(line));
  const problems = [];
  if (environment === 'dom' && loadedNode)
    problems.push('this DOM-only program loaded @types/node (through a peer?), so it proves nothing about projects without Node types\n');
  return { ok: status === 0 && problems.length === 0, output: diagnostics + stderr + problems.join('') };
}
