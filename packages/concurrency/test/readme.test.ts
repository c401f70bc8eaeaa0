import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['[1,2,3,4,5] peak in flight: 2', '4 0']);
  });

  it('the fairness example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url, 1)).toEqual([
      'noisy noisy a b noisy a noisy',
      'api: queue is full for key "noisy" (perKeyQueueLimit 3)',
    ]);
  });
});
