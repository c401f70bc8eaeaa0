/**
 * What sluice needs from a Redis client: EVALSHA and EVAL, with Redis's own argument order
 * (`sha`/`script`, number of keys, the keys, then the other arguments). An ioredis `Redis` or
 * `Cluster` is one as it is; node-redis adapts through {@link fromNodeRedis}.
 */
export interface RedisScriptClient {
  /** `EVALSHA sha numkeys key… arg…`; rejects with the server's error (`NOSCRIPT …` among them). */
  evalsha(sha: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
  /** `EVAL script numkeys key… arg…`. */
  eval(script: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>;
}

/** The part of a node-redis (v4+) client that {@link fromNodeRedis} uses. */
export interface NodeRedisLike {
  /** node-redis `evalSha(sha, { keys, arguments })`. */
  evalSha(sha: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
  /** node-redis `eval(script, { keys, arguments })`. */
  eval(script: string, options: { keys: string[]; arguments: string[] }): Promise<unknown>;
}

/**
 * Adapts a node-redis client (or cluster) to {@link RedisScriptClient}.
 *
 * @example
 * ```ts
 * const store = new RedisStore({ client: fromNodeRedis(await createClient().connect()) });
 * ```
 */
export function fromNodeRedis(client: NodeRedisLike): RedisScriptClient {
  const split = (numkeys: number, rest: (string | number)[]) => ({
    keys: rest.slice(0, numkeys).map(String),
    arguments: rest.slice(numkeys).map(String),
  });
  return {
    evalsha: (sha, numkeys, ...rest) => client.evalSha(sha, split(numkeys, rest)),
    eval: (source, numkeys, ...rest) => client.eval(source, split(numkeys, rest)),
  };
}
