// Types of scripts/lib.mjs, for the tests that use the workspace helpers.

export const root: string;
export function step(title: string): void;
export function run(command: string, args: string[], options?: import('node:child_process').SpawnOptions): Promise<void>;
export function capture(
  command: string,
  args: string[],
  options?: import('node:child_process').SpawnSyncOptions,
): { status: number; stdout: string; stderr: string };

/** A published entry point's manifest, as far as the scripts read it. */
export interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  main?: string;
  module?: string;
  types?: string;
  exports?: unknown;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  sluice?: { platform?: 'node'; nodeEntries?: string[] };
}
export function captureAsync(
  command: string,
  args: string[],
  options?: import('node:child_process').SpawnOptions,
): Promise<{ status: number; stdout: string; stderr: string }>;
export function workspacePackages(): { name: string; dir: string; manifest: Manifest }[];
export function pool<T, R>(items: T[], limit: number, job: (item: T, index: number) => Promise<R>): Promise<R[]>;
export function pnpmCommand(): [string, string[]];
export function pinnedPnpmVersion(): string;
export function pnpmPaths(top: string, version: string): { prefix: string; entry: string; binDir: string };
export function withFirstOnPath(dir: string, path?: string): string;
export function entryFiles(manifest: Manifest): string[];
export function packProblems(dir: string): { name: string; problems: string[] };
