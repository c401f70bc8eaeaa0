#!/usr/bin/env node
// The README's two commands land here: `npm test` → `node scripts/sluice.mjs test`,
// `npm run demo` → `node scripts/sluice.mjs demo`. Each sets up what it needs on a machine that
// has only Node 20 and npm: the pinned pnpm, the locked dependencies, the build, and the Debian
// packages the tests need (installed when missing, when running as root).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, root, run, step } from './lib.mjs';

/**
 * Debian packages the test suite needs, by the command that proves they are installed: Chromium
 * for the browser tests (driven by Playwright at /usr/bin/chromium; no browser is ever
 * downloaded), redis-server and redis-cli for the Redis store's tests.
 */
const TEST_SYSTEM_PACKAGES = [
  { command: 'chromium', debian: 'chromium' },
  { command: 'redis-server', debian: 'redis-server' },
  { command: 'redis-cli', debian: 'redis-tools' },
];

const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = /^pnpm@(\d+\.\d+\.\d+)$/.exec(manifest.packageManager ?? '')?.[1];
if (pnpmVersion === undefined) throw new Error('package.json must pin "packageManager": "pnpm@x.y.z"');

/** The pinned pnpm: the one on PATH if it is that version, else a private copy fetched with npm. */
async function ensurePnpm() {
  const onPath = capture('pnpm', ['--version']);
  if (onPath.status === 0 && onPath.stdout.trim() === pnpmVersion) return ['pnpm', []];
  const prefix = join(root, '.cache', `pnpm-${pnpmVersion}`);
  const entry = join(prefix, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
  if (!existsSync(entry)) {
    step(`fetching pnpm ${pnpmVersion} (npm install into .cache/)`);
    await run('npm', ['install', '--prefix', prefix, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', '--loglevel=error', `pnpm@${pnpmVersion}`]);
  }
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
