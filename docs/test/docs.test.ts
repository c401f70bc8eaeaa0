import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  docBlocks,
  docsRoot,
  fencesOf,
  guideFiles,
  headingAnchors,
  relativeLinks,
  runBlock,
  typecheckBlocks,
  writeBlocks,
} from '../../test-support/docs.ts';

// Every complete example in the guides (a block fenced ```ts) is compiled and run; a block fenced
// ```ts fragment is illustrative and skipped. A block's expected output is written after each
// console.log as a comment line `// → <exact text>`; the lines it prints must be exactly those.

const blocks = docBlocks();
const guides = guideFiles();

/** Fence info strings a guide may use: anything else (```typescript, ```js) would escape the checks. */
const FENCES = new Set(['ts', 'ts fragment', 'sh', 'text', '']);

/** A block must finish well under a second: time passes on a VirtualClock, not the real one. */
const MAX_BLOCK_MS = 1_000;

const PEERS = ['p-queue', 'p-limit', 'bottleneck', 'cockatiel', 'opossum', 'rate-limiter-flexible'];

beforeAll(async () => {
  writeBlocks(blocks);
  // Load the packages once, so a block's time is its own and not the first transform of the sources.
  await Promise.all(
    [
      'core',
      'testing',
      'buffer',
      'rate-limit',
      'concurrency',
      'shedder',
      'breaker',
      'overload',
      'llm',
      'monitor',
      'web-streams',
      'node-streams',
    ].map((name) => import(/* @vite-ignore */ `@sluice/${name}`)),
  );
});

describe('the guides', () => {
  it('are found, with complete examples to check', () => {
    expect(guides).toEqual(expect.arrayContaining(['README.md', 'concepts.md', 'choosing.md', 'recipes.md']));
    expect(blocks.length).toBeGreaterThan(10);
  });

  it.each(guides)('%s fences code only as ts, ts fragment, sh or text', (doc) => {
    const odd = fencesOf(readFileSync(join(docsRoot, doc), 'utf8'))
      .filter((fence) => !FENCES.has(fence.info))
      .map((fence) => `line ${fence.line}: \`\`\`${fence.info}`);
    expect(odd).toEqual([]);
  });

  it.each(guides)('%s links only to files and headings that exist', (doc) => {
    const broken: string[] = [];
    for (const link of relativeLinks(readFileSync(join(docsRoot, doc), 'utf8'))) {
      const target = link.path === '' ? join(docsRoot, doc) : join(dirname(join(docsRoot, doc)), decodeURIComponent(link.path));
      const label = `${link.path}${link.fragment === undefined ? '' : `#${link.fragment}`}`;
      if (!existsSync(target)) broken.push(`${label}: no such file`);
      else if (link.fragment !== undefined && target.endsWith('.md') && !headingAnchors(readFileSync(target, 'utf8')).has(link.fragment)) {
        broken.push(`${label}: no such heading`);
      }
    }
    expect(broken).toEqual([]);
  });

  it.each(blocks.map((block) => [`docs/${block.doc}:${block.line}`, block] as const))(
    '%s imports only @sluice packages and node: built-ins, and calls no host but 127.0.0.1',
    (_where, block) => {
      const specifiers = [...block.source.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] as string);
      expect(specifiers.filter((s) => !s.startsWith('@sluice/') && !s.startsWith('node:'))).toEqual([]);
      const hosts = [...block.source.matchAll(/\bhttps?:\/\/([^/:'"`\s]+)/g)].map((m) => m[1] as string);
      expect(hosts.filter((host) => host !== '127.0.0.1')).toEqual([]);
    },
  );

  it('every complete block type-checks (one tsc run over all of them)', () => {
    const { ok, output } = typecheckBlocks(blocks);
    if (!ok) expect.fail(`tsc found errors in the guides' examples:\n${output}`);
  });
});

describe.each(blocks.map((block) => [`docs/${block.doc}:${block.line}`, block] as const))('%s', (_where, block) => {
  it('runs and prints what its // → comments say', async () => {
    const { logged, warned, ms, pendingVirtualTimers } = await runBlock(block);
    expect(logged, 'the lines printed, against the // → comments').toEqual(block.expected);
    expect(warned, 'console.warn / console.error output').toEqual([]);
    expect(pendingVirtualTimers, 'timers left on its VirtualClocks (close what the block made)').toBe(0);
    expect(ms, 'real time taken, ms').toBeLessThan(MAX_BLOCK_MS);
  });
});

describe.each(PEERS)('migration/%s.md', (peer) => {
  const doc = `migration/${peer}.md`;
  const path = join(docsRoot, doc);

  it('exists, maps the peer API in a table, and shows before (fragment) and after (complete)', () => {
    expect(existsSync(path), `${doc} is missing`).toBe(true);
    const markdown = readFileSync(path, 'utf8');
    const table = /^(\|.*\|)\n\|(?:\s*:?-{3,}:?\s*\|)+\n((?:\|.*\|\n)+)/m.exec(markdown);
    expect(table, 'a mapping table (header row, --- separator, rows)').not.toBeNull();
    const [, header, rows] = table as RegExpExecArray;
    expect((header as string).toLowerCase(), 'the table maps the peer (its name heads a column)').toContain(peer.toLowerCase());
    expect((rows as string).trim().split('\n').length, 'rows of the mapping table').toBeGreaterThanOrEqual(8);
    const fences = fencesOf(markdown);
    expect(fences.filter((f) => f.info === 'ts').length, 'complete ```ts blocks').toBeGreaterThanOrEqual(1);
    expect(fences.filter((f) => f.info === 'ts fragment').length, 'the peer code, as ```ts fragment').toBeGreaterThanOrEqual(1);
    expect(blocks.filter((b) => b.doc === doc).length).toBeGreaterThanOrEqual(1);
  });
});
