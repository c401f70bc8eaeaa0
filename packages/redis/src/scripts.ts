import { createHash } from 'node:crypto';

/**
 * A Lua script run with EVALSHA (its SHA-1 computed here, once), falling back to EVAL when the
 * server does not know it (`NOSCRIPT`: after `SCRIPT FLUSH`, a restart, a failover, or on a
 * cluster node that never ran it).
 */
export interface LuaScript {
  /** A name for errors and events. */
  readonly name: string;
  /** The Lua source. */
  readonly source: string;
  /** Hex SHA-1 of the source: what EVALSHA takes. */
  readonly sha: string;
}

/** Defines a script: its source and SHA-1, frozen. */
export function luaScript(name: string, source: string): LuaScript {
  return Object.freeze({ name, source, sha: createHash('sha1').update(source).digest('hex') });
}

// Every script reads the server's clock (`TIME`: seconds and microseconds) so that processes
// with skewed clocks agree; scripts replicate their effects (Redis ≥ 5), so TIME before a write
// is allowed. The optional last ARGV overrides it — only the maths tests use that, to compare the
// scripts with the in-memory limiters at fixed instants. Numbers travel as strings with 17
// significant digits (Lua's default keeps 14, too few for epoch milliseconds with fractions).
/**
 * Lua preamble every script starts with: `now_ms(override)` (Redis `TIME` in ms, or the override
 * when one is passed) and `num(x)` (a number as a 17-digit string).
 */
export const LUA_PRELUDE = `
local function now_ms(override)
  if override ~= nil and override ~= '' then return tonumber(override) end
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local function num(x) return string.format('%.17g', x) end
`;

// One GCRA decision (`gcraAdmit`/`gcraWaitMs` of the in-memory limiters): from the stored TAT
// (or now), admitted when the wait is 0 or accepted; returns admitted, the wait, and the TAT
// after (unchanged on a refusal). `gcra_available` is `gcraAvailable` at that TAT.
const GCRA_DECIDE = `
local function gcra_decide(tat, now, cost, T, tau, max_wait)
  if tat < now then tat = now end
  local nxt = tat + cost * T
  local wait = nxt - tau - now
  if wait <= 1e-9 * T then wait = 0 end
  if wait > 0 and max_wait >= 0 and wait > max_wait then return 0, wait, tat end
  return 1, wait, nxt
end
local function gcra_available(tat, now, T, tau)
  local available = math.floor((tau - (tat - now)) / T + 1e-9)
  if available < 0 then return 0 end
  return available
end
`;

/**
 * GCRA (the in-memory `Gcra`/`TokenBucket` arithmetic: `gcraAdmit`, `gcraWaitMs`,
 * `gcraAvailable`) with reservation in time. KEYS[1] holds the theoretical arrival time (TAT,
 * server ms). ARGV: emission interval T (ms/unit), tolerance τ (ms), cost, the longest wait the
 * caller accepts (ms; -1: any), [now override]. A request that passes now, or whose wait is
 * within the accepted wait, moves the TAT (the caller then sleeps the wait); one that would wait
 * longer changes nothing — a refused call never debits. The key expires when the TAT is reached:
 * a full bucket is no key at all.
 *
 * Reply: { admitted 0|1, wait ms, units available after, server now ms }.
 */
export const GCRA_TAKE = luaScript(
  'gcra-take',
  `${LUA_PRELUDE}${GCRA_DECIDE}
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = now_ms(ARGV[5])
local admitted, wait, after = gcra_decide(tonumber(redis.call('GET', KEYS[1])) or now, now, cost, T, tau, tonumber(ARGV[4]))
if admitted == 1 and cost > 0 then
  redis.call('SET', KEYS[1], num(after), 'PX', math.max(1, math.ceil(after - now)))
end
return { admitted, num(wait), gcra_available(after, now, T, tau), num(now) }
`,
);

/**
 * {@link GCRA_TAKE} for many requests at once, decided in order as if each were its own call
 * (the coalesced form: concurrent `take`s of one process share a round trip). KEYS: the distinct
 * keys of the batch (one cluster slot). ARGV: T, τ, n, then per request (key index from 1, cost,
 * accepted wait), [now override]. Each key is read once and written once, at the end.
 *
 * Reply: per request { admitted 0|1, wait ms, units available after }, then the server now ms.
 */
