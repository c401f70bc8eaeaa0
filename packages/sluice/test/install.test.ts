import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryFiles, type Manifest, pnpmCommand, workspacePackages } from '../../../scripts/lib.mjs';

// What a user gets from npm: every package packed the way it would be published (`pnpm pack`
// rewrites `workspace:` ranges), then installed with plain npm into a scratch project that has
// nothing else. No registry is involved: `overrides` point the expected @sluice packages at
// their tarballs, and `--offline` makes any other dependency (a testing kit, a Redis client, a
// @sluice package that should not be there) fail the install. Optional peers are not overridden:
// npm would then resolve them, and their own peers, as if they were wanted.

const root = fileURLToPath(new URL('../../..', import.meta.url));
const published = workspacePackages().filter((p) => p.manifest.private !== true);

/** The browser-safe packages the umbrella re-exports from its root entry. */
const BROWSER_SAFE = [
  '@sluice/breaker',
  '@sluice/buffer',
  '@sluice/concurrency',
  '@sluice/core',
  '@sluice/llm',
  '@sluice/monitor',
  '@sluice/overload',
  '@sluice/rate-limit',
  '@sluice/shedder',
  '@sluice/web-streams',
];

let staging = '';
const tarballs = new Map<string, string>();

function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env, timeout: 120_000 });
  return { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

function npm(args: string[], cwd: string) {
  // Nothing of the repository's package-manager settings (pnpm passes its own as npm_config_*)
  // reaches the scratch project: it is installed as a user's would be.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  env.npm_config_cache = join(staging, 'npm-cache');
  return sh('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], cwd, env);
}

/** A scratch project depending on `dependencies` (names of packed packages), which may bring `BROWSER_SAFE`. */
function scratchProject(name: string, dependencies: string[]): string {
  const dir = join(staging, name);
  mkdirSync(dir);
  const file = (pkg: string) => `file:${tarballs.get(pkg) as string}`;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      private: true,
      type: 'module',
      dependencies: Object.fromEntries(dependencies.map((d) => [d, file(d)])),
      overrides: Object.fromEntries(BROWSER_SAFE.filter((d) => !dependencies.includes(d)).map((d) => [d, file(d)])),
    }),
  );
  const install = npm(['install', '--offline'], dir);
  expect(install.status, `npm install failed:\n${install.stdout}${install.stderr}`).toBe(0);
  return dir;
}

/** Every package name in an `npm ls --all --json` tree. */
function installedNames(dir: string): string[] {
  const ls = npm(['ls', '--all', '--json'], dir);
  const names = new Set<string>();
  type Tree = Record<string, { version?: string; dependencies?: Tree }>;
  const walk = (deps: Tree | undefined) => {
    for (const [depName, node] of Object.entries(deps ?? {})) {
      // an optional peer that is not installed is listed without a version
      if (node.version === undefined) continue;
      names.add(depName);
      walk(node.dependencies);
    }
  };
  walk((JSON.parse(ls.stdout) as { dependencies?: Tree }).dependencies);
  return [...names].sort();
}

function node(dir: string, code: string, type: 'module' | 'commonjs' = 'module') {
  return sh(process.execPath, ['--input-type', type, '-e', code], dir);
}

beforeAll(() => {
  staging = mkdtempSync(join(tmpdir(), 'sluice-install-'));
  const [pnpm, prefix] = pnpmCommand();
  for (const pkg of published) {
    const out = join(staging, 'tarballs', pkg.manifest.name.replace('/', '+'));
    mkdirSync(out, { recursive: true });
    const pack = sh(pnpm, [...prefix, 'pack', '--pack-destination', out], pkg.dir);
    if (pack.status !== 0) throw new Error(`pnpm pack ${pkg.manifest.name} failed:\n${pack.stdout}${pack.stderr}`);
    tarballs.set(pkg.manifest.name, join(out, readdirSync(out)[0] as string));
  }
}, 180_000);

afterAll(() => {
  if (staging !== '') rmSync(staging, { recursive: true, force: true });
});

