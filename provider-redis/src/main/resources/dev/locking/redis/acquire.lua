-- Takes every key of one call, or none, in one atomic step (a Lua script runs alone on the
-- server). Per user key i the caller passes four record keys in one cluster slot:
--   KEYS[4i-3] lock (hash o=owner marker, t=fencing token, r=attempt id of the last grant,
--              n=grant id of the call that took it free, dropped on re-entry by another call,
--              for undo.lua; PEXPIRE = the lease)
--   KEYS[4i-2] fencing counter, KEYS[4i-1] queue (zset waiter -> ticket),
--   KEYS[4i]   waiter deadlines (zset waiter -> ms after which the entry is dead)
-- KEYS[4n+1], when present, is the owner index (hash user key -> token, and "" -> "" while it has
-- an expiry: see the end), kept in the same step.
-- ARGV: n, owner marker ("a" = anonymous, "o:<owner>"), lease ms or "", waiter id or "",
--   ticket or "", waiter entry lifetime ms, attempt id, "1" to apply the lease on re-entry,
--   fencing counter retention ms ("0" = keep), grant id (the caller's call, the same on each of
--   its attempts), then the n user keys.
-- Returns {1, now ms, shortest remaining ms or -1, token1, new1, token2, new2, ...} when taken,
-- {0, index of the blocked key, its remaining ms or -1, head waiter or "", 1 if a ticket is needed}.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local lease = tonumber(ARGV[3])
local waiter = ARGV[4]
local ticket = ARGV[5]
local attempt = ARGV[7]
local leaseOnReentry = ARGV[8] == '1'
local fenceExpires = ARGV[9] ~= '0'
local grant = ARGV[10]
local index = KEYS[4 * n + 1]

-- The store's clock decides expiry and floors fencing tokens (see below).
local time = redis.call('TIME')
local seconds, micros = tonumber(time[1]), tonumber(time[2])
local nowMs = seconds * 1000 + (micros - micros % 1000) / 1000
local nowUs = seconds * 1000000 + micros

-- One read per lock gives its holder, the attempt that last took it and the call that took it free.
local holders, grants, replay = {}, {}, true
for i = 1, n do
  local fields = redis.call('HMGET', KEYS[4 * i - 3], 'o', 'r', 'n')
  holders[i] = fields[1]
  grants[i] = fields[3]
  if fields[2] ~= attempt then replay = false end
end

