import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as redis from '@sluice/redis';

// Every Lua script of the package lives in one module (scripts.ts), where they are reviewed
// side by side; the other modules import them.
const src = fileURLToPath(new URL('../src/', import.meta.url));

describe('the Lua scripts live in scripts.ts', () => {
  it('no other source file defines a script or calls redis.call', () => {
    const offenders = readdirSync(src)
      .filter((file) => file.endsWith('.ts') && file !== 'scripts.ts')
      .filter((file) => /luaScript\(|redis\.call\(/.test(readFileSync(`${src}${file}`, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('every exported script has a name, a source and the SHA-1 of that source, and names are unique', () => {
    const scripts = Object.values(redis).filter(
      (value): value is redis.LuaScript => typeof value === 'object' && value !== null && 'sha' in value && 'source' in value,
    );
    expect(scripts.length).toBeGreaterThanOrEqual(14);
    for (const script of scripts) expect(script.sha).toMatch(/^[0-9a-f]{40}$/);
    expect(new Set(scripts.map((s) => s.name)).size).toBe(scripts.length);
  });
});
