import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';

/**
 * The complete examples (```ts blocks) of the README next to a package's `test/` folder, given
 * the test file's `import.meta.url`.
 */
export function readmeBlocks(testFileUrl: string): string[] {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', testFileUrl)), 'utf8');
  return [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
}

/**
 * Runs README block `index` as a module (written under the package's `.cache/`) and returns the
 * lines it logged, each argument a string as is or else as JSON.
 */
export async function runReadmeBlock(testFileUrl: string, index = 0): Promise<string[]> {
  const source = readmeBlocks(testFileUrl)[index];
  if (source === undefined) throw new Error(`README has no ts block ${index}`);
  const dir = fileURLToPath(new URL('../.cache/', testFileUrl));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}readme-example-${index}.ts`;
  writeFileSync(file, source);
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
    lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
  });
  try {
    await import(/* @vite-ignore */ file);
  } finally {
    log.mockRestore();
  }
  return lines;
}
