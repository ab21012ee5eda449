-- Frees each key held by the given owner marker, and no other, atomically. Per user key i:
--   KEYS[3i-2] lock, KEYS[3i-1] queue, KEYS[3i] waiter deadlines.
-- KEYS[3n+1], when present, is the owner index: its entries for these keys are dropped (a key
-- the owner does not hold is a stale entry).
-- ARGV: n, owner marker, notification channel, then the n user keys.
-- Returns {number freed, i1, token1, i2, token2, ...} for the keys it freed.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local channel = ARGV[3]
local index = KEYS[3 * n + 1]

local result = {0}
for i = 1, n do
  local lock = KEYS[3 * i - 2]
  if redis.call('HGET', lock, 'o') == marker then
    local token = redis.call('HGET', lock, 't')
    redis.call('DEL', lock)
    result[1] = result[1] + 1
    result[#result + 1] = i
    result[#result + 1] = token
    -- Only keys with waiters cost a message; waiters in other processes wake on it.
    if redis.call('ZCARD', KEYS[3 * i - 1]) > 0 then redis.call('PUBLISH', channel, ARGV[3 + i]) end
  end
  if index then redis.call('HDEL', index, ARGV[3 + i]) end
end
return result