-- A reply lost on a dropped connection is retried with the same attempt id: answer it again
-- instead of treating our own lock as someone else's. "new" must be answered as the first run did
-- (the lock was taken free by this call), or a rollback of the call would leave the key held.
if replay then
  local result = {1, nowMs, -1}
  for i = 1, n do
    local ttl = redis.call('PTTL', KEYS[4 * i - 3])
    if ttl >= 0 and (result[3] < 0 or ttl < result[3]) then result[3] = ttl end
    result[#result + 1] = tonumber(redis.call('HGET', KEYS[4 * i - 3], 't'))
    result[#result + 1] = grants[i] == grant and 1 or 0
  end
  return result
end

-- Whether any key has a queue: an empty zset does not exist, and a queue and its deadlines always
-- hold the same waiters, so without queues there is neither a dead waiter to drop nor one to yield
-- to. One EXISTS (per 100 keys) instead of two reads per key on the common, uncontended path.
local queues
if n == 1 then
  queues = redis.call('EXISTS', KEYS[3]) == 1
else
  queues = false
  local chunk = {}
  for i = 1, n do
    chunk[#chunk + 1] = KEYS[4 * i - 1]
    if #chunk == 100 or i == n then
      if redis.call('EXISTS', unpack(chunk)) > 0 then
        queues = true
        break
      end
      chunk = {}
    end
  end
end

local blockedAt, blockedTtl, blockedHead = nil, -1, ''
for i = 1, n do
  local lock, queue, deadlines = KEYS[4 * i - 3], KEYS[4 * i - 1], KEYS[4 * i]
  if queues then
    -- Entries of waiters that stopped trying (their process died) no longer hold their place.
    local dead = redis.call('ZRANGEBYSCORE', deadlines, '-inf', nowMs)
    for _, w in ipairs(dead) do
      redis.call('ZREM', queue, w)
      redis.call('ZREM', deadlines, w)
    end
  end
  local holder = holders[i]
  if holder then
    if holder ~= marker or marker == 'a' then
      blockedAt = i
      blockedTtl = redis.call('PTTL', lock)
      break
    end
  elseif queues then
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
        redis.call('ZADD', KEYS[4 * i], nowMs + tonumber(ARGV[6]), waiter)
      end
    end
  end
  return {0, blockedAt, blockedTtl, blockedHead, needTicket}
end

-- The counter survives the lock's expiry. Flooring it at the server time in microseconds keeps
-- tokens increasing even when the counter itself was lost (restart without persistence, failover
-- to a lagging replica, retention elapsed). Each counter is set to the clock and answers what it
-- held: one write, unless the counter was ahead of the clock (then one more, to counter + 1). The
-- same write renews the retention ("0": no expiry). Every counter is done before any lock is
-- written, so a counter that held no number (now the clock) fails the call without taking a key.
local nowText = string.format('%d', nowUs)
local tokens = {}
for i = 1, n do
  local fence = KEYS[4 * i - 2]
  local last
  if fenceExpires then
    last = redis.call('SET', fence, nowText, 'PX', ARGV[9], 'GET')
  else
    last = redis.call('SET', fence, nowText, 'GET')
  end
  local token = nowText
  if last then
    local counter = tonumber(last)
    if not counter then return redis.error_reply('ERR a fencing counter of this call holds no number') end
    if counter >= nowUs then
      token = string.format('%d', counter + 1)
      if fenceExpires then
        redis.call('SET', fence, token, 'PX', ARGV[9])
      else
        redis.call('SET', fence, token)
      end
    end
  end
  tokens[i] = token
end

-- -2: no owner index yet, -1: an index kept forever, else its remaining ms.
local indexPttl = index and redis.call('PTTL', index)
local result = {1, nowMs, -1}
local indexTtl = 0
for i = 1, n do
  local lock, token = KEYS[4 * i - 3], tokens[i]
  -- A lock record always carries its holder, so no holder means no record: the lock is new.
  local isNew = not holders[i]
  if isNew then
    redis.call('HSET', lock, 'o', marker, 't', token, 'r', attempt, 'n', grant)
  else
    redis.call('HSET', lock, 'o', marker, 't', token, 'r', attempt)
    -- Re-entered by another call, which counts on it: undoing the first call must not free it.
    if grants[i] and grants[i] ~= grant then redis.call('HDEL', lock, 'n') end
  end
  -- Re-entry keeps the remaining lease unless a new one is given: never turns a lease permanent.
  -- The remaining ms are known without asking, except on a re-entry that keeps its lease (a lease
  -- counted from this script's clock reading never ends later than the one set here).
  local ttl
  if lease and (isNew or leaseOnReentry) then
    redis.call('PEXPIRE', lock, ARGV[3])
    ttl = lease
  elseif isNew then
    ttl = -1
  else
    ttl = redis.call('PTTL', lock)
  end
  if waiter ~= '' and queues then
    redis.call('ZREM', KEYS[4 * i - 1], waiter)
    redis.call('ZREM', KEYS[4 * i], waiter)
  end
  if ttl >= 0 and (result[3] < 0 or ttl < result[3]) then result[3] = ttl end
  if ttl < 0 then indexTtl = -1 elseif indexTtl >= 0 and ttl > indexTtl then indexTtl = ttl end
  result[#result + 1] = tonumber(token)
  result[#result + 1] = isNew and 1 or 0
end

-- The owner index (user key -> token) lives at least as long as its longest lease; one lock
-- without lease keeps it forever. An index with an expiry also has a keeper field "" (never a user
-- key); its expiry is set with room (the longest lease again, at most a day more), so that most
-- acquisitions of an owner that holds several locks neither create the index nor touch its expiry.
-- A release that leaves only the keeper deletes the index (release.lua, index-remove.lua), so an
-- owner that holds nothing has no index.
if index then
  local entries = {}
  if indexTtl >= 0 and indexPttl == -2 then
    entries[1] = ''
    entries[2] = ''
  end
  for i = 1, n do
    entries[#entries + 1] = ARGV[10 + i]
    entries[#entries + 1] = tokens[i]
  end
  for from = 1, #entries, 200 do
    redis.call('HSET', index, unpack(entries, from, math.min(from + 199, #entries)))
  end
  if indexTtl < 0 then
    if indexPttl >= 0 then
      redis.call('PERSIST', index)
      redis.call('HDEL', index, '')
    end
  elseif indexPttl == -2 or (indexPttl >= 0 and indexPttl < indexTtl) then
    redis.call('PEXPIRE', index, string.format('%d', indexTtl + math.min(indexTtl, 86400000)))
  end
end
return result