export const GCRA_TAKE_MANY = luaScript(
  'gcra-take-many',
  `${LUA_PRELUDE}${GCRA_DECIDE}
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local now = now_ms(ARGV[4 + 3 * n])
local tats = {}
local dirty = {}
local out = {}
for i = 0, n - 1 do
  local k = tonumber(ARGV[4 + 3 * i])
  local cost = tonumber(ARGV[5 + 3 * i])
  if tats[k] == nil then tats[k] = tonumber(redis.call('GET', KEYS[k])) or now end
  local admitted, wait, after = gcra_decide(tats[k], now, cost, T, tau, tonumber(ARGV[6 + 3 * i]))
  if admitted == 1 and cost > 0 then
    tats[k] = after
    dirty[k] = true
  end
  out[#out + 1] = admitted
  out[#out + 1] = num(wait)
  out[#out + 1] = gcra_available(after, now, T, tau)
end
for k in pairs(dirty) do
  redis.call('SET', KEYS[k], num(tats[k]), 'PX', math.max(1, math.ceil(tats[k] - now)))
end
out[#out + 1] = num(now)
return out
`,
);

/**
 * Gives back a GCRA reservation that will not be used (its waiter was aborted): moves the TAT
 * back by ARGV[1] ms, deleting the key when that reaches the present. Reply: 1 if a key existed.
 */
export const GCRA_REFUND = luaScript(
  'gcra-refund',
  `${LUA_PRELUDE}
local back = tonumber(ARGV[1])
local now = now_ms(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil then return 0 end
local nxt = tat - back
if nxt <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], num(nxt), 'PX', math.max(1, math.ceil(nxt - now)))
end
return 1
`,
);

/**
 * The weighted two-window sliding window (the in-memory `SlidingWindow` arithmetic:
 * `slidingWindowEstimate`, `slidingWindowWaitMs`), windows aligned to multiples of `windowMs`
 * of the server clock. KEYS[1] is a hash { ws: current window start, p: previous count, c:
 * current count }. ARGV: limit, windowMs, cost, [now override]. A refused call writes nothing.
 * The key expires two windows after its window started.
 *
 * Reply: { admitted 0|1, wait ms (0 when admitted), units available after, server now ms }.
 */
export const SLIDING_TAKE = luaScript(
  'sliding-take',
  `${LUA_PRELUDE}
local limit = tonumber(ARGV[1])
local w = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = now_ms(ARGV[4])
local start = math.floor(now / w) * w
local s = redis.call('HMGET', KEYS[1], 'ws', 'p', 'c')
local ws = tonumber(s[1])
local p = tonumber(s[2]) or 0
local c = tonumber(s[3]) or 0
if ws == nil or start - ws >= 2 * w then
  ws = start; p = 0; c = 0
elseif start - ws >= w then
  ws = start; p = c; c = 0
end
local into = (now - ws) / w
local overlap = 1 - into
if into >= 1 then overlap = 0 elseif into <= 0 then overlap = 1 end
local estimate = p * overlap + c
if estimate + cost <= limit + 1e-9 then
  if cost > 0 then
    c = c + cost
    redis.call('HSET', KEYS[1], 'ws', num(ws), 'p', num(p), 'c', num(c))
    redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ws + 2 * w - now)))
  end
  local available = math.floor(limit - estimate - cost + 1e-9)
  if available < 0 then available = 0 end
  return { 1, '0', available, num(now) }
end
local wait
local nxt = ws + w
if c + cost <= limit and p > 0 then
  wait = ws + (1 - (limit - c - cost) / p) * w - now
elseif c == 0 or cost <= limit - c then
  wait = nxt - now
else
  wait = nxt + (1 - (limit - cost) / c) * w - now
end
if wait < 0 then wait = 0 end
local available = math.floor(limit - estimate + 1e-9)
if available < 0 then available = 0 end
return { 0, num(wait), available, num(now) }
`,
);

