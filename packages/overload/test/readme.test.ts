import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['ok 1, ok 2, ok 3, SHED by shedder, SHED by shedder', '3 2']);
  });
});
