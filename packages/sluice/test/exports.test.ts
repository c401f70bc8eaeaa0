import { readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as breaker from '@sluice/breaker';
import * as buffer from '@sluice/buffer';
import * as concurrency from '@sluice/concurrency';
import * as core from '@sluice/core';
import * as llm from '@sluice/llm';
import * as monitor from '@sluice/monitor';
import * as monitorOtel from '@sluice/monitor/otel';
import * as monitorProm from '@sluice/monitor/prom-client';
import * as nodeStreams from '@sluice/node-streams';
import * as overload from '@sluice/overload';
import * as rateLimit from '@sluice/rate-limit';
import * as redis from '@sluice/redis';
import * as shedder from '@sluice/shedder';
import * as shedderNode from '@sluice/shedder/node';
import * as testing from '@sluice/testing';
import * as testingArbitraries from '@sluice/testing/arbitraries';
import * as testingContract from '@sluice/testing/contract';
import * as webStreams from '@sluice/web-streams';
import * as sluice from 'sluice';
import * as sluiceMonitorOtel from 'sluice/monitor/otel';
import * as sluiceMonitorProm from 'sluice/monitor/prom-client';
import * as sluiceNodeStreams from 'sluice/node-streams';
import * as sluiceRedis from 'sluice/redis';
import * as sluiceShedderNode from 'sluice/shedder/node';
import * as sluiceTesting from 'sluice/testing';
import * as sluiceTestingArbitraries from 'sluice/testing/arbitraries';
import * as sluiceTestingContract from 'sluice/testing/contract';

// The test imports resolve to sources (vitest aliases derived from every package.json `exports`),
// so `toBe` below is about the module graph: the umbrella re-exports, it never copies.

/** The browser-safe packages the root entry re-exports, each with one symbol to spot-check. */
const ROOT_PACKAGES = [
  ['@sluice/core', core, 'pipeline'],
  ['@sluice/buffer', buffer, 'BoundedBuffer'],
  ['@sluice/rate-limit', rateLimit, 'TokenBucket'],
  ['@sluice/concurrency', concurrency, 'ConcurrencyLimiter'],
  ['@sluice/shedder', shedder, 'LoadShedder'],
  ['@sluice/breaker', breaker, 'CircuitBreaker'],
  ['@sluice/overload', overload, 'OverloadProtection'],
  ['@sluice/llm', llm, 'LlmLimiter'],
  ['@sluice/monitor', monitor, 'QueueMonitor'],
  ['@sluice/web-streams', webStreams, 'throttle'],
] as const;

/** Each subpath, the module it stands for, and one symbol to spot-check. */
const SUBPATHS = [
  ['sluice/testing', sluiceTesting, testing, 'VirtualClock'],
  ['sluice/testing/contract', sluiceTestingContract, testingContract, 'describeGateContract'],
  ['sluice/testing/arbitraries', sluiceTestingArbitraries, testingArbitraries, 'gateOperations'],
  ['sluice/monitor/otel', sluiceMonitorOtel, monitorOtel, 'registerOpenTelemetry'],
  ['sluice/monitor/prom-client', sluiceMonitorProm, monitorProm, 'registerPromClient'],
  ['sluice/node-streams', sluiceNodeStreams, nodeStreams, 'throttle'],
  ['sluice/redis', sluiceRedis, redis, 'RedisStore'],
  ['sluice/shedder/node', sluiceShedderNode, shedderNode, 'eventLoopLag'],
] as const;

const ns = (module: object) => module as Record<string, unknown>;

describe('the root entry', () => {
  it.each(ROOT_PACKAGES)('re-exports %s (spot check: the same object)', (_name, module, symbol) => {
    expect(ns(module)[symbol]).toBeDefined();
    expect(ns(sluice)[symbol]).toBe(ns(module)[symbol]);
  });

  it('re-exports every runtime export of every browser-safe package, the same value, and nothing else', () => {
    const expected = new Map<string, unknown>();
    for (const [name, module] of ROOT_PACKAGES) {
      for (const [key, value] of Object.entries(module)) {
        // a name exported by two packages with different values would be ambiguous under
        // `export *` (and dropped at runtime): it must be settled explicitly in src/index.ts
        if (expected.has(key)) expect(expected.get(key), `${key} also from ${name}`).toBe(value);
        expected.set(key, value);
      }
    }
    expect(Object.keys(sluice).sort()).toEqual([...expected.keys()].sort());
    for (const [key, value] of expected) expect(ns(sluice)[key], key).toBe(value);
  });

  it.each(['throttle', 'fromBuffer', 'toBuffer', 'conflate'])(
    'has the Web Streams %s; the Node streams one is sluice/node-streams',
    (name) => {
      expect(ns(sluice)[name]).toBe(ns(webStreams)[name]);
      expect(ns(sluiceNodeStreams)[name]).toBe(ns(nodeStreams)[name]);
      expect(ns(sluice)[name]).not.toBe(ns(sluiceNodeStreams)[name]);
    },
  );
});

describe('the subpaths', () => {
  it.each(SUBPATHS)('%s re-exports its module whole (spot check and every key)', (_name, umbrella, module, symbol) => {
    expect(ns(module)[symbol]).toBeDefined();
    expect(ns(umbrella)[symbol]).toBe(ns(module)[symbol]);
    expect(Object.keys(umbrella).sort()).toEqual(Object.keys(module).sort());
    for (const [key, value] of Object.entries(module)) expect(ns(umbrella)[key], key).toBe(value);
  });
});

describe('package.json', () => {
  type Target = { import: { types: string; default: string }; require: { types: string; default: string } };
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    exports: Record<string, Target | string>;
    files: string[];
    sideEffects: boolean;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    peerDependenciesMeta: Record<string, { optional?: boolean }>;
    devDependencies: Record<string, string>;
    sluice: { nodeEntries: string[] };
  };
  const subpaths = Object.keys(manifest.exports).filter((s) => s !== './package.json');

  it('is tree-shakable and maps exactly the root entry and the subpaths tested above', () => {
    expect(manifest.sideEffects).toBe(false);
    expect([...subpaths].sort()).toEqual(['.', ...SUBPATHS.map(([name]) => `./${name.slice('sluice/'.length)}`)].sort());
  });

  it('marks the Node-only entries as the release checks expect', () => {
    expect([...manifest.sluice.nodeEntries].sort()).toEqual(['./node-streams', './redis', './shedder/node']);
  });

  it('gives every subpath a stub package.json for node10 resolution, shipped in `files`', () => {
    for (const subpath of subpaths.filter((s) => s !== '.')) {
      const dir = subpath.slice(2);
      const stubUrl = new URL(`../${dir}/package.json`, import.meta.url);
      expect(existsSync(stubUrl), `${dir}/package.json`).toBe(true);
      const stub = JSON.parse(readFileSync(stubUrl, 'utf8')) as { main: string; module: string; types: string };
      const target = manifest.exports[subpath] as Target;
      const up = '../'.repeat(dir.split('/').length);
      expect(stub).toEqual({
        private: true,
        main: up + target.require.default.slice(2),
        module: up + target.import.default.slice(2),
        types: up + target.require.types.slice(2),
      });
      expect(manifest.files).toContain(dir.split('/')[0]);
    }
  });

  it('depends on the packages of its root entry, from the workspace', () => {
    expect(Object.keys(manifest.dependencies).sort()).toEqual(ROOT_PACKAGES.map(([name]) => name).sort());
    for (const version of Object.values(manifest.dependencies)) expect(version).toBe('workspace:*');
  });

  it('has the testing kit and the Node-only packages as optional peers (installed only by who imports their subpath)', () => {
    const optional = ['@sluice/testing', '@sluice/node-streams', '@sluice/redis'];
    for (const name of optional) {
      expect(manifest.peerDependencies[name], name).toBe('workspace:*');
      expect(manifest.peerDependenciesMeta[name], name).toEqual({ optional: true });
      expect(manifest.devDependencies[name], name).toBe('workspace:*');
      expect(manifest.dependencies[name], name).toBeUndefined();
    }
  });
});
