// Shared helpers of the workspace scripts. Plain Node (no dependencies), so they run before
// anything is installed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Prints a step header on stderr, so stdout stays the tools' own output. */
export function step(title) {
  process.stderr.write(`\n\u25b6 ${title}\n`);
}

/** Runs a command with inherited output; rejects with a clear message when it fails. */
export function run(command, args, options = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'inherit', cwd: root, ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${[command, ...args].join(' ')} failed (${signal ?? `exit ${code}`})`));
    });
  });
}

/** Runs a command and captures its output (never throws; look at `status`). */
export function capture(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, encoding: 'utf8', ...options });
  return { status: result.status ?? 1, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/**
 * `capture` without blocking: resolves (never rejects) once the command exits, so several can
 * run at once (see `pool`).
 */
export function captureAsync(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', (error) => resolve({ status: 1, stdout, stderr: stderr + String(error) }));
    child.on('close', (code) => resolve({ status: code ?? 1, stdout, stderr }));
  });
}

/** The workspace packages under packages/*, with their manifests. */
export function workspacePackages() {
  const dir = join(root, 'packages');
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'package.json')))
    .map((name) => ({ name, dir: join(dir, name), manifest: JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) }));
}

/** Runs async jobs with at most `limit` at once; resolves to their results in order. */
export async function pool(items, limit, job) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const index = next++;
      results[index] = await job(items[index], index);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * How to call the pinned pnpm from a script or test: the pnpm running us (pnpm sets
 * `npm_execpath`), else the private copy `npm test` / `npm run setup` fetched into `.cache/`,
 * else the `pnpm` on PATH (which `scripts/sluice.mjs` puts there for its children).
 */
export function pnpmCommand() {
  const execpath = process.env.npm_execpath;
  if (execpath !== undefined && /pnpm\.c?js$/.test(execpath)) return [process.execPath, [execpath]];
  const { entry } = pnpmPaths(root, pinnedPnpmVersion());
  if (existsSync(entry)) return [process.execPath, [entry]];
  return ['pnpm', []];
}

/** The pnpm version pinned by the root package.json's `packageManager` (`pnpm@x.y.z`). */
export function pinnedPnpmVersion() {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const version = /^pnpm@(\d+\.\d+\.\d+)$/.exec(manifest.packageManager ?? '')?.[1];
  if (version === undefined) throw new Error('package.json must pin "packageManager": "pnpm@x.y.z"');
  return version;
}

/**
 * Where the private copy of the pinned pnpm lives: `prefix` (what `npm install --prefix` gets),
 * `entry` (the script to run with node) and `binDir` (holding the `pnpm` and `pnpx` links).
 */
export function pnpmPaths(top, version) {
  const prefix = join(top, '.cache', `pnpm-${version}`);
  return { prefix, entry: join(prefix, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs'), binDir: join(prefix, 'node_modules', '.bin') };
}

/** `path` with `dir` first (and not again later): what children get as PATH. Does not mutate. */
export function withFirstOnPath(dir, path = '') {
  return [dir, ...path.split(delimiter).filter((entry) => entry !== '' && entry !== dir)].join(delimiter);
}

/** Every file a manifest promises: `main`, `module`, `types` and each target of `exports`. */
export function entryFiles(manifest) {
  const files = new Set();
  const visit = (target) => {
    if (typeof target === 'string') {
      if (target.startsWith('./') && !target.includes('*')) files.add(target.slice(2));
    } else if (target !== null && typeof target === 'object') {
      for (const value of Object.values(target)) visit(value);
    }
  };
  for (const field of ['main', 'module', 'types']) visit(manifest[field]);
  visit(manifest.exports);
  files.delete('package.json');
  return [...files].sort();
}

/** The newest modification time (ms) of the files under `dir`, or 0 when there are none. */
function newestMtime(dir) {
  if (!existsSync(dir)) return 0;
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** What is wrong with a package's build for packing: missing entry files, or ones older than `src/`. */
export function packProblems(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const sources = newestMtime(join(dir, 'src'));
  const problems = [];
  for (const file of entryFiles(manifest)) {
    const path = join(dir, file);
    if (!existsSync(path)) problems.push(`${file} is missing`);
    else if (statSync(path).mtimeMs < sources) problems.push(`${file} is older than src/ (a stale build)`);
  }
  return { name: manifest.name, problems };
}
