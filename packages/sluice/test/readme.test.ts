import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['true refused by bulkhead', '100', '["ok","pause","refused"]']);
  });
});
