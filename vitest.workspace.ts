import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProjectInlineConfiguration } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Tests import packages by name (`@sluice/core`, `@sluice/testing/contract`) and run against
 * their sources, so a test run never needs a build first. The release checks test the built
 * output separately.
 */
function sourceAliases(): { find: string | RegExp; replacement: string }[] {
  const aliases: { find: string | RegExp; replacement: string }[] = [];
  for (const dir of readdirSync(`${root}packages`)) {
    const manifestPath = `${root}packages/${dir}/package.json`;
    if (!existsSync(manifestPath)) continue;
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { name: string; exports?: Record<string, unknown> };
    for (const subpath of Object.keys(manifest.exports ?? { '.': null })) {
      if (subpath === './package.json') continue;
      const entry = subpath === '.' ? 'index' : subpath.slice(2);
      const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${entry}`;
      aliases.push({
        find: new RegExp(`^${specifier.replace(/[/.]/g, '\\$&')}$`),
        replacement: `${root}packages/${dir}/src/${entry}.ts`,
      });
    }
  }
  return aliases;
}

const alias = sourceAliases();

function packageProject(name: string): TestProjectInlineConfiguration {
  return {
    resolve: { alias },
    test: {
      name,
      root: `${root}packages/${name}`,
      include: ['test/**/*.test.ts'],
      environment: 'node',
    },
  };
}

function exampleProject(name: string): TestProjectInlineConfiguration {
  return {
    resolve: { alias },
    test: { name: `example-${name}`, root: `${root}examples/${name}`, include: ['test/**/*.test.ts'], environment: 'node' },
  };
}

/**
 * Tests that drive Debian's headless Chromium (`packages/<name>/browser/*.browser.test.ts`, and
 * later examples): one project, so one browser start per file and a longer timeout.
 */
function chromiumProject(): TestProjectInlineConfiguration {
  return {
    resolve: { alias },
    test: { name: 'chromium', root, include: ['packages/*/browser/**/*.browser.test.ts'], environment: 'node', testTimeout: 60_000 },
  };
}

/** The guides in docs/: every complete ```ts block is compiled and run (docs/test). */
function docsProject(): TestProjectInlineConfiguration {
  return {
    resolve: { alias },
    test: { name: 'docs', root: `${root}docs`, include: ['test/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
  };
}

/** The workspace scripts (scripts/*.mjs): the README's commands themselves. */
function scriptsProject(): TestProjectInlineConfiguration {
  return { test: { name: 'scripts', root: `${root}scripts`, include: ['test/**/*.test.ts'], environment: 'node', testTimeout: 120_000 } };
}

/** The one list of test projects, named after the packages and examples. */
export const projects: TestProjectInlineConfiguration[] = [
  packageProject('core'),
  packageProject('testing'),
  packageProject('buffer'),
  packageProject('rate-limit'),
  packageProject('concurrency'),
  packageProject('shedder'),
  packageProject('breaker'),
  packageProject('overload'),
  packageProject('llm'),
  packageProject('monitor'),
  packageProject('node-streams'),
  packageProject('web-streams'),
  packageProject('redis'),
  packageProject('sluice'),
  exampleProject('pipeline-demo'),
  exampleProject('overload-service'),
  exampleProject('browser'),
  exampleProject('llm-gateway'),
  chromiumProject(),
  docsProject(),
  scriptsProject(),
];
