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
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(/* @vite-ignore */ file);
      // the hint is measured on the real clock, so under load it may be a millisecond or two short of 100
      expect(log).toHaveBeenCalledWith('WAIT_TIMEOUT', 'pace', expect.closeTo(100, -1));
    } finally {
      log.mockRestore();
    }
  });
});
