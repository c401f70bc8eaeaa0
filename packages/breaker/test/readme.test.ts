import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] as string);
const example = blocks[0];

/** Runs a README block as a module and returns what it logged. */
async function runBlock(source: string, name: string): Promise<string[]> {
  const dir = fileURLToPath(new URL('../.cache/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = `${dir}${name}.ts`;
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

describe('README', () => {
  it('the example runs (on the system clock) and prints what its comments say', async () => {
    expect(example).toBeDefined();
    const lines = await runBlock(example as string, 'readme-example');
    expect(lines).toEqual(['closed', 'opened: tripped', 'open', 'CIRCUIT_OPEN 30', 'circuit-open', 'closed']);
  });

  it('the virtual-time example (the last block) prints what its comments say', async () => {
    const lines = await runBlock(blocks[blocks.length - 1] as string, 'readme-virtual-time');
    expect(lines).toEqual(['open 5000', 'half-open']);
  });
});