/**
 * GCRA lease: takes between ARGV[3] (`min`) and ARGV[4] (`max`) units at once — as many as the
 * bucket holds now, up to `max` — for a process to spend locally (hot keys: one round trip per
 * batch instead of per request). ARGV: T, τ, min, max, [now override]. Takes nothing (and
 * writes nothing) when fewer than `min` are there.
 *
 * Reply: { units taken (0: refused), wait ms until `min` would pass, units available after, server now ms }.
 */
export const GCRA_LEASE = luaScript(
  'gcra-lease',
  `${LUA_PRELUDE}
local T = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local min = tonumber(ARGV[3])
local max = tonumber(ARGV[4])
local now = now_ms(ARGV[5])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local available = math.floor((tau - (tat - now)) / T + 1e-9)
if available < min then
  local wait = tat + min * T - tau - now
  if wait < 0 then wait = 0 end
  if available < 0 then available = 0 end
  return { 0, num(wait), available, num(now) }
end
local take = max
if available < take then take = available end
local nxt = tat + take * T
if take > 0 then
  redis.call('SET', KEYS[1], num(nxt), 'PX', math.max(1, math.ceil(nxt - now)))
end
return { take, '0', available - take, num(now) }
`,
);

// The LLM quota: one continuously refilling bucket per dimension (RPM, TPM, ITPM, OTPM, RPD,
// TPD), the in-memory LlmLimiter's model (`bucketTokens`/`bucketWaitMs`), all in one hash with one
// refill time. Levels may go below zero: a reservation in time, or usage above the estimate.
const LLM_LEVELS = `
local n = tonumber(ARGV[1])
local fields = { 'at' }
for i = 0, n - 1 do fields[#fields + 1] = ARGV[2 + 4 * i] end
local stored = redis.call('HMGET', KEYS[1], unpack(fields))
local updated = tonumber(stored[1])
local levels = {}
for i = 0, n - 1 do
  local cap = tonumber(ARGV[3 + 4 * i])
  local rate = tonumber(ARGV[4 + 4 * i])
  local level = tonumber(stored[2 + i])
  if level == nil or updated == nil then
    level = cap
  elseif now > updated then
    level = math.min(cap, level + (now - updated) * rate)
  end
  levels[i + 1] = level
end
local function store_levels()
  local args = { 'at', num(now) }
  local ttl = 1
  for i = 0, n - 1 do
    local cap = tonumber(ARGV[3 + 4 * i])
    local rate = tonumber(ARGV[4 + 4 * i])
    args[#args + 1] = ARGV[2 + 4 * i]
    args[#args + 1] = num(levels[i + 1])
    local full = (cap - levels[i + 1]) / rate
    if full > ttl then ttl = full end
  end
  -- a pause (after a provider 429) lives as long as it lasts, even over full buckets
  local paused_until = tonumber(redis.call('HGET', KEYS[1], 'pu'))
  if paused_until ~= nil and paused_until - now > ttl then ttl = paused_until - now end
  redis.call('HSET', KEYS[1], unpack(args))
  redis.call('PEXPIRE', KEYS[1], math.ceil(ttl) + 1)
end
`;

/**
 * LLM quota admission, atomic across dimensions: ARGV = n, then per dimension (field, capacity,
 * refill per ms, cost), then the longest wait the caller accepts (ms; -1: any), [now override].
 * Admitted when every bucket holds its cost, or when the longest wait is accepted (a reservation
 * in time: levels go below zero and the caller sleeps the wait); otherwise nothing is written.
 *
 * Reply: { admitted 0|1, wait ms, server now ms, paused 0|1 (a provider pause is in force) }.
 */
export const LLM_TAKE = luaScript(
  'llm-take',
  `${LUA_PRELUDE}
local now = now_ms(ARGV[3 + 4 * tonumber(ARGV[1])])
${LLM_LEVELS}
local accept = tonumber(ARGV[2 + 4 * n])
local wait = 0
local paused_until = tonumber(redis.call('HGET', KEYS[1], 'pu'))
if paused_until ~= nil and paused_until > now then wait = paused_until - now end
for i = 0, n - 1 do
  local cost = tonumber(ARGV[5 + 4 * i])
  local rate = tonumber(ARGV[4 + 4 * i])
  if cost > levels[i + 1] + 1e-9 then
    local w = (cost - levels[i + 1]) / rate
    if w > wait then wait = w end
  end
end
local paused = 0
if paused_until ~= nil and paused_until > now then paused = 1 end
if wait > 0 and accept >= 0 and wait > accept then
  return { 0, num(wait), num(now), paused }
end
for i = 0, n - 1 do levels[i + 1] = levels[i + 1] - tonumber(ARGV[5 + 4 * i]) end
store_levels()
return { 1, num(wait), num(now), paused }
`,
);

