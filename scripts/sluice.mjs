#!/usr/bin/env node
// The README's two commands land here: `npm test` → `node scripts/sluice.mjs test`,
// `npm run demo` → `node scripts/sluice.mjs demo`. Each sets up what it needs on a machine that
// has only Node 20 and npm: the pinned pnpm, the locked dependencies, the build, and the Debian
// packages the tests need (installed when missing, when running as root).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, pinnedPnpmVersion, pnpmPaths, root, run, step, withFirstOnPath } from './lib.mjs';

/** Debian packages the test suite needs (see scripts/system-packages.json). */
const TEST_SYSTEM_PACKAGES = JSON.parse(readFileSync(join(root, 'scripts', 'system-packages.json'), 'utf8')).test;

const pnpmVersion = pinnedPnpmVersion();

/**
 * The pinned pnpm, always the private copy in `.cache/pnpm-<version>/` (fetched with npm on the
 * first run). No other pnpm is ever launched, not even to ask its version: a newer pnpm would try
 * to switch to the pinned one, and the registry we reach serves no signatures, so it refuses.
 *
 * Its bin directory goes first on PATH for this process and so for every child: the root
 * `build` script, package scripts and tests that call a bare `pnpm` find the pinned one.
 */
async function ensurePnpm() {
  const { prefix, entry, binDir } = pnpmPaths(root, pnpmVersion);
  if (!existsSync(entry)) {
    step(`fetching pnpm ${pnpmVersion} (npm install into .cache/)`);
    await run('npm', [
      'install',
      '--prefix',
      prefix,
      '--no-save',
      '--no-package-lock',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      `pnpm@${pnpmVersion}`,
    ]);
  }
  process.env.PATH = withFirstOnPath(binDir, process.env.PATH);
  // The copy is the pinned version: nothing to switch to, and no switching must be attempted.
  process.env.npm_config_manage_package_manager_versions = 'false';
  return [process.execPath, [entry]];
}

/** Installs missing Debian packages (as root), or explains what to install. */
async function ensureSystemPackages(packages) {
  const missing = packages.filter(({ command }) => capture('sh', ['-c', `command -v ${command}`]).status !== 0);
  if (missing.length === 0) return;
  const names = missing.map((p) => p.debian);
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    throw new Error(`the tests need ${names.join(', ')}; install them (e.g. sudo apt-get install -y ${names.join(' ')}) and run again`);
  }
  step(`installing Debian packages: ${names.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await run('apt-get', ['update', '-qq'], { env });
  await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...names], { env });
}

async function setup() {
  const [pnpm, prefix] = await ensurePnpm();
  const pn = (...args) => run(pnpm, [...prefix, ...args]);
  step('pnpm install --frozen-lockfile');
  await pn('install', '--frozen-lockfile', '--reporter=append-only');
  step('build (tsup: ESM + CJS + d.ts)');
  await pn('run', 'build');
  return pn;
}

const tasks = {
  async test() {
    await ensureSystemPackages(TEST_SYSTEM_PACKAGES);
    const pn = await setup();
    step('lint (Biome: linter, formatter in check mode, import cycles)');
    await pn('run', 'lint');
    step('typecheck (every package, test, bench and example)');
    await pn('run', 'typecheck');
    step('release checks (publint, are-the-types-wrong, browser bundles)');
    await pn('run', 'release-check');
    step('docs (typedoc; every export documented)');
    await pn('run', 'docs', '--logLevel', 'Warn');
    step('tests (vitest, every project)');
    await pn('exec', 'vitest', 'run');
  },
  async demo() {
    const pn = await setup();
    step('demo');
    await pn('--filter', '@sluice/example-overload-service', 'run', 'demo');
  },
  /** `npm run setup`: the pinned pnpm, the locked dependencies and the build, nothing else. */
  async setup() {
    await setup();
  },
  /**
   * `npm run pnpm -- <args>`: any pnpm command with the pinned pnpm (fetched on first use), e.g.
   * `npm run pnpm -- bench rate-limit`. The exit code is pnpm's.
   */
  async pnpm() {
    const [pnpm, prefix] = await ensurePnpm();
    const result = spawnSync(pnpm, [...prefix, ...process.argv.slice(3)], { stdio: 'inherit', cwd: process.env.INIT_CWD ?? root });
    process.exitCode = result.status ?? 1;
  },
};

const task = tasks[process.argv[2] ?? ''];
if (task === undefined) {
  console.error(`usage: node scripts/sluice.mjs <${Object.keys(tasks).join('|')}>`);
  process.exit(2);
}
task().catch((error) => {
  console.error(`\n\u2716 ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
