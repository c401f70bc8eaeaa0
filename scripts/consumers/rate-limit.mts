import { TokenBucket, allOf, tokenBucket, type TokenBucketOptions } from '@sluice/rate-limit';
import type { Gate } from '@sluice/core';

const options: TokenBucketOptions = { ratePerSecond: 10, burst: 20 };
const bucket: TokenBucket = tokenBucket(options);
const both: Gate = allOf(bucket, new TokenBucket({ ratePerSecond: 1, burst: 1 }));
const wait: number | undefined = (() => {
  const r = both.tryAcquire();
  return r.granted ? 0 : r.retryAfterMs;
})();
void wait;