/**
 * Reconciles an LLM reservation: ARGV = n, then per dimension (field, capacity, refill per ms,
 * delta: positive gives units back, negative debits more), [now override]. Levels are capped at
 * the capacity. Reply: the server now, ms.
 */
export const LLM_ADJUST = luaScript(
  'llm-adjust',
  `${LUA_PRELUDE}
local now = now_ms(ARGV[2 + 4 * tonumber(ARGV[1])])
${LLM_LEVELS}
for i = 0, n - 1 do
  local cap = tonumber(ARGV[3 + 4 * i])
  levels[i + 1] = math.min(cap, levels[i + 1] + tonumber(ARGV[5 + 4 * i]))
end
store_levels()
return num(now)
`,
);

/**
 * Brings an LLM quota in line with what the provider said: ARGV = n, then per dimension (field,
 * capacity, refill per ms, target level or '' for none), then a pause in ms (0: none),
 * [now override]. Each level with a target is lowered to it (never raised); a pause makes every
 * process's `LLM_TAKE` wait until it ends (the provider answered 429: everyone backs off).
 *
 * Reply: { fields lowered…, server now ms } (the last element is the time).
 */
export const LLM_OBSERVE = luaScript(
  'llm-observe',
  `${LUA_PRELUDE}
local now = now_ms(ARGV[3 + 4 * tonumber(ARGV[1])])
${LLM_LEVELS}
local lowered = {}
for i = 0, n - 1 do
  local target = tonumber(ARGV[5 + 4 * i])
  if target ~= nil and target < levels[i + 1] - 1e-9 then
    levels[i + 1] = target
    lowered[#lowered + 1] = ARGV[2 + 4 * i]
  end
end
local pause = tonumber(ARGV[2 + 4 * n])
local until_ms = tonumber(redis.call('HGET', KEYS[1], 'pu')) or 0
if pause > 0 and now + pause > until_ms then
  until_ms = now + pause
  redis.call('HSET', KEYS[1], 'pu', num(until_ms))
end
store_levels()
lowered[#lowered + 1] = num(now)
return lowered
`,
);

/**
 * Gives `count` units back to a sliding window (a permit released as not run). KEYS[1] as in
 * {@link SLIDING_TAKE}. ARGV: windowMs, count, [now override]. The window is rolled forward as a
 * take would roll it; the units come off the current window's count, and what it does not hold
 * off the previous one (units taken in the previous window and refunded from the current one
 * give back at most `count × (1 − overlap)` more than they weighed: a refund never takes a count
 * below zero, so the limit's capacity is never exceeded). Nothing is written for a missing key.
 * Reply: 1.
 */
export const SLIDING_REFUND = luaScript(
  'sliding-refund',
  `${LUA_PRELUDE}
local w = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local now = now_ms(ARGV[3])
local s = redis.call('HMGET', KEYS[1], 'ws', 'p', 'c')
local ws = tonumber(s[1])
if ws == nil then return 1 end
local p = tonumber(s[2]) or 0
local c = tonumber(s[3]) or 0
local start = math.floor(now / w) * w
if start - ws >= 2 * w then return 1 end
if start - ws >= w then
  ws = start; p = c; c = 0
end
local fromCurrent = math.min(c, count)
c = c - fromCurrent
p = math.max(0, p - (count - fromCurrent))
redis.call('HSET', KEYS[1], 'ws', num(ws), 'p', num(p), 'c', num(c))
redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(ws + 2 * w - now)))
return 1
`,
);

// ---- the semaphore (RedisSemaphore, RedisSemaphoreGate) ----

