import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    expect(await runReadmeBlock(import.meta.url)).toEqual(['90 0.9', 'true true', 'shed shedder']);
  });

  it('the Node example (event-loop lag) runs', async () => {
    expect(await runReadmeBlock(import.meta.url, 1)).toEqual(['handled']);
  });
});
