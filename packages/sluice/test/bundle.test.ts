import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

// These tests bundle the built packages (`pnpm build` first, as `npm test` does), not the
// sources: what ships is what must tree-shake. Only the dist goes through the packages'
// `exports` maps and `sideEffects` flags the way a user's bundler does, and tsup's output of an
// `export *` umbrella is the thing that could defeat tree-shaking; the sources, resolved through
// tsconfig `paths`, would skip all of that.

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const root = fileURLToPath(new URL('../../..', import.meta.url));
const manifest = JSON.parse(readFileSync(`${packageDir}package.json`, 'utf8')) as {
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  sluice: { nodeEntries: string[] };
};
// Third-party peers stay external (the user's to provide); our own optional peers are bundled,
// since they are what the subpath is.
const peers = Object.keys(manifest.peerDependencies).filter((name) => !name.startsWith('@sluice/'));
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

interface Bundle {
  minified: number;
  /** Bytes each input file contributes, by path relative to the repository. */
  inputs: Record<string, number>;
  nodeImports: string[];
}

/** Bundles a one-line module resolved from packages/sluice, as a user's bundler would. */
async function bundle(code: string, platform: 'browser' | 'node' = 'browser'): Promise<Bundle> {
  const nodeImports: string[] = [];
  const result = await build({
    stdin: { contents: code, resolveDir: packageDir, loader: 'js' },
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform,
    external: peers,
    tsconfigRaw: {},
    metafile: true,
    logLevel: 'silent',
    plugins: [
      {
        name: 'no-node-builtins',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) => {
            if (!nodeBuiltins.has(args.path)) return undefined;
            nodeImports.push(args.path);
            return { path: args.path, external: true };
          });
        },
      },
    ],
  });
  const output = Object.values((result.metafile as Metafile).outputs)[0];
  const inputs: Record<string, number> = {};
  for (const [file, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    if (bytesInOutput > 0) inputs[file.replace(/^(\.\.\/)+/, '')] = bytesInOutput;
  }
  return { minified: result.outputFiles.reduce((n, f) => n + f.contents.length, 0), inputs, nodeImports };
}

beforeAll(() => {
  if (!existsSync(`${packageDir}dist/index.js`)) throw new Error('packages/sluice/dist is missing: run `pnpm build` before these tests');
});

describe('tree-shaking', () => {
  it("`import { TokenBucket } from 'sluice'` costs what importing it from @sluice/rate-limit costs", async () => {
    const viaUmbrella = await bundle("export { TokenBucket } from 'sluice';");
    const alone = await bundle("export { TokenBucket } from '@sluice/rate-limit';");
    const whole = await bundle("export * from 'sluice';");
    expect(Math.abs(viaUmbrella.minified - alone.minified)).toBeLessThanOrEqual(Math.max(64, 0.01 * alone.minified));
    // only rate-limit and what it needs from core are in it: no other package contributes a byte
    expect(Object.keys(viaUmbrella.inputs).sort()).toEqual(['packages/core/dist/index.js', 'packages/rate-limit/dist/index.js']);
    expect(viaUmbrella.minified).toBeLessThan(0.3 * whole.minified);
  });

  it('the umbrella itself adds no code to any entry', async () => {
    const whole = await bundle("export * from 'sluice';");
    expect(Object.keys(whole.inputs).filter((file) => file.startsWith('packages/sluice/'))).toEqual([]);
    expect([...new Set(Object.keys(whole.inputs).map((file) => file.split('/')[1]))].sort()).toEqual([
      'breaker',
      'buffer',
      'concurrency',
      'core',
      'llm',
      'monitor',
      'overload',
      'rate-limit',
      'shedder',
      'web-streams',
    ]);
  });
});

describe('browser safety', () => {
  const browserEntries = Object.keys(manifest.exports).filter((s) => s !== './package.json' && !manifest.sluice.nodeEntries.includes(s));

  it.each(browserEntries)('%s bundles for the browser with no Node built-ins', async (subpath) => {
    const specifier = subpath === '.' ? 'sluice' : `sluice/${subpath.slice(2)}`;
    const result = await bundle(`export * from '${specifier}';`);
    expect(result.nodeImports).toEqual([]);
    expect(result.minified).toBeGreaterThan(0);
  });

  it.each(['./node-streams', './shedder/node'])('%s is rightly a Node-only entry (it imports Node built-ins)', async (subpath) => {
    expect(manifest.sluice.nodeEntries).toContain(subpath);
    const result = await bundle(`export * from 'sluice/${subpath.slice(2)}';`);
    expect(result.nodeImports.length).toBeGreaterThan(0);
  });
});

describe('README bundle-size table', () => {
  it('is current: every figure within ±5 % of a fresh measurement (pnpm size rewrites it)', { timeout: 120_000 }, () => {
    const measured = JSON.parse(
      execFileSync(process.execPath, [`${root}scripts/bundle-size.mjs`, '--json'], { cwd: root, encoding: 'utf8' }),
    ) as { label: string; minified: number; gzip: number }[];
    const readme = readFileSync(`${packageDir}README.md`, 'utf8');
    const table = readme.slice(readme.indexOf('<!-- bundle-size:start -->'), readme.indexOf('<!-- bundle-size:end -->'));
    const rows = new Map<string, number[]>();
    for (const line of table.split('\n')) {
      const label = /^\| `([^`]+)`/.exec(line)?.[1];
      if (label !== undefined)
        rows.set(
          label,
          [...line.matchAll(/([\d,]+) B \(/g)].map((m) => Number((m[1] as string).replaceAll(',', ''))),
        );
    }
    expect([...rows.keys()].sort()).toEqual(measured.map((m) => m.label).sort());
    const stale: string[] = [];
    for (const { label, minified, gzip } of measured) {
      const [readmeMinified = NaN, readmeGzip = NaN] = rows.get(label) ?? [];
      if (!(Math.abs(readmeMinified - minified) <= 0.05 * minified))
        stale.push(`${label}: minified ${readmeMinified} in README, ${minified} now`);
      if (!(Math.abs(readmeGzip - gzip) <= 0.05 * gzip)) stale.push(`${label}: gzip ${readmeGzip} in README, ${gzip} now`);
    }
    expect(stale, 'run `pnpm build && pnpm size`').toEqual([]);
    // the entries and the typical imports are all there
    expect(rows.has('sluice')).toBe(true);
    expect(rows.has("import { TokenBucket } from 'sluice'")).toBe(true);
    expect(rows.has("import { TokenBucket } from '@sluice/rate-limit'")).toBe(true);
  });
});
