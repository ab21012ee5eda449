-- Drops index entries (Redis Cluster) only if they still carry the token that was freed, so an
-- entry rewritten by a newer acquisition of the same owner stays. KEYS[1] the index.
-- ARGV: pairs of user key, token.
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
-- An index left with nothing but its keeper goes, as in release.lua.
if redis.call('HLEN', KEYS[1]) == 1 and redis.call('HEXISTS', KEYS[1], '') == 1 then redis.call('DEL', KEYS[1]) end
return 0
