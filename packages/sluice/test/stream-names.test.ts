import { describe, expect, it } from 'vitest';
import * as node from '@sluice/node-streams';
import * as web from '@sluice/web-streams';
import * as umbrella from 'sluice';

/** The adapters both runtimes have, under one name each. */
const SHARED = ['bufferStream', 'conflate', 'fromBuffer', 'throttle', 'toBuffer'] as const;

/** A module's exports by name. */
const exportsOf = (module: object): Readonly<Record<string, unknown>> => Object.fromEntries(Object.entries(module));
const [webExports, nodeExports, umbrellaExports] = [exportsOf(web), exportsOf(node), exportsOf(umbrella)];

describe('the Web and Node stream adapters share one naming', () => {
  it.each(SHARED)('%s is a function in both packages and in the umbrella', (name) => {
    expect(typeof webExports[name]).toBe('function');
    expect(typeof nodeExports[name]).toBe('function');
    expect(umbrellaExports[name]).toBe(webExports[name]);
  });

  it('the only Web-only functions are sseStream and the deprecated buffer alias', () => {
    const functions = (module: object) =>
      Object.entries(module)
        .filter(([, value]) => typeof value === 'function')
        .map(([key]) => key);
    const webOnly = functions(web).filter((name) => !functions(node).includes(name));
    expect(webOnly.sort()).toEqual(['buffer', 'sseStream']);
    expect(functions(node).filter((name) => !functions(web).includes(name))).toEqual([]);
    expect(umbrella.buffer).toBe(web.bufferStream);
  });
});
