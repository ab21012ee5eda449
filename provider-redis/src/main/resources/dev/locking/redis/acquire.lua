-- Takes every key of one call, or none, in one atomic step (a Lua script runs alone on the
-- server). Per user key i the caller passes four record keys in one cluster slot:
--   KEYS[4i-3] lock (hash o=owner marker, t=fencing token, r=attempt id of the last grant,
--              n=attempt id that created it, dropped on re-entry; PEXPIRE = the lease)
--   KEYS[4i-2] fencing counter, KEYS[4i-1] queue (zset waiter -> ticket),
--   KEYS[4i]   waiter deadlines (zset waiter -> ms after which the entry is dead)
-- KEYS[4n+1], when present, is the owner index (hash user key -> token), kept in the same step.
-- ARGV: n, owner marker ("a" = anonymous, "o:<owner>"), lease ms or "", waiter id or "",
--   ticket or "", waiter entry lifetime ms, attempt id, "1" to apply the lease on re-entry,
--   fencing counter retention ms ("0" = keep), then the n user keys.
-- Returns {1, now ms, shortest remaining ms or -1, token1, new1, token2, new2, ...} when taken,
-- {0, index of the blocked key, its remaining ms or -1, head waiter or "", 1 if a ticket is needed}.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local lease = tonumber(ARGV[3])
local waiter = ARGV[4]
local ticket = ARGV[5]
local waiterTtl = tonumber(ARGV[6])
local attempt = ARGV[7]
local leaseOnReentry = ARGV[8] == '1'
local fenceTtl = tonumber(ARGV[9])
local index = KEYS[4 * n + 1]

-- The store's clock decides expiry and floors fencing tokens (see below).
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local nowUs = tonumber(time[1]) * 1000000 + tonumber(time[2])

-- A reply lost on a dropped connection is retried with the same attempt id: answer it again
-- instead of treating our own lock as someone else's. "new" must be answered as the first run did
-- (the lock was created by this attempt), or a rollback of the call would leave the key held.
local replay = true
for i = 1, n do
  if redis.call('HGET', KEYS[4 * i - 3], 'r') ~= attempt then
    replay = false
    break
  end
end
if replay then
  local result = {1, nowMs, -1}
  for i = 1, n do
    local ttl = redis.call('PTTL', KEYS[4 * i - 3])
    if ttl >= 0 and (result[3] < 0 or ttl < result[3]) then result[3] = ttl end
    result[#result + 1] = tonumber(redis.call('HGET', KEYS[4 * i - 3], 't'))
    result[#result + 1] = redis.call('HGET', KEYS[4 * i - 3], 'n') == attempt and 1 or 0
  end
  return result
end

local blockedAt, blockedTtl, blockedHead = nil, -1, ''
for i = 1, n do
  local lock, queue, deadlines = KEYS[4 * i - 3], KEYS[4 * i - 1], KEYS[4 * i]
  -- Entries of waiters that stopped trying (their process died) no longer hold their place.
  local dead = redis.call('ZRANGEBYSCORE', deadlines, '-inf', nowMs)
  for _, w in ipairs(dead) do
    redis.call('ZREM', queue, w)
    redis.call('ZREM', deadlines, w)
  end
  local holder = redis.call('HGET', lock, 'o')
  if holder then
    if holder ~= marker or marker == 'a' then
      blockedAt = i
      blockedTtl = redis.call('PTTL', lock)
      break
    end
  else
    -- A free key goes to the first live waiter only; a caller that does not wait never jumps it.
    local head = redis.call('ZRANGE', queue, 0, 0)[1]
    if head and head ~= waiter then
      blockedAt = i
      blockedHead = head
      break
    end
  end
end

if blockedAt then
  local needTicket = 0
  if waiter ~= '' then
    if ticket == '' then
      needTicket = 1
    else
      -- One ticket on every key: two waiters are in the same order in every queue they share.
      for i = 1, n do
        redis.call('ZADD', KEYS[4 * i - 1], 'NX', ticket, waiter)
        redis.call('ZADD', KEYS[4 * i], nowMs + waiterTtl, waiter)
      end
    end
  end
  return {0, blockedAt, blockedTtl, blockedHead, needTicket}
end

local result = {1, nowMs, -1}
local indexTtl = 0
local indexExisted = index and redis.call('EXISTS', index) == 1
for i = 1, n do
  local lock, fence = KEYS[4 * i - 3], KEYS[4 * i - 2]
  local isNew = redis.call('EXISTS', lock) == 0
  -- The counter survives the lock's expiry. Flooring it at the server time in microseconds keeps
  -- tokens increasing even when the counter itself was lost (restart without persistence,
  -- failover to a lagging replica, retention elapsed).
  local token = redis.call('INCR', fence)
  if token < nowUs then
    token = nowUs
    redis.call('SET', fence, string.format('%d', nowUs))
  end
  if fenceTtl > 0 then redis.call('PEXPIRE', fence, fenceTtl) end
  redis.call('HSET', lock, 'o', marker, 't', string.format('%d', token), 'r', attempt)
  if isNew then redis.call('HSET', lock, 'n', attempt) else redis.call('HDEL', lock, 'n') end
  -- Re-entry keeps the remaining lease unless a new one is given: never turns a lease permanent.
  if lease and (isNew or leaseOnReentry) then redis.call('PEXPIRE', lock, lease) end
  if waiter ~= '' then
    redis.call('ZREM', KEYS[4 * i - 1], waiter)
    redis.call('ZREM', KEYS[4 * i], waiter)
  end
  local ttl = redis.call('PTTL', lock)
  if ttl >= 0 and (result[3] < 0 or ttl < result[3]) then result[3] = ttl end
  if ttl < 0 then indexTtl = -1 elseif indexTtl >= 0 and ttl > indexTtl then indexTtl = ttl end
  result[#result + 1] = token
  result[#result + 1] = isNew and 1 or 0
  if index then redis.call('HSET', index, ARGV[9 + i], string.format('%d', token)) end
end

-- The index lives at least as long as its longest lease; one lock without lease keeps it forever.
if index then
  if indexTtl < 0 then
    redis.call('PERSIST', index)
  elseif not indexExisted then
    redis.call('PEXPIRE', index, indexTtl)
  else
    local current = redis.call('PTTL', index)
    if current >= 0 and current < indexTtl then redis.call('PEXPIRE', index, indexTtl) end
  end
end
return result
