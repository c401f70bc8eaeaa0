import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual([
      'slow down',
      '["ok","ok","pause","pause","refused"]',
      'go on',
      'a b c',
      'dropped 1 (oldest)',
      '["user click","background"]',
      'got 1',
      'got 2',
    ]);
  });
});
