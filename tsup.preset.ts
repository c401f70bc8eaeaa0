import type { Options } from 'tsup';

/**
 * The one build recipe every package uses: ESM + CJS + declarations for both, ES2022, no
 * minification (consumers minify), tree-shakable output.
 *
 * `platform: 'neutral'` for browser-safe packages makes esbuild refuse to resolve Node
 * built-ins, so a stray `node:` import fails the build instead of shipping.
 */
export function libraryBuild(options: {
  entry: Record<string, string>;
  platform?: 'neutral' | 'node';
  external?: string[];
}): Options {
  return {
    entry: options.entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'es2022',
    platform: options.platform ?? 'neutral',
    treeshake: true,
    splitting: true,
    external: options.external ?? [],
    outDir: 'dist',
  };
}