describe('sluice installed from its packed tarball with plain npm', () => {
  it('brings the browser-safe packages only: no testing kit, Redis store, Node streams or their peers', { timeout: 120_000 }, () => {
    const dir = scratchProject('browser-app', ['sluice']);
    expect(installedNames(dir)).toEqual(['sluice', ...BROWSER_SAFE].sort());
  });

  it('works from ESM and CommonJS, and a Node-only subpath names the package to install', { timeout: 120_000 }, () => {
    const dir = scratchProject('service', ['sluice']);
    const esm = node(
      dir,
      "import { TokenBucket } from 'sluice'; const b = new TokenBucket({ ratePerSecond: 1, burst: 2 }); console.log(b.tryAcquire(2).granted, b.tryAcquire().granted);",
    );
    expect(esm.stderr).toBe('');
    expect(esm.stdout.trim()).toBe('true false');
    const cjs = node(
      dir,
      "const { pipeline, passThrough } = require('sluice'); console.log(pipeline(passThrough()).tryAcquire().granted);",
      'commonjs',
    );
    expect(cjs.stderr).toBe('');
    expect(cjs.stdout.trim()).toBe('true');
    const redis = node(dir, "await import('sluice/redis');");
    expect(redis.status).not.toBe(0);
    expect(redis.stderr).toMatch(/Cannot find (package|module) '@sluice\/redis'/);
  });

  it('a Node-only subpath works once its package is installed beside sluice', { timeout: 120_000 }, () => {
    const dir = scratchProject('stream-service', ['sluice', '@sluice/node-streams']);
    expect(installedNames(dir)).toEqual(['sluice', '@sluice/node-streams', ...BROWSER_SAFE].sort());
    const run = node(
      dir,
      "import { throttle } from 'sluice/node-streams'; import { passThrough } from 'sluice'; import { Readable } from 'node:stream';" +
        " const out = []; for await (const chunk of Readable.from(['a', 'b']).pipe(throttle(passThrough()))) out.push(String(chunk)); console.log(out.join(''));",
    );
    expect(run.stderr).toBe('');
    expect(run.stdout.trim()).toBe('ab');
  });

  it('every tarball holds every entry point its manifest names', () => {
    for (const pkg of published) {
      const listing = sh('tar', ['-tzf', tarballs.get(pkg.manifest.name) as string], staging).stdout.split('\n');
      const missing = entryFiles(pkg.manifest).filter((file) => !listing.includes(`package/${file}`));
      expect(missing, `${pkg.manifest.name} tarball`).toEqual([]);
    }
  });
});

describe('packing a package that was not built', () => {
  it('fails, naming the missing entry points and how to build; packs once built', { timeout: 60_000 }, () => {
    // A copy of one package laid out as in the repository, so its prepack script finds scripts/.
    const copy = join(staging, 'unbuilt');
    const buffer = published.find((p) => p.manifest.name === '@sluice/buffer') as { dir: string; manifest: Manifest };
    mkdirSync(join(copy, 'packages', 'buffer'), { recursive: true });
    cpSync(join(root, 'scripts'), join(copy, 'scripts'), { recursive: true });
    for (const file of ['package.json', 'README.md', 'src'])
      cpSync(join(buffer.dir, file), join(copy, 'packages', 'buffer', file), { recursive: true });
    const dir = join(copy, 'packages', 'buffer');

    const unbuilt = npm(['pack', '--dry-run', '--json'], dir);
    expect(unbuilt.status).not.toBe(0);
    expect(unbuilt.stderr).toContain('@sluice/buffer: refusing to pack without a current build');
    expect(unbuilt.stderr).toContain('dist/index.js is missing');

    cpSync(join(buffer.dir, 'dist'), join(dir, 'dist'), { recursive: true });
    const built = npm(['pack', '--dry-run', '--json'], dir);
    expect(built.status, built.stderr).toBe(0);
    const files = (JSON.parse(built.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
    expect(files).toEqual(expect.arrayContaining(entryFiles(buffer.manifest)));
  });
});
