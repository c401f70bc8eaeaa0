import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what the README says', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['jobs: depth above 2', 'jobs: back to normal', '0 true', 'true']);
  });
});
