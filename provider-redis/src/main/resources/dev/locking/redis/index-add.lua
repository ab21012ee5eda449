-- Records keys an owner now holds in its index (Redis Cluster, where the index is in another
-- slot than the locks, so it cannot change in the acquiring script). KEYS[1] the index.
-- ARGV: lifetime ms the index must at least have, or -1 to keep it forever, then pairs of
-- user key, token. With no pairs it only extends the lifetime of an existing index (renewal).
local ttl = tonumber(ARGV[1])
local existed = redis.call('EXISTS', KEYS[1]) == 1
if not existed and #ARGV == 1 then return 0 end
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if ttl < 0 then
  if #ARGV > 1 then redis.call('PERSIST', KEYS[1]) end
elseif not existed then
  redis.call('PEXPIRE', KEYS[1], ttl)
else
  local current = redis.call('PTTL', KEYS[1])
  if current >= 0 and current < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 0
