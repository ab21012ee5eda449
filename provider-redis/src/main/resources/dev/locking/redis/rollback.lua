-- Undoes the keys one slot group of a cross-slot acquire took when a later group was blocked
-- (Redis Cluster only), so the call stays all-or-nothing. A key is freed only if it still
-- carries the token this call got: a concurrent re-entry by the same owner is left alone.
-- Per user key i: KEYS[2i-1] lock, KEYS[2i] queue. ARGV: n, channel, then per key: token, user key.
local n = tonumber(ARGV[1])
local channel = ARGV[2]
for i = 1, n do
  local lock = KEYS[2 * i - 1]
  if redis.call('HGET', lock, 't') == ARGV[1 + 2 * i] then
    redis.call('DEL', lock)
    if redis.call('ZCARD', KEYS[2 * i]) > 0 then redis.call('PUBLISH', channel, ARGV[2 + 2 * i]) end
  end
end
return 0
