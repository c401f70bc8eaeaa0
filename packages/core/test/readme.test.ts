import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    const [line, ...rest] = await runReadmeBlock(import.meta.url);
    expect(rest).toEqual([]);
    // the hint is measured on the real clock, so under load it may be a millisecond or two short of 100
    const [code, gate, retryAfterMs] = (line ?? '').split(' ');
    expect([code, gate]).toEqual(['WAIT_TIMEOUT', 'pace']);
    expect(Number(retryAfterMs)).toBeGreaterThanOrEqual(95);
    expect(Number(retryAfterMs)).toBeLessThanOrEqual(100);
  });
});
