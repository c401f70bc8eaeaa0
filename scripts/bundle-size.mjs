#!/usr/bin/env node
// What the `sluice` umbrella costs in a user's bundle: every entry point of packages/sluice, and a
// few typical single imports next to the same import from the @sluice package alone (equal sizes
// = the umbrella adds nothing and tree-shakes).
//
// Measured on the built packages (`pnpm build` first), the files npm users get: each case is
// bundled by esbuild from a one-line module (`export * from 'sluice'`,
// `export { TokenBucket } from 'sluice'`) resolved through the packages' `exports` maps, minified
// (ES2022, ESM), then gzipped with node:zlib at level 9. Browser-safe entries are bundled for
// `platform: 'browser'`, the Node-only ones (package.json `sluice.nodeEntries`) for `node`; the
// optional peers (vitest, fast-check, ioredis, prom-client, @opentelemetry/api) stay external and
// are not counted.
//
//   node scripts/bundle-size.mjs          measure and rewrite the table in packages/sluice/README.md
//   node scripts/bundle-size.mjs --json   measure and print JSON (README untouched)
//   node scripts/bundle-size.mjs --check  exit 1 when a README figure is more than 5 % off
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { root, step } from './lib.mjs';

const packageDir = join(root, 'packages', 'sluice');
const readmePath = join(packageDir, 'README.md');
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
const nodeEntries = new Set(manifest.sluice?.nodeEntries ?? []);
const peers = Object.keys(manifest.peerDependencies ?? {}).filter((name) => !name.startsWith('@sluice/'));

export const START = '<!-- bundle-size:start -->';
export const END = '<!-- bundle-size:end -->';
/** How far a README figure may be from a fresh measurement before the table counts as stale. */
export const TOLERANCE = 0.05;

/** Typical single imports: [name, the umbrella's specifier is 'sluice', the package alone]. */
const TYPICAL_IMPORTS = [
  ['TokenBucket', '@sluice/rate-limit'],
  ['ConcurrencyLimiter', '@sluice/concurrency'],
  ['CircuitBreaker', '@sluice/breaker'],
  ['overloadProtection', '@sluice/overload'],
  ['throttle', '@sluice/web-streams'],
];

/** Every case measured: the umbrella's entries, then the typical imports. */
export function cases() {
  const entries = Object.keys(manifest.exports)
    .filter((subpath) => subpath !== './package.json')
    .map((subpath) => {
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;
      return {
        kind: 'entry',
        label: specifier,
        platform: nodeEntries.has(subpath) ? 'node' : 'browser',
        code: `export * from '${specifier}';`,
      };
    });
  const imports = TYPICAL_IMPORTS.flatMap(([name, alone]) =>
    [manifest.name, alone].map((from) => ({
      kind: 'import',
      label: `import { ${name} } from '${from}'`,
      platform: 'browser',
      code: `export { ${name} } from '${from}';`,
    })),
  );
  return [...entries, ...imports];
}

/** Bundles one case as a user's bundler would: minified bytes and gzip bytes. */
export async function measure({ code, platform }) {
  const result = await build({
    // resolved from packages/sluice: `sluice` by self-reference, `@sluice/*` through its
    // node_modules — both through package.json `exports`, to the built dist
    stdin: { contents: code, resolveDir: packageDir, loader: 'js' },
    bundle: true,
    write: false,
    minify: true,
    format: 'esm',
    target: 'es2022',
    platform,
    external: peers,
    tsconfigRaw: {},
    logLevel: 'silent',
  });
  const bytes = Buffer.concat(result.outputFiles.map((file) => file.contents));
  return { minified: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

export async function measureAll() {
  if (!existsSync(join(packageDir, 'dist', 'index.js'))) {
    throw new Error('packages/sluice/dist is missing: run `pnpm build` first (sizes are measured on the built packages)');
  }
  const results = [];
  for (const c of cases()) results.push({ ...c, ...(await measure(c)) });
  return results;
}

const number = (n) => n.toLocaleString('en-US');
const size = (bytes) => `${number(bytes)} B (${(bytes / 1024).toFixed(1)} KiB)`;

/** The Markdown between the markers. */
export function renderTable(results) {
  const entries = results.filter((r) => r.kind === 'entry');
  const imports = results.filter((r) => r.kind === 'import');
  const whole = entries.find((r) => r.label === manifest.name);
  const lines = [
    START,
    '<!-- written by `pnpm size` (scripts/bundle-size.mjs); test/bundle.test.ts fails when a figure is off by more than 5 % -->',
    '',
    '| entry point | platform | minified | minified + gzip |',
    '| --- | --- | --- | --- |',
    ...entries.map((r) => `| \`${r.label}\` | ${r.platform} | ${size(r.minified)} | ${size(r.gzip)} |`),
    '',
    '| a typical import | minified | minified + gzip | share of the whole root entry (gzip) |',
    '| --- | --- | --- | --- |',
    ...imports.map(
      (r) =>
        `| \`${r.label}\` | ${size(r.minified)} | ${size(r.gzip)} | ${whole ? `${((100 * r.gzip) / whole.gzip).toFixed(0)} %` : '—'} |`,
    ),
    END,
  ];
  return lines.join('\n');
}

/** The figures in the README table: label → { minified, gzip }. */
export function readTable(readme) {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`packages/sluice/README.md lacks the ${START} … ${END} markers`);
  const table = new Map();
  for (const line of readme.slice(start, end).split('\n')) {
    const match = /^\| `([^`]+)` \|(?: (?:browser|node) \|)? ([\d,]+) B [^|]*\| ([\d,]+) B /.exec(line);
    if (match) table.set(match[1], { minified: Number(match[2].replaceAll(',', '')), gzip: Number(match[3].replaceAll(',', '')) });
  }
  return table;
}

/** Differences beyond the tolerance between the README and fresh results (empty when current). */
export function staleFigures(readme, results) {
  const table = readTable(readme);
  const problems = [];
  for (const r of results) {
    const row = table.get(r.label);
    if (row === undefined) {
      problems.push(`${r.label}: not in the README table`);
      continue;
    }
    for (const key of ['minified', 'gzip']) {
      if (Math.abs(row[key] - r[key]) > TOLERANCE * r[key])
        problems.push(`${r.label}: ${key} ${row[key]} B in the README, ${r[key]} B measured`);
    }
  }
  for (const label of table.keys())
    if (!results.some((r) => r.label === label)) problems.push(`${label}: in the README, no longer measured`);
  return problems;
}

const isMain = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  const mode = process.argv[2];
  try {
    const results = await measureAll();
    const readme = readFileSync(readmePath, 'utf8');
    if (mode === '--json') {
      process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
    } else if (mode === '--check') {
      const problems = staleFigures(readme, results);
      step(`bundle sizes in packages/sluice/README.md: ${problems.length === 0 ? 'current' : 'stale'}`);
      if (problems.length > 0) {
        console.error(`- ${problems.join('\n- ')}\n(run \`pnpm size\` to rewrite the table)`);
        process.exit(1);
      }
    } else if (mode === undefined) {
      const start = readme.indexOf(START);
      const end = readme.indexOf(END);
      if (start < 0 || end < start) throw new Error(`packages/sluice/README.md lacks the ${START} … ${END} markers`);
      writeFileSync(readmePath, readme.slice(0, start) + renderTable(results) + readme.slice(end + END.length));
      process.stdout.write(`${renderTable(results)}\n`);
      step('bundle sizes written to packages/sluice/README.md');
    } else {
      console.error('usage: node scripts/bundle-size.mjs [--json | --check]');
      process.exit(2);
    }
  } catch (error) {
    console.error(`\u2716 ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
