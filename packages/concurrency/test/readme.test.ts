import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, vi } from 'vitest';

const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
const example = /^```ts\n([\s\S]*?)^```$/m.exec(readme)?.[1];

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(example).toBeDefined();
    const dir = fileURLToPath(new URL('../.cache/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const file = `${dir}readme-example.ts`;
    writeFileSync(file, example as string);
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
    });
    try {
      await import(/* @vite-ignore */ file);
    } finally {
      log.mockRestore();
    }
    expect(lines).toEqual(['[1,2,3,4,5] peak in flight: 2', '4 0']);
  });
});
