import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatWithOptions } from 'node:util';
import { VirtualClock } from '@sluice/testing';
import { vi } from 'vitest';

/** The repository root. */
export const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/** The guides. */
export const docsRoot = join(repoRoot, 'docs');
/** Where the complete blocks are written to be compiled and run (gitignored). */
export const examplesDir = join(repoRoot, '.cache', 'docs-examples');

/** One fenced code block of a guide. */
export interface Fence {
  /** The info string after the opening fence: `ts`, `ts fragment`, `sh`, … */
  readonly info: string;
  /** 1-based line of the opening fence in the Markdown file. */
  readonly line: number;
  /** The block's text, ending with a newline. */
  readonly body: string;
}

/** A complete example (a block fenced exactly ```ts): compiled and run by the docs test. */
export interface DocBlock {
  /** Path of the guide under `docs/`, with `/` separators: `migration/p-queue.md`. */
  readonly doc: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The block's source. */
  readonly source: string;
  /** What the block must print, in order: the text of each `// → …` comment line. */
  readonly expected: readonly string[];
  /** Where the block is written (a file name inside {@link examplesDir}). */
  readonly fileName: string;
}

/** Every guide under `docs/` (not the generated `docs/api/`), relative paths with `/`, sorted. */
export function guideFiles(root = docsRoot): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path).split(sep).join('/');
      if (entry.isDirectory()) {
        if (rel === 'api' || entry.name === 'node_modules') continue;
        walk(path);
      } else if (entry.name.endsWith('.md')) {
        found.push(rel);
      }
    }
  };
  walk(root);
  return found.sort();
}

/** The fenced code blocks of a Markdown text (``` fences at the start of a line). */
export function fencesOf(markdown: string): Fence[] {
  const lines = markdown.split('\n');
  const fences: Fence[] = [];
  let open: { info: string; line: number; body: string[] } | undefined;
  lines.forEach((text, index) => {
    if (open === undefined) {
      const start = /^```(.*)$/.exec(text);
      if (start !== null) open = { info: (start[1] as string).trim(), line: index + 1, body: [] };
    } else if (text === '```') {
      fences.push({ info: open.info, line: open.line, body: open.body.map((l) => `${l}\n`).join('') });
      open = undefined;
    } else {
      open.body.push(text);
    }
  });
  if (open !== undefined) throw new Error(`unclosed code fence opened at line ${(open as { line: number }).line}`);
  return fences;
}

/** The text of every `// → …` comment line of a block, in order: what it must print. */
export function expectedOutput(source: string): string[] {
  const expected: string[] = [];
  for (const line of source.split('\n')) {
    const match = /^\s*\/\/ → (.*)$/.exec(line);
    if (match !== null) expected.push(match[1] as string);
    else if (/^\s*\/\/ →\s*$/.test(line)) expected.push('');
  }
  return expected;
}

/** Every complete block (```ts) of every guide. */
export function docBlocks(root = docsRoot): DocBlock[] {
  const blocks: DocBlock[] = [];
  for (const doc of guideFiles(root)) {
    const markdown = readFileSync(join(root, doc), 'utf8');
    for (const fence of fencesOf(markdown)) {
      if (fence.info !== 'ts') continue;
      const slug = doc.replace(/\.md$/, '').replace(/[^A-Za-z0-9-]+/g, '_');
      blocks.push({
        doc,
        line: fence.line,
        source: fence.body,
        expected: expectedOutput(fence.body),
        fileName: `${slug}.L${fence.line}.ts`,
      });
    }
  }
  return blocks;
}

/**
 * Writes every block to {@link examplesDir} as its own module (one file per block, named after
 * the guide and the fence's line, so a compiler error points back to the Markdown), with a
 * tsconfig that extends the root one: `@sluice/*` resolve to the packages' sources.
 */
export function writeBlocks(blocks: readonly DocBlock[], dir = examplesDir): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const block of blocks) writeFileSync(join(dir, block.fileName), `${block.source}\nexport {};\n`);
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify(
      { extends: '../../tsconfig.json', compilerOptions: { noUnusedLocals: false, noEmit: true }, include: ['*.ts'] },
      null,
      2,
    ),
  );
}

/**
 * Runs the repository's `tsc` once over every block written by {@link writeBlocks}. In the output,
 * a position in a block's file is given as the position in the guide (`docs/recipes.md:57:12`).
 */
export function typecheckBlocks(blocks: readonly DocBlock[], dir = examplesDir): { ok: boolean; output: string } {
  const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (result.error !== undefined) throw result.error;
  const byFile = new Map(blocks.map((block) => [block.fileName, block]));
  const output = `${result.stdout}${result.stderr}`.replace(
    /(?:[^\s(]*[\\/])?([^\s\\/(]+\.ts)\((\d+),(\d+)\)/g,
    (whole, file: string, line: string, column: string) => {
      const block = byFile.get(file);
      return block === undefined ? whole : `docs/${block.doc}:${block.line + Number(line)}:${column}`;
    },
  );
  return { ok: result.status === 0, output };
}

/** What a block printed (each `console.log` call split into lines, formatted as Node prints them) and warned. */
export interface BlockRun {
  readonly logged: string[];
  readonly warned: string[];
  readonly ms: number;
  /** Timers still pending on the `VirtualClock`s the block set timers on: a tidy block closes what it made. */
  readonly pendingVirtualTimers: number;
}

/** Imports a written block as a module, capturing `console.log` (and `console.warn`/`console.error`). */
export async function runBlock(block: DocBlock, dir = examplesDir): Promise<BlockRun> {
  const logged: string[] = [];
  const warned: string[] = [];
  const format = (args: unknown[]): string[] => formatWithOptions({ colors: false }, ...args).split('\n');
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void logged.push(...format(args)));
  const warn = vi.spyOn(console, 'warn').mockImplementation((...args: unknown[]) => void warned.push(...format(args)));
  const error = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void warned.push(...format(args)));
  const setTimer = vi.spyOn(VirtualClock.prototype, 'setTimer');
  const start = performance.now();
  let ms: number;
  try {
    await import(/* @vite-ignore */ join(dir, block.fileName));
  } finally {
    ms = performance.now() - start;
    log.mockRestore();
    warn.mockRestore();
    error.mockRestore();
  }
  const clocks = new Set(setTimer.mock.contexts as VirtualClock[]);
  setTimer.mockRestore();
  let pendingVirtualTimers = 0;
  for (const clock of clocks) pendingVirtualTimers += clock.pendingTimers;
  return { logged, warned, ms, pendingVirtualTimers };
}

/** A relative link of a guide: the file it points to (relative to the guide) and its `#fragment`, if any. */
export interface RelativeLink {
  readonly path: string;
  readonly fragment: string | undefined;
}

/** Relative links (`[text](target)`) of a Markdown text, outside code blocks. */
export function relativeLinks(markdown: string): RelativeLink[] {
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...withoutCode.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] as string)
    .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
    .map((target) => {
      const hash = target.indexOf('#');
      return hash < 0 ? { path: target, fragment: undefined } : { path: target.slice(0, hash), fragment: target.slice(hash + 1) };
    });
}

/** The anchors GitHub gives a Markdown text's headings (lower case, punctuation dropped, spaces to hyphens, repeats numbered). */
export function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  const withoutCode = markdown.replace(/^```[\s\S]*?^```$/gm, '');
  for (const match of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (match[1] as string)
      .replace(/`/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}
