-- Frees what one call took without its caller learning of it (its reply was lost): each key held
-- by the given owner marker whose lock still carries the call's grant id (acquire.lua writes it
-- when the call takes the key free, and drops it when another call re-enters the key). Any other
-- key is left alone, so running it again, or for a call that took nothing, changes nothing.
-- Per user key i: KEYS[3i-2] lock, KEYS[3i-1] queue, KEYS[3i] waiter deadlines.
-- KEYS[3n+1], when present, is the owner index: the entries of the keys freed are dropped (only
-- those: the owner may hold the others by another call).
-- ARGV: n, owner marker, notification channel, grant id, then the n user keys.
-- Returns the number freed when the index is given (it is then done with); else {number freed,
-- i1, token1, i2, token2, ...} for the keys it freed, for the caller to drop from the index.
local n = tonumber(ARGV[1])
local marker = ARGV[2]
local channel = ARGV[3]
local grant = ARGV[4]
local index = KEYS[3 * n + 1]

local freed, result, fields = 0, {0}, {}
for i = 1, n do
  local lock = KEYS[3 * i - 2]
  local held = redis.call('HMGET', lock, 'o', 'n', 't')
  if held[1] == marker and held[2] == grant then
    redis.call('DEL', lock)
    freed = freed + 1
    fields[#fields + 1] = ARGV[4 + i]
    result[#result + 1] = i
    result[#result + 1] = held[3]
    -- As release.lua: only keys with waiters cost a message; waiters in other processes wake on it.
    if redis.call('ZCARD', KEYS[3 * i - 1]) > 0 then redis.call('PUBLISH', channel, ARGV[4 + i]) end
  end
end
if index then
  for from = 1, #fields, 200 do
    redis.call('HDEL', index, unpack(fields, from, math.min(from + 199, #fields)))
  end
  -- An index left with nothing but its keeper goes, as in release.lua.
  if freed > 0 and redis.call('HLEN', index) == 1 and redis.call('HEXISTS', index, '') == 1 then
    redis.call('DEL', index)
  end
  return freed
end
result[1] = freed
return result
