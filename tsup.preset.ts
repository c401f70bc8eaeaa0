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
  /** Empty `dist` first; default true. A package with several builds cleans once, in its build script. */
  clean?: boolean;
  /** tsconfig for the declarations; default the package's `tsconfig.json`. */
  tsconfig?: string;
}): Options {
  return {
    entry: options.entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: options.clean ?? true,
    target: 'es2022',
    platform: options.platform ?? 'neutral',
    treeshake: true,
    splitting: true,
    external: options.external ?? [],
    outDir: 'dist',
    ...(options.tsconfig === undefined ? {} : { tsconfig: options.tsconfig }),
  };
}