// Lua helpers of the semaphore scripts. KEYS[1] is the holders ZSET (lease id → expiry, server
// ms), KEYS[2] the counts HASH (lease id → units). Both carry the same hash tag, so one script
// touches one cluster slot. Ids go to ZREM/HDEL/HMGET in batches (Lua's unpack has a stack limit).
const LUA_SEMAPHORE = `${LUA_PRELUDE}
local function each_batch(list, fn)
  for i = 1, #list, 1000 do fn(unpack(list, i, math.min(i + 999, #list))) end
end
local function drop_expired(now)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', num(now))
  if #expired == 0 then return end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', num(now))
  each_batch(expired, function(...) redis.call('HDEL', KEYS[2], ...) end)
end
local function keep_keys(now, slack)
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  if last[2] == nil then return end
  local ttl = math.max(1, math.ceil(tonumber(last[2]) - now)) + slack
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
`;

/**
 * Semaphore admission. KEYS: holders, counts, line, line expiries. ARGV: limit, count, leaseMs,
 * lease id, key slack ms, [now override], line mode, ticket ttl ms.
 *
 * Drops expired holders (ZSET and HASH), sums the live holders' counts (the ZSET is the truth: a
 * holder whose count is missing counts as 1), and admits when used + max(count, 1) ≤ limit: the
 * id is added with expiry now + leaseMs and its count, and both keys expire `slack` ms after the
 * latest lease. A count of 0 is a probe: admitted when one unit is free, writing nothing. A
 * refused call writes nothing but the cleanup of expired holders (and, fair, its ticket).
 *
 * The line (fair mode): KEYS[3] is a ZSET of waiting tickets scored by their arrival (server ms),
 * KEYS[4] a ZSET of the same tickets scored by their expiry. Line mode `''`: no line (the
 * unfair semaphore). `'-'`: a now-or-never call, refused while any live ticket waits. Any other
 * value is the caller's ticket: it joins the line if it is not in it (at the back), its expiry
 * becomes now + ticket ttl (each poll is a heartbeat), and it is admitted only at the front of
 * the line; the admission removes the ticket. Expired tickets (a process that died or stopped
 * polling) are dropped first, so they never block the line longer than their ttl.
 *
 * Reply: { admitted 0|1, ms until the earliest lease expires (0 when admitted; -1 when the units
 * are free but a ticket ahead goes first), units held after, server now ms, tickets ahead of the
 * caller's (0: it is at the front; -1: no ticket) }.
 */
export const SEMAPHORE_ACQUIRE = luaScript(
  'semaphore-acquire',
  `${LUA_SEMAPHORE}
local limit = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local lease = tonumber(ARGV[3])
local id = ARGV[4]
local slack = tonumber(ARGV[5])
local now = now_ms(ARGV[6])
local mode = ARGV[7] or ''
local ticket_ttl = tonumber(ARGV[8] or '0')
drop_expired(now)
local used = 0
local holders = redis.call('ZRANGE', KEYS[1], 0, -1)
each_batch(holders, function(...)
  local counts = redis.call('HMGET', KEYS[2], ...)
  for i = 1, select('#', ...) do used = used + (tonumber(counts[i]) or 1) end
end)
local need = count
if need < 1 then need = 1 end
local fits = used + need <= limit
local behind = false
local rank = -1
if mode ~= '' then
  local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', num(now))
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', num(now))
    each_batch(gone, function(...) redis.call('ZREM', KEYS[3], ...) end)
  end
  if mode == '-' then
    behind = redis.call('ZCARD', KEYS[3]) > 0
  else
    if redis.call('ZSCORE', KEYS[3], mode) == false then redis.call('ZADD', KEYS[3], num(now), mode) end
    redis.call('ZADD', KEYS[4], num(now + ticket_ttl), mode)
    rank = redis.call('ZRANK', KEYS[3], mode)
    behind = rank > 0
    if fits and not behind then
      redis.call('ZREM', KEYS[3], mode)
      redis.call('ZREM', KEYS[4], mode)
    end
    local last = redis.call('ZRANGE', KEYS[4], -1, -1, 'WITHSCORES')
    if last[2] ~= nil then
      local ttl = math.max(1, math.ceil(tonumber(last[2]) - now)) + slack
      redis.call('PEXPIRE', KEYS[3], ttl)
      redis.call('PEXPIRE', KEYS[4], ttl)
    end
  end
end
if not fits then
  local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  local wait = 0
  if first[2] ~= nil then wait = math.max(0, tonumber(first[2]) - now) end
  return { 0, num(wait), used, num(now), rank }
end
if behind then return { 0, '-1', used, num(now), rank } end
if count > 0 then
  redis.call('ZADD', KEYS[1], num(now + lease), id)
  redis.call('HSET', KEYS[2], id, count)
  used = used + count
  keep_keys(now, slack)
end
return { 1, '0', used, num(now), rank }
`,
);

