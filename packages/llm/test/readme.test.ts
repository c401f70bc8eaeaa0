import { describe, expect, it } from 'vitest';
import { runReadmeBlock } from '../../../test-support/readme.ts';

describe('README', () => {
  it('the example runs and prints what its comments say', async () => {
    const lines = await runReadmeBlock(import.meta.url);
    // the bucket keeps refilling on the real clock (0.5 token per ms here), so allow a few ms of it
    const [reserved, settled, observed, ...rest] = lines.map((line) => (/^\d+$/.test(line) ? Number(line) : line));
    expect(reserved).toBeGreaterThanOrEqual(28_000);
    expect(reserved).toBeLessThan(28_010);
    expect(settled).toBeGreaterThanOrEqual(28_610);
    expect(settled).toBeLessThan(28_620);
    expect(observed).toBeGreaterThanOrEqual(20_000);
    expect(observed).toBeLessThan(20_010);
    expect(rest).toEqual(['TOO_LARGE']);
  });

  it('the router example sends the call to the deployment with the most room', async () => {
    expect(await runReadmeBlock(import.meta.url, 1)).toEqual(['eastus']);
  });
});
