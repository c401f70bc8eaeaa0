/**
 * The benchmark runner: `pnpm bench [filter ...] [--quick] [--no-save] [--list]`
 * (the root script builds the packages, then runs `node --expose-gc --import tsx bench/run.ts`).
 *
 * 1. Discovers `packages/<name>/bench/*.bench.ts` and `bench/*.bench.ts` and imports each
 *    (bench files only register suites at import; nothing is measured yet).
 * 2. Runs the groups selected by the filters: a filter is a case-insensitive substring or a
 *    `/regex/flags`; it selects a whole suite when it matches the suite's name, otherwise the
 *    groups whose name (or `suite/group`) it matches. No filter runs everything.
 * 3. Prints each table on stdout (progress goes to stderr), stores one JSON file per group in
 *    `bench/results/`, and re-renders `bench/RESULTS.md` from every stored file.
 *
 * Flags: `--quick` (2 short rounds, nothing saved: a smoke test of the bench files), `--no-save`,
 * `--list` (print the suites and groups and exit), `--render` (measure nothing: drop results whose
 * bench file is gone and re-render RESULTS.md from the stored JSON). Exits 1 when a bench file or group throws or
 * when the filters select nothing.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { registeredSuites, runGroup, type RegisteredGroup, type RunSettings } from './harness.ts';
import { writeCharts } from './charts.ts';
import {
  describeMachine,
  groupId,
  pruneRecords,
  readRecords,
  renderResults,
  renderTable,
  writeRecord,
  type GroupRecord,
} from './report.ts';

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(benchDir, '..');
const resultsDir = path.join(benchDir, 'results');
const resultsFile = path.join(benchDir, 'RESULTS.md');
const chartsDir = path.join(benchDir, 'charts');

/** Re-renders RESULTS.md and its SVG charts from every stored record. */
function writeResults(): void {
  const records = readRecords(resultsDir);
  const charts = writeCharts(records, chartsDir);
  writeFileSync(resultsFile, renderResults(records, peerVersions(), charts));
}

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function benchFilesIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.bench.ts'))
    .sort()
    .map((name) => path.join(dir, name));
}

/** `packages/<name>/bench/*.bench.ts`, then `bench/*.bench.ts`, in a stable order. */
function discover(): string[] {
  const packagesDir = path.join(root, 'packages');
  const packageDirs = existsSync(packagesDir) ? readdirSync(packagesDir).sort() : [];
  return [...packageDirs.flatMap((name) => benchFilesIn(path.join(packagesDir, name, 'bench'))), ...benchFilesIn(benchDir)];
}

type Matcher = (text: string) => boolean;

function parseFilter(arg: string): Matcher {
  const regex = /^\/(.+)\/([a-z]*)$/.exec(arg);
  if (regex !== null) {
    const re = new RegExp(regex[1] as string, regex[2]);
    return (text) => re.test(text);
  }
  const needle = arg.toLowerCase();
  return (text) => text.toLowerCase().includes(needle);
}

