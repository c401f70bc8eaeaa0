#!/usr/bin/env node
// What a package must pass before it can be published, checked on the tarball a user would get:
// - the tarball holds every entry point the manifest names (main, module, types, exports);
// - publint: package.json fields, exports map, files that exist in the tarball;
// - are-the-types-wrong: the types resolve for node10, node16 (CJS and ESM) and bundlers;
// - browser bundles: every entry of a browser-safe package bundles with esbuild for
//   `platform: 'browser'` with zero Node built-in imports (the core must run in browsers and
//   edge runtimes unchanged).
// Packages marked `"sluice": { "platform": "node" }` in package.json skip the browser check, and
// so do the Node-only entries a package lists in `"sluice": { "nodeEntries": ["./node"] }`.
import { mkdtempSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { capture, captureAsync, entryFiles, pnpmCommand, pool, root, step, workspacePackages } from './lib.mjs';

const bin = (name) => join(root, 'node_modules', '.bin', name);
const packages = workspacePackages().filter(({ manifest }) => manifest.private !== true);
const staging = mkdtempSync(join(tmpdir(), 'sluice-release-'));
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const failures = [];

async function checkBrowserBundle({ dir, manifest }) {
  const { build } = await import('esbuild');
  const peers = Object.keys({ ...manifest.peerDependencies, ...manifest.dependencies });
  const entries = Object.entries(manifest.exports ?? {})
    .filter(([subpath]) => subpath !== './package.json' && !(manifest.sluice?.nodeEntries ?? []).includes(subpath))
    .map(([subpath, target]) => ({ subpath, file: join(dir, target.import.default) }));
  for (const { subpath, file } of entries) {
    const nodeImports = [];
    const result = await build({
      entryPoints: [file],
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      metafile: true,
      logLevel: 'silent',
      // Peers are the user's to provide; only what this package itself pulls in is checked.
      external: peers.filter((p) => !p.startsWith('@sluice/')),
      plugins: [
        {
          name: 'no-node-builtins',
          setup(b) {
            b.onResolve({ filter: /.*/ }, (args) => {
              if (nodeBuiltins.has(args.path)) {
                nodeImports.push(`${args.path} (from ${args.importer.replace(root, '.')})`);
                return { path: args.path, external: true };
              }
              return undefined;
            });
          },
        },
      ],
    }).catch((error) => ({ error }));
    const label = `${manifest.name}${subpath === '.' ? '' : subpath.slice(1)}`;
    if ('error' in result) failures.push(`${label}: browser bundle failed: ${result.error.message}`);
    else if (nodeImports.length > 0) failures.push(`${label}: imports Node built-ins: ${nodeImports.join(', ')}`);
    else {
      const bytes = result.outputFiles.reduce((n, f) => n + f.contents.length, 0);
      step(`browser bundle ${label}: ok (${(bytes / 1024).toFixed(1)} KiB unminified, no Node built-ins)`);
    }
  }
}

try {
  await pool(packages, 2, async (pkg) => {
    const out = mkdtempSync(join(staging, `${pkg.name}-`));
    const [pnpm, prefix] = pnpmCommand();
    const pack = await captureAsync(pnpm, [...prefix, 'pack', '--pack-destination', out], { cwd: pkg.dir });
    const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'));
    if (pack.status !== 0 || tarball === undefined) {
      failures.push(`${pkg.manifest.name}: pnpm pack failed\n${pack.stdout}${pack.stderr}`);
      return;
    }
    const file = join(out, tarball);
    // The tarball a user gets holds every file the manifest points at (prepack refuses to pack
    // without a build; this checks what was actually packed).
    const listing = new Set(capture('tar', ['-tzf', file]).stdout.split('\n'));
    const absent = entryFiles(pkg.manifest).filter((entry) => !listing.has(`package/${entry}`));
    if (absent.length > 0) failures.push(`${pkg.manifest.name}: the tarball lacks ${absent.join(', ')}`);
    const license = capture('tar', ['-xzOf', file, 'package/LICENSE']).stdout;
    if (license !== readFileSync(join(root, 'LICENSE'), 'utf8'))
      failures.push(`${pkg.manifest.name}: the tarball's LICENSE is missing or differs from the repository's`);
    const lint = await captureAsync(bin('publint'), ['run', file, '--strict']);
    step(`publint ${pkg.manifest.name}: ${lint.status === 0 ? 'ok' : 'problems'}`);
    if (lint.status !== 0 || /warning|error/i.test(lint.stdout))
      failures.push(`${pkg.manifest.name}: publint\n${lint.stdout}${lint.stderr}`);
    const types = await captureAsync(bin('attw'), [file, '--profile', 'strict', '--format', 'ascii', '--no-color']);
    step(`are-the-types-wrong ${pkg.manifest.name}: ${types.status === 0 ? 'ok' : 'problems'}`);
    if (types.status !== 0) failures.push(`${pkg.manifest.name}: are-the-types-wrong\n${types.stdout}${types.stderr}`);
  });
  for (const pkg of packages) {
    if (pkg.manifest.sluice?.platform !== 'node') await checkBrowserBundle(pkg);
  }
} finally {
  rmSync(staging, { recursive: true, force: true });
}

if (failures.length > 0) {
  console.error(`\nrelease checks failed:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
step(`release checks: ${packages.length} packages ok`);
