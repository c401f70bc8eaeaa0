import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs: nothing lost but what the buffer dropped, and the freshest tick arrives', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['200 199']);
  });
});