/** The peers' installed versions, read from their own package.json under bench/node_modules. */
function peerVersions(): { name: string; version: string }[] {
  const manifest = JSON.parse(readFileSync(path.join(benchDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
    devDependencies?: Record<string, string>;
  };
  const pins = { ...manifest.dependencies, ...manifest.devDependencies };
  return Object.entries(pins)
    .filter(([, spec]) => !spec.startsWith('workspace:'))
    .map(([name, spec]) => {
      const file = path.join(benchDir, 'node_modules', name, 'package.json');
      if (!existsSync(file)) return { name, version: `${spec} (not installed)` };
      const installed = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
      return { name, version: installed === spec ? installed : `${installed} (pinned ${spec})` };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

async function main(): Promise<number> {
  const machine = describeMachine();
  // `pnpm bench -- --list` passes the `--` through; it separates nothing here.
  const args = process.argv.slice(2).filter((a) => a !== '--');
  const flags = new Set(args.filter((a) => a.startsWith('--')));
  for (const flag of flags) {
    if (!['--quick', '--no-save', '--list', '--render'].includes(flag)) {
      log(`bench: unknown flag ${flag} (known: --quick, --no-save, --list, --render)`);
      return 2;
    }
  }
  if (flags.has('--render')) {
    // No measuring: drop results whose bench file is gone and re-render RESULTS.md.
    const deleted = pruneRecords(resultsDir, root, new Map());
    if (deleted.length > 0) log(`bench: removed stale results ${deleted.join(', ')}`);
    writeResults();
    log(`bench: wrote ${path.relative(root, resultsFile)} (${readRecords(resultsDir).length} tables)`);
    return 0;
  }
  const matchers = args.filter((a) => !a.startsWith('--')).map(parseFilter);
  const quick = flags.has('--quick');
  const save = !quick && !flags.has('--no-save');
  const settings: RunSettings = quick ? { rounds: 2, budgetMs: 20 } : {};

  let failures = 0;
  for (const file of discover()) {
    const before = registeredSuites().length;
    try {
      await import(pathToFileURL(file).href);
    } catch (error) {
      failures++;
      log(
        `bench: importing ${path.relative(root, file)} failed:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      );
      continue;
    }
    for (const registered of registeredSuites().slice(before)) registered.source = path.relative(root, file);
  }

  const selected: RegisteredGroup[] = [];
  const sources = new Map<string, string>();
  for (const registered of registeredSuites()) {
    sources.set(registered.name, registered.source ?? 'unknown');
    const wholeSuite = matchers.length === 0 || matchers.some((m) => m(registered.name));
    for (const group of registered.groups) {
      if (wholeSuite || matchers.some((m) => m(group.name) || m(`${registered.name}/${group.name}`))) selected.push(group);
    }
  }

  if (flags.has('--list')) {
    for (const registered of registeredSuites()) {
      process.stdout.write(`${registered.name}  (${registered.source ?? '?'})\n`);
      for (const group of registered.groups) process.stdout.write(`  ${selected.includes(group) ? '*' : ' '} ${group.name}\n`);
    }
    return failures > 0 ? 1 : 0;
  }
  if (selected.length === 0) {
    log(
      `bench: no group matches ${args.filter((a) => !a.startsWith('--')).join(' ') || '(no filter)'}; suites: ${
        registeredSuites()
          .map((s) => s.name)
          .join(', ') || 'none'
      }`,
    );
    return 1;
  }

  log(
    `bench: ${selected.length} group(s); node ${machine.node}, ${machine.nproc} cores, load ${machine.loadAvg.join(' ')}` +
      `${quick ? ' (quick: 2 short rounds, not saved)' : ''}`,
  );
  const started = performance.now();
  const completed = new Map<string, Set<string>>();
  for (const group of selected) {
    log(`bench: ${group.suite} › ${group.name}`);
    try {
      const result = await runGroup(group, settings, log);
      const record: GroupRecord = {
        schema: 1,
        id: groupId(group.suite, group.name),
        source: sources.get(group.suite) ?? 'unknown',
        machine,
        ...result,
      };
      process.stdout.write(`\n## ${group.suite} › ${group.name}\n\n${renderTable(result)}\n\n`);
      log(`bench: ${group.suite} › ${group.name} done in ${(result.elapsedMs / 1000).toFixed(1)} s`);
      if (save) {
        writeRecord(resultsDir, record);
        let ids = completed.get(group.suite);
        if (ids === undefined) completed.set(group.suite, (ids = new Set()));
        ids.add(record.id);
      }
    } catch (error) {
      failures++;
      log(`bench: ${group.suite} › ${group.name} FAILED:\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }

  if (save) {
    // Only a suite whose every group ran and succeeded may drop records of groups it no longer has.
    const complete = new Map<string, ReadonlySet<string>>();
    for (const registered of registeredSuites()) {
      const ids = completed.get(registered.name);
      if (ids !== undefined && ids.size === registered.groups.length) complete.set(registered.name, ids);
    }
    const deleted = pruneRecords(resultsDir, root, complete);
    if (deleted.length > 0) log(`bench: removed stale results ${deleted.join(', ')}`);
    writeResults();
    log(`bench: wrote ${path.relative(root, resultsFile)} (${readRecords(resultsDir).length} tables)`);
  }
  log(`bench: finished in ${((performance.now() - started) / 1000).toFixed(1)} s${failures > 0 ? `, ${failures} failure(s)` : ''}`);
  return failures > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    log(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = 1;
  },
);
