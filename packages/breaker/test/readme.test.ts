import { describe, expect, it } from 'vitest';
import { readmeBlocks, runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs (on the system clock) and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual([
      'closed',
      'opened: tripped',
      'open',
      'CIRCUIT_OPEN 30',
      'circuit-open',
      'closed',
    ]);
  });

  it('the virtual-time example (the last block) prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url, readmeBlocks(import.meta.url).length - 1)).toEqual(['open 5000', 'half-open']);
  });
});