/**
 * Takes a ticket out of the semaphore's line (a process whose waiters all left). KEYS: line,
 * line expiries. ARGV: ticket. Reply: 1 if it was in the line.
 */
export const SEMAPHORE_LEAVE_LINE = luaScript(
  'semaphore-leave-line',
  `local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return removed
`,
);

/**
 * Extends a lease: ARGV: leaseMs, lease id, key slack ms, [now override]. When the id is still
 * held (its expiry is after now), its expiry becomes now + leaseMs and the keys' TTL follows;
 * reply 1. When it is gone or expired (the permit was lost: its units may be someone else's now),
 * what is left of it is removed; reply 0.
 */
export const SEMAPHORE_RENEW = luaScript(
  'semaphore-renew',
  `${LUA_SEMAPHORE}
local lease = tonumber(ARGV[1])
local id = ARGV[2]
local slack = tonumber(ARGV[3])
local now = now_ms(ARGV[4])
local expiry = tonumber(redis.call('ZSCORE', KEYS[1], id))
if expiry == nil or expiry <= now then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', num(now + lease), id)
keep_keys(now, slack)
return 1
`,
);

/** Frees a lease: ARGV: lease id. Reply: 1 if it was held, 0 if it had already gone. */
export const SEMAPHORE_RELEASE = luaScript(
  'semaphore-release',
  `local removed = redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return removed
`,
);

// ---- the shared circuit breaker (SharedCircuitBreaker, SharedBreakerGate) ----

/**
 * Admission of a shared circuit breaker, one round trip before each call. KEYS: the state hash
 * { s: 'open' or absent (closed), until: server ms the open period ends, gen: server ms of the
 * last transition }, the failure window (a sorted set), the trial claim (a string with a
 * TTL). ARGV: trial token, halfOpenTrialMs, retainMs, [now override].
 *
 * Closed admits. Open before `until` refuses with the time left. Open past `until`: if a live
 * claim exists the call is refused with the claim's time left (half-open); otherwise this caller
 * claims the single trial (`SET token PX halfOpenTrialMs`, in the same atomic script as the
 * check, so exactly one caller of all instances gets it) and the open state is kept at least
 * `retainMs` past the claim's expiry. A claim whose holder never reports expires by itself.
 *
 * Reply: { 0 admit (closed) | 1 refuse (open) | 2 refuse (half-open, trial held) | 3 admit as
 * the trial, gen, retry ms, server now ms }.
 */
export const BREAKER_ACQUIRE = luaScript(
  'breaker-acquire',
  `${LUA_PRELUDE}
local trial_ms = math.ceil(tonumber(ARGV[2]))
local retain_ms = tonumber(ARGV[3])
local now = now_ms(ARGV[4])
local st = redis.call('HMGET', KEYS[1], 's', 'until', 'gen')
local gen = st[3] or '0'
if st[1] ~= 'open' then return { 0, gen, '0', num(now) } end
local due = tonumber(st[2]) or 0
if now < due then return { 1, gen, num(due - now), num(now) } end
local held = redis.call('PTTL', KEYS[3])
if held > 0 then return { 2, gen, num(held), num(now) } end
redis.call('SET', KEYS[3], ARGV[1], 'PX', trial_ms)
local keep = math.ceil(trial_ms + retain_ms)
if redis.call('PTTL', KEYS[1]) < keep then redis.call('PEXPIRE', KEYS[1], keep) end
return { 3, gen, '0', num(now) }
`,
);

