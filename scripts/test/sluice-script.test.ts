import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pinnedPnpmVersion, pnpmPaths, root, withFirstOnPath } from '../lib.mjs';

// The README's commands go through scripts/sluice.mjs. What broke once: the pinned pnpm was
// found by the script itself but not by the scripts it ran (`pnpm -r … run build` inside the
// root `build` script), so a machine without a global pnpm failed at the build. These tests run
// the real script with a PATH whose first `pnpm` is an impostor that records being launched.

const scratch = mkdtempSync(join(tmpdir(), 'sluice-script-'));
const impostorBin = join(scratch, 'bin');
const launched = join(scratch, 'impostor-launched');
const version = pinnedPnpmVersion();
const { binDir } = pnpmPaths(root, version);

spawnSync('mkdir', ['-p', impostorBin]);
for (const name of ['pnpm', 'pnpx']) {
  const file = join(impostorBin, name);
  writeFileSync(file, `#!/bin/sh\necho launched >> '${launched}'\necho 99.0.0\nexit 3\n`);
  chmodSync(file, 0o755);
}

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** `node scripts/sluice.mjs pnpm …` with the impostor first on PATH, then node's directory and the system's. */
function sluicePnpm(args: string[]) {
  const PATH = [impostorBin, dirname(process.execPath), '/usr/bin', '/bin'].join(delimiter);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  const result = spawnSync(process.execPath, [join(root, 'scripts', 'sluice.mjs'), 'pnpm', ...args], {
    cwd: root,
    env: { ...env, PATH },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('scripts/sluice.mjs', () => {
  it('runs the pinned pnpm and never launches another one found on PATH', { timeout: 120_000 }, () => {
    const result = sluicePnpm(['--version']);
    expect(result.stderr).not.toContain('99.0.0');
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
    expect(existsSync(launched)).toBe(false);
  });

  it('puts the pinned copy first on PATH for every child, so a nested bare `pnpm` is the pinned one', { timeout: 120_000 }, () => {
    const result = sluicePnpm(['exec', 'sh', '-c', 'command -v pnpm; pnpm --version']);
    expect(result.status, result.stderr).toBe(0);
    const [resolved, nestedVersion] = result.stdout.trim().split('\n');
    expect(resolved).toBe(join(binDir, 'pnpm'));
    expect(nestedVersion).toBe(version);
    expect(existsSync(launched)).toBe(false);
  });

  it('passes pnpm’s exit code through', { timeout: 120_000 }, () => {
    expect(sluicePnpm(['exec', 'node', '-e', 'process.exit(7)']).status).toBe(7);
  });

  it('withFirstOnPath puts the directory first once and keeps the rest in order', () => {
    expect(withFirstOnPath('/a', ['/b', '/a', '', '/c'].join(delimiter))).toBe(['/a', '/b', '/c'].join(delimiter));
    expect(withFirstOnPath('/a', undefined)).toBe('/a');
  });
});
