-- Frees each key held by the given owner marker, and no other, atomically. Per user key i:
--   KEYS[3i-2] lock, KEYS[3i-1] queue, KEYS[3i] waiter deadlines.
-- KEYS[3n+1], when present, is the owner index: its entries for these keys are dropped (a key
-- the owner does not hold is a stale entry).
-- ARGV: n, owner marker, notification channel, then the n user keys.
-- Returns the number freed when the index is given (it is then done with); else {number freed,
-- i1, token1, i2, token2, ...} for the keys it freed, for the caller to drop from the index.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local channel = ARGV[3]
local index = KEYS[3 * n + 1]

local freed, result = 0, {0}
for i = 1, n do
  local lock = KEYS[3 * i - 2]
  -- Holder and token in one read.
  local fields = redis.call('HMGET', lock, 'o', 't')
  if fields[1] == marker then
    redis.call('DEL', lock)
    freed = freed + 1
    if not index then
      result[#result + 1] = i
      result[#result + 1] = fields[2]
    end
    -- Only keys with waiters cost a message; waiters in other processes wake on it.
    if redis.call('ZCARD', KEYS[3 * i - 1]) > 0 then redis.call('PUBLISH', channel, ARGV[3 + i]) end
  end
end
if index then
  -- The index entries of all these keys, in one write per 200 keys.
  local fields = {}
  for i = 1, n do
    fields[#fields + 1] = ARGV[3 + i]
    if #fields == 200 or i == n then
      redis.call('HDEL', index, unpack(fields))
      fields = {}
    end
  end
  -- An index left with nothing but its keeper goes: memory follows what is held, and an owner used
  -- once (each execute has its own) leaves nothing behind.
  if redis.call('HLEN', index) == 1 and redis.call('HEXISTS', index, '') == 1 then redis.call('DEL', index) end
  return freed
end
result[1] = freed
return result