/**
 * Records the outcome of a call admitted by {@link BREAKER_ACQUIRE}. KEYS as there. ARGV: gen
 * seen at admission, trial token ('' when not a trial), failure member (unique per call),
 * failed 0|1, failureThreshold, windowMs, halfOpenAfterMs, retainMs, [now override].
 *
 * - A trial (its token still holds the claim): success closes the circuit for everyone (the
 *   failure window is emptied), failure opens it again for `halfOpenAfterMs`. A token that no longer
 *   holds the claim (it expired, another caller has it) is a stale outcome and changes nothing.
 * - A call admitted while closed: ignored when the circuit opened since (or its gen is older
 *   than the last transition). A failure is added to the window (members older than `windowMs`
 *   are dropped first); `failureThreshold` failures open the circuit. The window holds fewer than
 *   `failureThreshold` members by construction and expires `windowMs` after its last failure.
 *
 * Every transition sets gen to the server time (strictly increasing), so an outcome of a call
 * admitted before a transition is recognised as stale. An open state expires `halfOpenAfterMs +
 * retainMs` after opening (an idle open circuit forgets itself); a closed state keeps only gen,
 * for `retainMs` after the last transition or failure.
 *
 * Reply: { state 0 closed | 1 open | 2 half-open, gen, transition 0 none | 1 tripped |
 * 2 reopened (trial failed) | 3 closed (trial succeeded) | 4 stale outcome, retry ms, server now
 * ms, failures in the window }.
 */
export const BREAKER_RECORD = luaScript(
  'breaker-record',
  `${LUA_PRELUDE}
local given = tonumber(ARGV[1]) or 0
local token = ARGV[2]
local member = ARGV[3]
local failed = ARGV[4] == '1'
local threshold = tonumber(ARGV[5])
local w = tonumber(ARGV[6])
local open_ms = tonumber(ARGV[7])
local retain_ms = math.ceil(tonumber(ARGV[8]))
local now = now_ms(ARGV[9])
local st = redis.call('HMGET', KEYS[1], 's', 'until', 'gen')
local gen = tonumber(st[3]) or 0
local function reply(code, transition, retry, failures)
  return { code, num(gen), transition, num(retry), num(now), failures }
end
local function current(transition)
  if st[1] ~= 'open' then return reply(0, transition, 0, 0) end
  local due = tonumber(st[2]) or 0
  if now < due then return reply(1, transition, due - now, 0) end
  local held = redis.call('PTTL', KEYS[3])
  if held > 0 then return reply(2, transition, held, 0) end
  return reply(1, transition, 0, 0)
end
local function next_gen() gen = math.max(now, gen + 0.001) end
local function open(transition, failures)
  next_gen()
  redis.call('HSET', KEYS[1], 's', 'open', 'until', num(now + open_ms), 'gen', num(gen))
  redis.call('PEXPIRE', KEYS[1], math.ceil(open_ms + retain_ms))
  redis.call('DEL', KEYS[2])
  return reply(1, transition, open_ms, failures)
end
if token ~= '' then
  if redis.call('GET', KEYS[3]) ~= token then return current(4) end
  redis.call('DEL', KEYS[3])
  if failed then return open(2, 1) end
  next_gen()
  redis.call('HDEL', KEYS[1], 's', 'until')
  redis.call('HSET', KEYS[1], 'gen', num(gen))
  redis.call('PEXPIRE', KEYS[1], retain_ms)
  redis.call('DEL', KEYS[2])
  return reply(0, 3, 0, 0)
end
if st[1] == 'open' or given < gen then return current(4) end
if not failed then return reply(0, 0, 0, 0) end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', num(now - w))
redis.call('ZADD', KEYS[2], num(now), member)
local count = redis.call('ZCARD', KEYS[2])
if count >= threshold then return open(1, count) end
redis.call('PEXPIRE', KEYS[2], math.ceil(w))
redis.call('PEXPIRE', KEYS[1], retain_ms)
return reply(0, 0, 0, count)
`,
);

/** A cheap round trip that proves the server runs scripts again (the insurance hand-back probe). */
export const PING = luaScript('ping', 'return 1');
